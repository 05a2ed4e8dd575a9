"""The cfn-lint rules (pylayer.lint): one validator with the provider.

- On literal properties as CloudFormation sends them, the rules report an error exactly when the
  provider's ``properties.parse`` refuses them (hypothesis, over every property: ShareWith and the
  Booleans, Bytecode and ImportCheck included), with the provider's own reason.
- Values known only at deploy time never cause a finding some deployed value could make wrong.
- cfn-lint, in-process with the rules loaded from the module as ``--append-rules pylayer.lint`` loads
  them, reports exactly the expected findings on tests/data/lint/ and nothing on the good templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.rules import RulesCollection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pylayer.errors import InvalidProperties, PropertyFault
from pylayer.lint import findings
from pylayer.properties import KNOWN, Defaults, parse
from pylayer.target import RUNTIMES
from tests.support.locks import lock_lines

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "lint"
TOKEN = {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider", "ServiceTimeout": 900}


def sent(value: Any) -> Any:
    """A literal template value as CloudFormation sends it: every scalar a string (written here again,
    independently of the rules' own conversion)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return [sent(v) for v in value]
    if isinstance(value, dict):
        return {k: sent(v) for k, v in value.items()}
    return value


def provider_refuses(props: Mapping[str, Any]) -> InvalidProperties | None:
    try:
        parse(sent(dict(props)), Defaults("python3.12", "x86_64"))
    except InvalidProperties as exc:
        return exc
    return None


def rule_errors(props: Mapping[str, Any]) -> list[findings.Finding]:
    return [f for f in findings.check("Layer", {"Properties": {**TOKEN, **props}}) if f.rule in findings.ERRORS]


# --------------------------------------------------------------------------- same verdict, by property

scalars = st.one_of(st.text(max_size=8), st.sampled_from(["", "true", "false", "True", "yes", "auto", "1"]),
                    st.booleans(), st.integers(-2, 2))
runtime = st.sampled_from([*RUNTIMES, "python3.8", "python2.7", "nodejs20.x", ""])
requirement = st.sampled_from(["six==1.16.0", "numpy>=2", "requests[socks]==2.32.3", "-e .", "./pkg",
                               "pkg @ https://x/p.whl", "six; rm -rf /", "", "tomli; python_version < '3.11'",
                               "x" * 301, "attrs===23.1.0", "git+https://x/y"])
account = st.sampled_from(["111122223333", "o-abcdefghij", "*", "12345", "not-an-account", "o-short", ""])


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, scalars, st.lists(scalars, max_size=2), st.dictionaries(st.text(max_size=3), scalars,
                                                                                          max_size=1))


PROPERTIES: dict[str, st.SearchStrategy[Any]] = {
    "LayerName": maybe(st.sampled_from(["deps", "a" * 64, "a" * 65, "my.layer", "Every_thing-1", ""])),
    "Requirements": maybe(st.one_of(st.lists(requirement, max_size=4),
                                    st.lists(requirement, max_size=3).map("\n".join))),
    "Runtime": maybe(runtime),
    "Architecture": maybe(st.sampled_from(["x86_64", "arm64", "ARM64", "aarch64", ""])),
    "CompatibleRuntimes": maybe(st.one_of(st.lists(runtime, max_size=4), runtime)),
    "Description": maybe(st.sampled_from(["", "d", "d" * 200, "d" * 201])),
    "LicenseInfo": maybe(st.sampled_from(["", "MIT", "l" * 512, "l" * 513])),
    "Slim": maybe(st.booleans()),
    "ExcludeRuntimePackages": maybe(st.booleans()),
    "ShareWith": maybe(st.one_of(st.lists(account, max_size=3), account)),
    "AllowPublicShare": maybe(st.booleans()),
    "Bytecode": maybe(st.sampled_from(["auto", "true", "false", "TRUE", "maybe", ""])),
    "ImportCheck": maybe(st.one_of(st.lists(st.sampled_from(["numpy", "google.protobuf", "six; rm", "1x", ""]),
                                            max_size=3), st.just("six"))),
    "Lock": maybe(st.sampled_from([lock_lines(["python3.12"], "x86_64"), lock_lines(["python3.13"], "arm64"),
                                   lock_lines(["python3.12", "python3.13"], "x86_64"),
                                   lock_lines(["python3.12"], "x86_64", ("six==1.16.0", "numpy>=2")),
                                   ["# pylayer lock: python3.12 x86_64"], ["six==1.16.0"], []])),
    "Requirement": scalars,  # a typo: refused by name
}
assert set(PROPERTIES) - {"Requirement"} == set(KNOWN)  # every property the provider knows is generated


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({}, optional=PROPERTIES))
def test_the_rules_report_an_error_exactly_when_the_provider_refuses(props: dict[str, Any]) -> None:
    refusal = provider_refuses(props)
    errors = rule_errors(props)
    assert bool(errors) == bool(refusal), (props, errors, refusal)
    if refusal is not None:
        assert [e.message for e in errors] == [f"Layer: {refusal.reason}"]


