"""The Lock written into a template in place: only the Lock's lines change (YAML and JSON). Pure."""

from __future__ import annotations

import json

import pytest

from pylayer.devtools import lockwriter
from pylayer.devtools.templates import CliError, decode_template, plain

LOCK = ["# pylayer lock: python3.12 x86_64, requirements 0123456789abcdef",
        'six==1.17.0 ; python_version == "3.12" --hash=sha256:' + "a" * 64]
YAML = """\
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Stage: {Type: String}
Resources:
  # The team's layer.
  Deps:
    Type: Custom::PythonLayer
    Properties:
      ServiceToken: !ImportValue python-layer-provider-ServiceToken  # from the provider stack
      LayerName: !Sub "${Stage}-deps"
      Requirements:
        - six  # unpinned: the lock holds it

      # Labels only.
      Description: !Ref Stage
  Other:
    Type: AWS::SNS::Topic
"""


def lock_of(text: str, logical_id: str = "Deps") -> object:
    decoded = plain(decode_template(text, "t"))
    assert isinstance(decoded, dict)
    return decoded["Resources"][logical_id]["Properties"].get("Lock")


def test_a_new_lock_goes_after_requirements_and_nothing_else_changes() -> None:
    written = lockwriter.write(YAML, {"Deps": LOCK})

    assert lock_of(written) == LOCK
    added = [line for line in written.splitlines() if line not in YAML.splitlines()]
    assert added == ["      Lock:", *(f"        - '{entry}'" for entry in LOCK)]
    assert written.replace("\n".join(added) + "\n", "") == YAML  # comments, blank lines, !Sub and !Ref kept
    assert written.index("      Lock:") < written.index("      # Labels only.")


def test_an_existing_lock_is_replaced_where_it_stands_and_writing_again_changes_nothing() -> None:
    once = lockwriter.write(YAML, {"Deps": ["# old"]})
    twice = lockwriter.write(once, {"Deps": LOCK})

    assert twice == lockwriter.write(YAML, {"Deps": LOCK})
    assert lockwriter.write(twice, {"Deps": LOCK}) == twice


def test_a_flow_style_lock_and_a_last_property_and_no_final_newline() -> None:
    text = ("Resources:\n  Deps:\n    Type: Custom::PythonLayer\n    Properties:\n      LayerName: d\n"
            "      Requirements: [six]\n      Lock: ['# old', 'x']")
    written = lockwriter.write(text, {"Deps": LOCK})
    assert lock_of(written) == LOCK
    assert written.startswith(text.rsplit("      Lock:", 1)[0])


def test_a_string_with_quotes_survives() -> None:
    odd = [*LOCK, "it's \"quoted\""]
    assert lock_of(lockwriter.write(YAML, {"Deps": odd})) == odd


def test_json_keeps_its_layout_and_gets_the_lock_after_requirements() -> None:
    properties: dict[str, object] = {"ServiceToken": {"Fn::ImportValue": "x"}, "Requirements": ["six"],
                                      "LayerName": "d"}
    text = json.dumps({"Resources": {"Deps": {"Type": "Custom::PythonLayer", "Properties": properties}}},
                      indent=2) + "\n"

    written = lockwriter.write(text, {"Deps": LOCK})

    assert json.loads(written)["Resources"]["Deps"]["Properties"] == {**properties, "Lock": LOCK}
    assert lockwriter.write(written, {"Deps": LOCK}) == written
    assert written.splitlines()[:9] == text.splitlines()[:9]


def test_a_resource_without_requirements_is_refused() -> None:
    with pytest.raises(CliError, match="no Requirements"):
        lockwriter.write("Resources:\n  Deps:\n    Type: Custom::PythonLayer\n    Properties:\n      LayerName: d\n",
                         {"Deps": LOCK})


def test_a_flow_style_properties_map_is_refused_rather_than_broken() -> None:
    text = "Resources:\n  Deps:\n    Type: Custom::PythonLayer\n    Properties: {LayerName: d, Requirements: [six]}\n"
    with pytest.raises(CliError, match="could not be written without changing anything else"):
        lockwriter.write(text, {"Deps": LOCK})


def test_crlf_line_endings_are_kept() -> None:
    text = YAML.replace("\n", "\r\n")
    written = lockwriter.write(text, {"Deps": LOCK})
    assert lock_of(written) == LOCK
    assert "\n" not in written.replace("\r\n", "")


def test_a_requirement_commented_out_stays_with_the_requirements() -> None:
    text = YAML.replace("        - six  # unpinned: the lock holds it\n",
                        "        - six  # unpinned: the lock holds it\n        # - numpy  (not yet)\n")
    written = lockwriter.write(text, {"Deps": LOCK})
    assert written.index("# - numpy  (not yet)") < written.index("      Lock:")
    assert written.index("      Lock:") < written.index("      # Labels only.")
