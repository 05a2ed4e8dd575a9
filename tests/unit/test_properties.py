from __future__ import annotations

import pytest

from pylayer.errors import InvalidProperties
from pylayer.properties import SCHEMA, Defaults, parse, parse_requirements
from pylayer.target import Target

DEFAULTS = Defaults(runtime="python3.13", architecture="arm64")


def refused(props: object) -> str:
    with pytest.raises(InvalidProperties) as caught:
        parse(props, DEFAULTS)
    return caught.value.reason


def test_minimal_properties_take_the_providers_runtime_and_architecture() -> None:
    spec = parse({"LayerName": "deps", "Requirements": ["requests==2.32.3"]}, DEFAULTS)

    assert spec.layer_name == "deps"
    assert spec.requirements == ("requests==2.32.3",)
    assert spec.targets == (Target("python3.13", "arm64"),)
    assert spec.runtimes == ("python3.13",)
    assert (spec.bytecode, spec.import_check) == ("auto", ())
    assert spec.description == spec.license_info == ""


def test_service_token_and_timeout_are_not_properties_of_ours() -> None:
    spec = parse({"ServiceToken": "arn:x", "ServiceTimeout": "900", "LayerName": "a",
                  "Requirements": ["six"]}, DEFAULTS)
    assert spec.layer_name == "a"


def test_requirements_are_canonical_and_sorted() -> None:
    assert parse_requirements(["Six >= 1.0", "attrs[tests]==23.1 ; python_version >= '3.8'"]) == (
        'attrs[tests]==23.1; python_version >= "3.8"', "Six>=1.0")


def test_requirements_as_one_newline_separated_string() -> None:
    text = "# pinned\nsix==1.16.0  # why\n\n  attrs==23.1.0\n"
    assert parse_requirements(text) == ("attrs==23.1.0", "six==1.16.0")


def test_the_same_requirement_twice_counts_once() -> None:
    assert parse_requirements(["six==1.16.0", "six == 1.16.0"]) == ("six==1.16.0",)


@pytest.mark.parametrize(("entry", "expected"), [
    ("--index-url http://x", "is a pip option"),
    ("-e .", "is a pip option"),
    ("-r requirements.txt", "is a pip option"),
    ("--extra-index-url=https://evil", "is a pip option"),
    ("./pkg", "is a path or URL"),
    ("/abs/pkg.whl", "is a path or URL"),
    ("~/pkg", "is a path or URL"),
    ("C:\\pkg", "is a path or URL"),
    ("https://example.com/p.whl", "is a path or URL"),
    ("git+https://github.com/x/y", "is a path or URL"),
    ("file:///tmp/p", "is a path or URL"),
    ("pkg @ https://example.com/p.whl", "direct URL reference"),
    ("six; rm -rf /", "not a valid PEP 508"),
    ("six && curl x", "not a valid PEP 508"),
    ("six | sh", "not a valid PEP 508"),
    ("$(reboot)", "not a valid PEP 508"),
    ("`id`", "not a valid PEP 508"),
    ("", "an entry is empty"),
    ("x" * 301, "longer than 300"),
    ("planted-1.0-py3-none-any.whl", "names a file (.whl, .tar.gz, .zip, .tgz), not a project"),
    ("x-1.0.tar.gz", "names a file"),
    ("x-1.0.ZIP", "names a file"),
    ("x.tgz", "names a file"),
])
def test_requirement_entries_that_are_refused(entry: str, expected: str) -> None:
    reason = refused({"LayerName": "a", "Requirements": ["six", entry]})
    assert expected in reason
    assert len(reason) < 250