# What a Ref could resolve to: values the provider accepts, for each property.
RESOLVED: dict[str, list[Any]] = {
    "LayerName": ["deps"], "Requirements": [["six==1.16.0"]], "Runtime": ["python3.12", "python3.13", ""],
    "Architecture": ["arm64", ""], "CompatibleRuntimes": [["python3.12"], ["python3.13", "python3.12"], []],
    "Description": [""], "LicenseInfo": [""], "Slim": ["false"], "ExcludeRuntimePackages": ["false"],
    "ShareWith": [[], ["*"]], "AllowPublicShare": ["true", "false"], "Bytecode": ["auto"], "ImportCheck": [[]],
    "Lock": [[]],
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({}, optional={k: v for k, v in PROPERTIES.items() if k != "Requirement"}),
       st.sets(st.sampled_from(sorted(KNOWN)), min_size=1, max_size=3))
def test_a_value_known_only_at_deploy_time_is_never_called_wrong(props: dict[str, Any], computed: set[str]) -> None:
    """Some properties become Refs: an error then must hold whatever the Refs resolve to."""
    import itertools

    with_refs = {**props, **{name: {"Ref": f"P{name}"} for name in computed}}
    if not rule_errors(with_refs):
        return
    names = sorted(computed)
    for values in itertools.product(*(RESOLVED[name] for name in names)):
        resolved = {**props, **dict(zip(names, values, strict=True))}
        assert provider_refuses(resolved) is not None, (with_refs, resolved)


def test_a_mixed_list_is_checked_on_its_literal_entries() -> None:
    props = {"LayerName": "a", "Requirements": [{"Fn::Sub": "x==${V}"}, "-e ."]}
    assert [e.message for e in rule_errors(props)] == [
        "Layer: Requirements: -e . is a pip option; only PEP 508 requirements are allowed (the package index is "
        "set on the provider)."]
    # A runtime known only at deploy time may be the one Runtime names: no membership verdict then.
    assert rule_errors({"LayerName": "a", "Requirements": ["six"], "Runtime": "python3.11",
                        "CompatibleRuntimes": [{"Ref": "R"}, "python3.12"]}) == []
    # AllowPublicShare from a parameter may be true: "*" is not refused then.
    assert rule_errors({"LayerName": "a", "Requirements": ["six"], "ShareWith": ["*"],
                        "AllowPublicShare": {"Ref": "Public"}}) == []


def test_warnings_for_unpinned_requirements_and_no_service_timeout() -> None:
    found = findings.check("Layer", {"Properties": {"LayerName": "a", "Requirements": ["requests", "six==1.16.0"]}})
    assert [(f.rule, f.path) for f in found] == [
        ("W9101", ("Properties", "Requirements")), ("W9102", ("Properties",))]
    assert "requests" in found[0].message and "six" not in found[0].message


# --------------------------------------------------------------------------- cfn-lint, in-process

def cfn_lint(path: Path) -> list[tuple[str, str]]:
    rules = RulesCollection()
    rules.create_from_module("pylayer.lint")  # what --append-rules pylayer.lint does
    matches = lint(path.read_text(encoding="utf-8"), rules=rules)
    return sorted((m.rule.id, "/".join(map(str, m.path))) for m in matches if m.rule.id[1:2] == "9")