@pytest.mark.parametrize(("props", "expected"), [
    ({"LayerName": "a"}, "Requirements is required."),
    ({"LayerName": "a", "Requirements": []}, "Requirements is required."),
    ({"LayerName": "a", "Requirements": "# only a comment"}, "Requirements is required."),
    ({"LayerName": "a", "Requirements": {"six": "1"}}, "must be a list of PEP 508"),
    ({"LayerName": "a", "Requirements": [["six"]]}, "every entry must be a string"),
    ({"LayerName": "a", "Requirements": ["six"] * 201}, "the limit is 200"),
    ({"Requirements": ["six"]}, "LayerName is required."),
    ({"LayerName": ["a"], "Requirements": ["six"]}, "LayerName must be a string, got list."),
    ({"LayerName": "a" * 65, "Requirements": ["six"]}, "use 1-64 letters"),
    ({"LayerName": "a.b", "Requirements": ["six"]}, "LayerName a.b is invalid"),
    ({"LayerName": "a", "Requirements": ["six"], "Runtime": "python3.8"}, "Runtime python3.8 is not supported"),
    ({"LayerName": "a", "Requirements": ["six"], "Runtime": "nodejs20.x"}, "use one of python3.9"),
    ({"LayerName": "a", "Requirements": ["six"], "Architecture": "ARM64"}, "Architecture ARM64 is not"),
    ({"LayerName": "a", "Requirements": ["six"], "CompatibleRuntimes": ["java21"]}, "java21 is not supported"),
    ({"LayerName": "a", "Requirements": ["six"], "CompatibleRuntimes": {"a": 1}}, "must be a list of runtime"),
    ({"LayerName": "a", "Requirements": ["six"], "Description": "d" * 201}, "the limit is 200"),
    ({"LayerName": "a", "Requirements": ["six"], "LicenseInfo": "l" * 513}, "the limit is 512"),
    ({"LayerName": "a", "Requirements": ["six"], "Layername": "b"}, "Unknown properties: Layername."),
    ("LayerName: a", "ResourceProperties must be a map"),
    (None, "ResourceProperties must be a map"),
])
def test_invalid_properties_have_a_clear_reason(props: object, expected: str) -> None:
    assert expected in refused(props)


def test_compatible_runtimes_accepts_a_single_string_and_drops_duplicates() -> None:
    spec = parse({"LayerName": "a", "Requirements": ["six"], "Runtime": "python3.12",
                  "CompatibleRuntimes": "python3.12"}, DEFAULTS)
    assert spec.runtimes == ("python3.12",)
    spec = parse({"LayerName": "a", "Requirements": ["six"],
                  "CompatibleRuntimes": ["python3.13", "python3.12", "python3.13"]}, DEFAULTS)
    assert spec.runtimes == ("python3.13", "python3.12")
    assert [t.runtime for t in spec.targets] == ["python3.12", "python3.13"]  # built oldest first
    assert spec.describe() == "python3.12, python3.13 arm64"


def test_every_listed_runtime_is_a_target_and_runtime_must_be_one_of_them() -> None:
    spec = parse({"LayerName": "a", "Requirements": ["six"], "Runtime": "python3.12", "Architecture": "x86_64",
                  "CompatibleRuntimes": ["python3.11", "python3.12", "python3.13"]}, DEFAULTS)
    assert spec.targets == tuple(Target(f"python3.{m}", "x86_64") for m in (11, 12, 13))
    reason = refused({"LayerName": "a", "Requirements": ["six"], "Runtime": "python3.10",
                      "CompatibleRuntimes": ["python3.11", "python3.12"]})
    assert reason == ("Runtime python3.10 is not among CompatibleRuntimes (python3.11, python3.12): "
                      "add it there, or leave Runtime out.")


@pytest.mark.parametrize(("value", "expected"), [("auto", "auto"), ("TRUE", "true"), ("false", "false"),
                                                 (True, "true"), ("", "auto")])
def test_bytecode_is_auto_true_or_false(value: object, expected: str) -> None:
    assert parse({"LayerName": "a", "Requirements": ["six"], "Bytecode": value}, DEFAULTS).bytecode == expected


def test_import_check_names_modules() -> None:
    spec = parse({"LayerName": "a", "Requirements": ["six"], "ImportCheck": ["numpy", "google.protobuf", "numpy"]},
                 DEFAULTS)
    assert spec.import_check == ("numpy", "google.protobuf")
    assert parse({"LayerName": "a", "Requirements": ["six"], "ImportCheck": "six"}, DEFAULTS).import_check == ("six",)