EXPECTED = {
    "bad-properties.yaml": [
        ("E9101", "Resources/IndexAsProperty/Properties/IndexUrl"),
        ("E9101", "Resources/Misspelt/Properties/Requirement"),
        ("E9102", "Resources/Missing/Properties"),
        ("E9102", "Resources/OnlyComments/Properties/Requirements"),
        ("E9103", "Resources/NameIsAList/Properties/LayerName"),
        ("E9103", "Resources/SlimIsYes/Properties/Slim"),
        ("E9104", "Resources/BadName/Properties/LayerName"),
        ("E9104", "Resources/BytecodeMaybe/Properties/Bytecode"),
        ("E9104", "Resources/ImportAShellCommand/Properties/ImportCheck"),
        ("E9104", "Resources/NotAnAccount/Properties/ShareWith"),
        ("E9104", "Resources/OldRuntime/Properties/CompatibleRuntimes"),
        ("E9104", "Resources/PublicWithoutOptIn/Properties/ShareWith"),
        ("E9104", "Resources/RuntimeNotListed/Properties/Runtime"),
        ("W9102", "Resources/NoTimeout/Properties"),
    ],
    "bad-requirements.yaml": [
        ("E9105", "Resources/Refused/Properties/Requirements"),
        ("E9105", "Resources/RefusedInText/Properties/Requirements"),
        ("W9101", "Resources/Unpinned/Properties/Requirements"),
        ("W9101", "Resources/UnpinnedInText/Properties/Requirements"),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_templates_give_exactly_the_expected_findings(name: str) -> None:
    assert cfn_lint(DATA / name) == sorted(EXPECTED[name])


@pytest.mark.parametrize("path", [DATA / "good.yaml", DATA / "intrinsics.yaml", ROOT / "examples" / "consumer.yaml"])
def test_good_templates_are_clean(path: Path) -> None:
    assert cfn_lint(path) == []


def test_the_eight_rules_load_with_their_severities() -> None:
    rules = RulesCollection()
    rules.create_from_module("pylayer.lint")
    ours = {rule.id: rule for rule in rules if rule.id[1:2] == "9"}
    assert {i: r.severity for i, r in ours.items()} == {
        "E9101": "error", "E9102": "error", "E9103": "error", "E9104": "error", "E9105": "error",
        "E9106": "error", "W9101": "warning", "W9102": "warning"}
    for rule in ours.values():
        assert rule.shortdesc and rule.description and rule.source_url.startswith("https://") and rule.tags


@pytest.mark.parametrize(("kind", "rule"), [
    ("unknown", findings.UNKNOWN_PROPERTY), ("missing", findings.MISSING_PROPERTY), ("type", findings.WRONG_TYPE),
    ("value", findings.BAD_VALUE), ("requirement", findings.BAD_REQUIREMENT)])
def test_the_rule_follows_the_refusals_kind_not_its_wording(kind: PropertyFault, rule: str) -> None:
    # The same words under every kind: rewording a Reason can never move a finding to another rule.
    assert findings.rule_for(InvalidProperties("Slim is required.", prop="Slim", kind=kind)) == rule



def test_a_stale_lock_is_its_own_error_and_a_locked_layer_needs_no_pins() -> None:
    fresh = {"LayerName": "deps", "Requirements": ["six"], "Runtime": "python3.12", "Architecture": "x86_64",
             "Lock": lock_lines(["python3.12"], "x86_64", ("six",))}
    assert [f.rule for f in findings.check("Layer", {"Properties": {**TOKEN, **fresh}})] == []
    stale = {**fresh, "Requirements": ["six", "numpy>=2"]}
    [finding] = findings.check("Layer", {"Properties": {**TOKEN, **stale}})
    assert finding.rule == findings.STALE_LOCK and finding.path == ("Properties", "Lock")
    assert "Lock holds no numpy for python3.12" in finding.message
    unlocked = {k: v for k, v in fresh.items() if k != "Lock"}
    assert [f.rule for f in findings.check("Layer", {"Properties": {**TOKEN, **unlocked}})] == [
        findings.UNPINNED_REQUIREMENT]


def test_a_lock_beside_requirements_known_only_at_deploy_time_is_never_called_stale() -> None:
    props = {"LayerName": "deps", "Requirements": [{"Ref": "Extra"}, "six"], "Runtime": "python3.12",
             "Architecture": "x86_64", "Lock": lock_lines(["python3.12"], "x86_64", ("six",))}
    assert findings.check("Layer", {"Properties": {**TOKEN, **props}}) == []


def test_a_lock_with_an_entry_known_only_at_deploy_time_is_not_judged() -> None:
    lines: list[Any] = [*lock_lines(["python3.12"], "x86_64", ("six",))[:1], {"Ref": "LockedSix"}]
    props = {"LayerName": "deps", "Requirements": ["six"], "Runtime": "python3.12", "Architecture": "x86_64",
             "Lock": lines}
    assert [f for f in findings.check("Layer", {"Properties": {**TOKEN, **props}})
            if f.rule in findings.ERRORS] == []


def test_a_locked_layer_gets_no_unpinned_warning_even_when_its_runtime_is_known_only_at_deploy_time() -> None:
    props = {"LayerName": "deps", "Requirements": ["six"], "Runtime": {"Ref": "Runtime"}, "Architecture": "x86_64",
             "Lock": lock_lines(["python3.12"], "x86_64", ("six",))}
    assert findings.check("Layer", {"Properties": {**TOKEN, **props}}) == []