@pytest.mark.parametrize(("props", "expected", "prop"), [
    ({"Bytecode": "yes"}, "Bytecode must be auto, true or false, got yes.", "Bytecode"),
    ({"ImportCheck": ["numpy; rm -rf /"]}, "ImportCheck: numpy; rm -rf / is not a module name", "ImportCheck"),
    ({"ImportCheck": ["x"] * 21}, "ImportCheck holds 21 modules; the limit is 20.", "ImportCheck"),
    ({"ImportCheck": {"a": 1}}, "ImportCheck must be a list of module names.", "ImportCheck"),
    ({"CompatibleRuntimes": ["python3.8"]}, "CompatibleRuntimes: python3.8 is not supported", "CompatibleRuntimes"),
    ({"Requirements": ["-e ."]}, "Requirements: -e . is a pip option", "Requirements"),
    ({"Nope": "1"}, "Unknown properties: Nope.", "Nope"),
])
def test_a_refusal_names_the_property_at_fault(props: dict[str, object], expected: str, prop: str) -> None:
    with pytest.raises(InvalidProperties) as caught:
        parse({"LayerName": "a", "Requirements": ["six"], **props}, DEFAULTS)
    assert caught.value.reason.startswith(expected)
    assert caught.value.prop == prop


def test_a_quoted_user_value_cannot_flood_the_reason() -> None:
    reason = refused({"LayerName": "bad name " * 500, "Requirements": ["six"]})
    assert len(reason) < 200 and "..." in reason


def test_the_schema_lists_every_property_the_parser_knows() -> None:
    assert [p.name for p in SCHEMA] == ["LayerName", "Requirements", "Runtime", "Architecture",
                                        "CompatibleRuntimes", "Description", "LicenseInfo", "Slim",
                                        "ExcludeRuntimePackages", "ShareWith", "AllowPublicShare", "Bytecode",
                                        "ImportCheck", "Lock"]
    assert [p.name for p in SCHEMA if p.required] == ["LayerName", "Requirements"]


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("True", True), ("false", False), ("", False),
                                                 (True, True), (False, False)])
def test_booleans_arrive_as_strings_and_false_is_false(value: object, expected: bool) -> None:
    spec = parse({"LayerName": "a", "Requirements": ["six"], "Slim": value, "ExcludeRuntimePackages": value},
                 DEFAULTS)
    assert spec.slim is expected
    assert spec.exclude_runtime_packages is expected


@pytest.mark.parametrize("value", ["yes", "1", ["true"], {"a": 1}])
def test_other_boolean_values_are_refused(value: object) -> None:
    assert "Slim must be true or false" in refused({"LayerName": "a", "Requirements": ["six"], "Slim": value})


def test_a_marker_value_packaging_cannot_write_back_is_refused_cleanly() -> None:
    assert "not a valid PEP 508" in refused({"LayerName": "a", "Requirements": ["six==1; os_name == '\x27\x22'"]})


def test_share_with_accounts_and_organizations_sorted_and_deduplicated() -> None:
    spec = parse({"LayerName": "a", "Requirements": ["six"],
                  "ShareWith": ["o-abcdefghij", "111122223333", "111122223333"]}, DEFAULTS)
    assert spec.share_with == ("111122223333", "o-abcdefghij")
    assert parse({"LayerName": "a", "Requirements": ["six"], "ShareWith": "111122223333"},
                 DEFAULTS).share_with == ("111122223333",)


def test_sharing_with_everyone_needs_the_explicit_opt_in() -> None:
    props = {"LayerName": "a", "Requirements": ["six"], "ShareWith": ["*"]}
    assert "set AllowPublicShare to true to confirm" in refused(props)
    assert parse({**props, "AllowPublicShare": "true"}, DEFAULTS).share_with == ("*",)


@pytest.mark.parametrize(("value", "expected"), [
    (["12345"], "is not a 12-digit account id"),
    (["o-short"], "is not a 12-digit account id"),
    (["arn:aws:iam::111122223333:root"], "is not a 12-digit account id"),
    ({"a": 1}, "ShareWith must be a list"),
    ([str(100000000000 + i) for i in range(21)], "the limit is 20"),
])
def test_bad_share_with_entries(value: object, expected: str) -> None:
    assert expected in refused({"LayerName": "a", "Requirements": ["six"], "ShareWith": value})


@pytest.mark.parametrize(("props", "hint"), [({"Requirement": ["six"]}, " Did you mean Requirements? "),
                                             ({"layername": "a"}, " Did you mean LayerName? "),
                                             ({"IndexUrl": "https://x"}, None), ({"Nope": "1"}, None)])
def test_an_unknown_property_near_a_known_one_names_it(props: dict[str, object], hint: str | None) -> None:
    with pytest.raises(InvalidProperties) as caught:
        parse({"LayerName": "a", "Requirements": ["six"], **props}, Defaults("python3.12", "x86_64"))
    assert (hint in caught.value.reason) if hint else ("Did you mean" not in caught.value.reason)
