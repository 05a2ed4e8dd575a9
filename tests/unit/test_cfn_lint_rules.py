"""The cfn-lint rules shipped in cfn-lint-rules/ (``cfn-lint --append-rules cfn-lint-rules``).

Three things are proved here:
- the rules' data (python_layer_schema.json) is exactly what pylayer.lintschema
  generates from the provider's own validation, so the two cannot drift;
- real cfn-lint, run as users run it, reports exactly the expected rule ids on
  the templates of tests/data/lint/ and nothing on the good ones, also with the
  rules folder copied out of the repo and ``packaging`` not importable;
- the rules refuse what the provider refuses: for property maps as CloudFormation
  sends them, the rules report an error exactly when ``properties.parse`` raises
  (examples and hypothesis), and the PEP 508 fallback parser agrees with packaging.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.requirements import InvalidRequirement, Requirement

from pylayer import lintschema
from pylayer.errors import InvalidProperties
from pylayer.properties import Defaults, parse, parse_requirements

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "cfn-lint-rules"
SCHEMA_FILE = RULES / "python_layer_schema.json"
DATA = ROOT / "tests" / "data" / "lint"
CONSUMER = ROOT / "examples" / "consumer.yaml"
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
DEFAULTS = Defaults(runtime="python3.13", architecture="arm64")
TOKEN = {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider", "ServiceTimeout": "900"}


def load_rules(name: str = "python_layer_rules_under_test") -> ModuleType:
    """The rules module, loaded from its file the way cfn-lint loads it (not as a package)."""
    spec = importlib.util.spec_from_file_location(name, RULES / "python_layer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rules = load_rules()


def errors(props: Mapping[str, Any]) -> list[str]:
    """The error messages of the rules for one resource with these properties."""
    return [f.message for f in rules.check_resource("Layer", {"Properties": props}) if f.rule.startswith("E")]


def findings(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(f.rule, "/".join(map(str, f.path))) for f in rules.check_resource("Layer", {"Properties": props})]


def handler_refuses(props: Mapping[str, Any]) -> bool:
    try:
        parse(dict(props), DEFAULTS)
    except InvalidProperties:
        return True
    return False


def handler_refuses_requirement(text: str) -> bool:
    try:
        parse_requirements([text])
    # ValueError: str(Requirement) of a marker value holding both quote characters; the
    # provider answers FAILED (an internal error) so the rules refuse it too.
    except (InvalidProperties, ValueError):
        return True
    return False


# --------------------------------------------------------------------------------------
# One source of truth
# --------------------------------------------------------------------------------------
def test_the_committed_schema_is_what_the_generator_produces() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == lintschema.render(), (
        f"cfn-lint-rules/python_layer_schema.json is stale: run `{lintschema.COMMAND}`"
    )


def test_the_generator_runs_as_documented() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "handler")}
    out = subprocess.run([sys.executable, "-m", "pylayer.lintschema"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True, timeout=60).stdout
    assert out == SCHEMA_FILE.read_text(encoding="utf-8")


def test_the_schema_names_every_property_the_provider_knows() -> None:
    from pylayer.properties import IGNORED, SCHEMA

    data = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert [p["name"] for p in data["properties"]] == [p.name for p in SCHEMA]
    assert set(data["ignored_properties"]) == IGNORED
    assert data["resource_type"] == "Custom::PythonLayer"


def test_the_rules_know_every_property_type_of_the_schema() -> None:
    # A new type (say Integer) needs code in the rules, not only data.
    assert {p["type"] for p in rules.SCHEMA["properties"]} <= rules.KNOWN_TYPES


def test_the_compatible_runtimes_limit_is_the_providers() -> None:
    limit = lintschema.MAX_COMPATIBLE_RUNTIMES
    base = {"LayerName": "a", "Requirements": ["six==1.16.0"]}
    assert not handler_refuses({**base, "CompatibleRuntimes": ["python3.12"] * limit})
    assert handler_refuses({**base, "CompatibleRuntimes": ["python3.12"] * (limit + 1)})
    assert errors({**base, "CompatibleRuntimes": ["python3.12"] * (limit + 1)})


# --------------------------------------------------------------------------------------
# Real cfn-lint
# --------------------------------------------------------------------------------------
GOOD = [CONSUMER, DATA / "good.yaml", DATA / "intrinsics.yaml"]

EXPECTED: dict[str, list[tuple[str, str]]] = {
    "bad-properties.yaml": [
        ("E9101", "Resources/Misspelt/Properties/Requirement"),
        ("E9101", "Resources/Misspelt/Properties/IndexUrl"),
        ("E9102", "Resources/Missing/Properties"),
        ("E9102", "Resources/Missing/Properties/Requirements"),
        ("E9102", "Resources/OnlyComments/Properties/LayerName"),
        ("E9102", "Resources/OnlyComments/Properties/Requirements"),
        ("E9103", "Resources/WrongTypes/Properties/LayerName"),
        ("E9103", "Resources/WrongTypes/Properties/Requirements"),
        ("E9103", "Resources/WrongTypes/Properties/Runtime"),
        ("E9103", "Resources/WrongTypes/Properties/CompatibleRuntimes/0"),
        ("E9103", "Resources/WrongTypes/Properties/Slim"),
        ("E9103", "Resources/WrongTypes/Properties/ExcludeRuntimePackages"),
        ("E9104", "Resources/BadValues/Properties/LayerName"),
        ("E9104", "Resources/BadValues/Properties/Runtime"),
        ("E9104", "Resources/BadValues/Properties/Architecture"),
        ("E9104", "Resources/BadValues/Properties/CompatibleRuntimes/1"),
        ("E9104", "Resources/BadValues/Properties/CompatibleRuntimes/2"),
        ("E9104", "Resources/BadValues/Properties/Description"),
        ("E9104", "Resources/LongLicenseAndName/Properties/LayerName"),
        ("E9104", "Resources/LongLicenseAndName/Properties/CompatibleRuntimes"),
        ("E9104", "Resources/LongLicenseAndName/Properties/LicenseInfo"),
        ("W9102", "Resources/NoTimeout/Properties"),
    ],
    "bad-requirements.yaml": [
        *[("E9105", f"Resources/Refused/Properties/Requirements/{i}") for i in range(1, 13)],
        ("E9105", "Resources/RefusedInText/Properties/Requirements"),
        ("E9105", "Resources/RefusedInText/Properties/Requirements"),
        *[("W9101", f"Resources/Unpinned/Properties/Requirements/{i}") for i in range(1, 6)],
        ("W9101", "Resources/UnpinnedInText/Properties/Requirements"),
    ],
}
BAD = [DATA / name for name in EXPECTED]


def cfn_lint(templates: list[Path], *, cwd: Path = ROOT, rules_dir: str | None = "cfn-lint-rules",
             command: list[str] | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Run cfn-lint as users do; returns its exit code and its JSON findings.

    ``--`` ends --append-rules' list: without it cfn-lint would read the templates as rule modules.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the provider is not importable
    rules_args = ["--append-rules", rules_dir] if rules_dir else []
    argv = [*(command or [str(CFN_LINT)]), "--format", "json", *rules_args, "--", *map(str, templates)]
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.stderr == "", done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    return done.returncode, found


def by_template(found: list[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    result: dict[str, list[tuple[str, str]]] = {}
    for match in found:
        key = (match["Rule"]["Id"], "/".join(map(str, match["Location"]["Path"])))
        result.setdefault(Path(match["Filename"]).name, []).append(key)
    return {name: sorted(keys) for name, keys in result.items()}


EXPECTED_SORTED = {name: sorted(keys) for name, keys in EXPECTED.items()}


def test_good_templates_are_clean_with_the_documented_command() -> None:
    code, found = cfn_lint([p.relative_to(ROOT) for p in GOOD])
    assert found == []
    assert code == 0


@pytest.fixture(scope="module")
def bad_run() -> tuple[int, list[dict[str, Any]]]:
    return cfn_lint(BAD)


def test_bad_templates_give_exactly_the_expected_findings(bad_run: tuple[int, list[dict[str, Any]]]) -> None:
    code, found = bad_run
    assert by_template(found) == EXPECTED_SORTED
    assert code == 2 | 4  # errors and warnings


def test_every_rule_is_exercised_and_has_its_severity(bad_run: tuple[int, list[dict[str, Any]]]) -> None:
    _, found = bad_run
    levels = {m["Rule"]["Id"]: m["Level"] for m in found}
    ids = {"E9101", "E9102", "E9103", "E9104", "E9105", "W9101", "W9102"}
    assert set(levels) == ids
    assert all(levels[i] == ("Error" if i[0] == "E" else "Warning") for i in ids)


def test_messages_name_the_resource_and_the_property(bad_run: tuple[int, list[dict[str, Any]]]) -> None:
    _, found = bad_run
    for match in found:
        path = match["Location"]["Path"]
        assert match["Message"].startswith(f"{path[1]}: "), match
        if len(path) > 3:
            assert str(path[3]) in match["Message"], match
        assert len(match["Message"]) < 300, match
    messages = {m["Message"] for m in found}
    assert "Misspelt: Requirement is not a property of Custom::PythonLayer (did you mean Requirements?)." in messages
    assert ("Refused: Requirements[7] 'pkg @ https://example.com/p.whl' is a direct URL reference; "
            "only packages from the index are allowed.") in messages
    assert any(m.startswith("RefusedInText: Requirements line 3 '-e .' is a pip option") for m in messages)


def test_warnings_alone_exit_4(tmp_path: Path) -> None:
    template = tmp_path / "warn.yaml"
    template.write_text(
        "Resources:\n"
        "  Layer:\n"
        "    Type: Custom::PythonLayer\n"
        "    Properties:\n"
        "      ServiceToken: arn:aws:lambda:us-east-1:123456789012:function:provider\n"
        "      LayerName: deps\n"
        "      Requirements: [requests]\n",
        encoding="utf-8",
    )
    code, found = cfn_lint([template])
    assert sorted(m["Rule"]["Id"] for m in found) == ["W9101", "W9102"]
    assert code == 4


def test_the_rules_folder_works_alone_and_without_packaging(tmp_path: Path) -> None:
    """Copied out of the repo and named in .cfnlintrc; provider and packaging not importable: same findings."""
    shutil.copytree(RULES, tmp_path / "lint-rules", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / ".cfnlintrc").write_text("append_rules:\n  - lint-rules\n", encoding="utf-8")
    blocked = (
        "import sys\n"
        "sys.modules['packaging'] = None\n"  # any import of packaging now raises ImportError
        "sys.modules['pylayer'] = None\n"
        "from cfnlint.runner import main\n"
        "sys.argv[0] = 'cfn-lint'\n"
        "main()\n"
    )
    code, found = cfn_lint(BAD + GOOD, cwd=tmp_path, rules_dir=None, command=[sys.executable, "-c", blocked])
    assert by_template(found) == EXPECTED_SORTED
    assert code == 2 | 4


def test_cfn_lint_loads_exactly_the_seven_rules() -> None:
    from cfnlint.core import get_rules

    loaded = get_rules([str(RULES)], [], ["I"])
    ours = {rule_id: rule for rule_id, rule in loaded.rules.items() if rule_id[1:2] == "9"}
    assert {i: r.severity for i, r in ours.items()} == {
        "E9101": "error", "E9102": "error", "E9103": "error", "E9104": "error", "E9105": "error",
        "W9101": "warning", "W9102": "warning",
    }
    for rule in ours.values():
        assert rule.shortdesc and rule.description and rule.source_url.startswith("https://") and rule.tags


# --------------------------------------------------------------------------------------
# The rules refuse what the provider refuses
# --------------------------------------------------------------------------------------
def as_sent(value: Any) -> Any:
    """A literal template value as CloudFormation sends it to the provider: scalars become strings."""
    if isinstance(value, Mapping):
        return {str(k): as_sent(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_sent(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return str(value) if isinstance(value, str) else value


def has_function(value: Any) -> bool:
    if isinstance(value, Mapping):
        return bool(rules.is_function(value)) or any(has_function(v) for v in value.values())
    if isinstance(value, list):
        return any(has_function(v) for v in value)
    return False


def template_properties() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in [*GOOD, *BAD]:
        for name, resource in cfn_yaml.load(str(path))["Resources"].items():
            if resource["Type"] != "Custom::PythonLayer":
                continue
            props = {k: v for k, v in resource.get("Properties", {}).items() if k not in TOKEN}
            literal = {k: v for k, v in props.items() if not has_function(v)}
            if literal == props:
                yield f"{path.name}:{name}", as_sent(props)


@pytest.mark.parametrize(("resource", "props"), list(template_properties()))
def test_the_templates_resources_are_refused_by_both_or_neither(resource: str, props: dict[str, Any]) -> None:
    assert handler_refuses(props) == bool(errors(props)), errors(props)


@pytest.mark.parametrize(("props", "expected"), [
    ({"LayerName": "a", "Requirements": ["six==1.16.0"], **TOKEN}, []),
    ({"LayerName": "a", "Requirements": ["six==1.16.0"]}, [("W9102", "Properties")]),
    ({"LayerName": "a", "Requirements": [f"p{i}==1" for i in range(201)], **TOKEN},
     [("E9104", "Properties/Requirements")]),
    ({"LayerName": "a", "Requirements": ["six==1.16.0", {"Ref": "Extra"}], **TOKEN}, []),
    ({"LayerName": "a", "Requirements": [{"Fn::Sub": "x"}, "-e ."], **TOKEN}, [("E9105", "Properties/Requirements/1")]),
    ({"LayerName": {"Fn::Sub": "${AWS::StackName}"}, "Requirements": {"Ref": "Reqs"}, **TOKEN}, []),
    ({"Fn::Transform": {"Name": "AWS::Include"}}, []),
    ({"LayerName": "a", "Requirements": ["six==1.16.0"], "Slim": "TRUE ", **TOKEN}, []),
    ({"LayerName": "a", "Requirements": ["six==1.16.0"], "Runtime": None, **TOKEN}, []),
    ({"LayerName": None, "Requirements": ["six==1.16.0"], **TOKEN}, [("E9102", "Properties")]),
])
def test_resource_findings(props: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert findings(props) == expected


def test_a_resource_without_properties_misses_both_required_ones_and_the_timeout() -> None:
    found = [(f.rule, f.path) for f in rules.check_resource("Layer", {"Type": "Custom::PythonLayer"})]
    assert found == [("E9102", ()), ("E9102", ()), ("W9102", ())]


def test_properties_computed_at_deploy_time_are_not_checked() -> None:
    assert rules.check_resource("Layer", {"Properties": {"Fn::If": ["C", {}, {"Ref": "AWS::NoValue"}]}}) == []


GOOD_ENTRIES = ["six==1.16.0", "requests>=2", "attrs===23.1.0", "numpy==2.*", "Pillow (==11.0.0)",
                "tomli==2.0.1; python_version < '3.11'", "requests[socks]==2.32.3", "  six  "]
BAD_ENTRIES = ["-r x.txt", "./pkg", "https://x/y.whl", "pkg @ https://x/y.whl", "a; rm -rf /", "numpy=2",
               "", "   ", "x" * 301, "# comment"]
RUNTIMES = [str(r) for r in rules.PROPERTIES["Runtime"]["enum"]]
BOOLEANS = [p["name"] for p in rules.SCHEMA["properties"] if p["type"] == "Boolean"]
WRONG_SHAPES: list[Any] = [["x"], {"Name": "x"}, []]


@st.composite
def pick(draw: st.DrawFn, good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> Any:
    """Mostly a good value, so that one bad value is often the only one."""
    return draw(bad) if draw(st.integers(0, 7)) == 0 else draw(good)


def requirement_values() -> st.SearchStrategy[Any]:
    good_list = st.lists(st.sampled_from(GOOD_ENTRIES), min_size=1, max_size=4)
    good_text = st.lists(st.sampled_from([*GOOD_ENTRIES, "# comment", "six==1.16.0  # why", ""]),
                         max_size=4).map("\n".join).filter(lambda t: any(e in t for e in GOOD_ENTRIES))
    bad = st.one_of(
        st.tuples(good_list, st.sampled_from(BAD_ENTRIES)).map(lambda pair: [*pair[0], pair[1]]),
        st.sampled_from(["", "# only a comment", "-e ."]),
        st.sampled_from([[], {"six": "1.16.0"}, [["six==1.16.0"]], [f"p{i}==1" for i in range(201)]]),
    )
    return pick(st.one_of(good_list, good_text), bad)


def text_values(good: list[str], bad: list[Any]) -> st.SearchStrategy[Any]:
    return pick(st.sampled_from(good), st.sampled_from([*bad, *WRONG_SHAPES]))


@st.composite
def property_maps(draw: st.DrawFn) -> dict[str, Any]:
    runtimes_good = st.one_of(st.lists(st.sampled_from(RUNTIMES), max_size=15), st.sampled_from([*RUNTIMES, ""]))
    runtimes_bad = st.one_of(
        st.lists(st.sampled_from(RUNTIMES), min_size=16, max_size=17),
        st.lists(st.sampled_from([*RUNTIMES, "python3.8", "nodejs20.x", ""]), min_size=1, max_size=3),
        st.sampled_from(["python2.7", {"Name": "x"}, [["python3.12"]]]),
    )
    choices: dict[str, st.SearchStrategy[Any]] = {
        "LayerName": text_values(["deps", "a" * 64, "Layer_1-2", "1"], ["a" * 65, "my layer", "", "x.y"]),
        "Requirements": requirement_values(),
        "Runtime": text_values([*RUNTIMES, ""], ["python3.8", "Python3.12", "nodejs20.x"]),
        "Architecture": text_values(["x86_64", "arm64", ""], ["ARM64", "aarch64", "amd64"]),
        "CompatibleRuntimes": pick(runtimes_good, runtimes_bad),
        "Description": text_values(["", "d", "d" * 200], ["d" * 201]),
        "LicenseInfo": text_values(["", "MIT", "l" * 512], ["l" * 513]),
        **{name: text_values(["true", "false", "True", " FALSE ", ""], ["yes", "1", "0", "on"])
           for name in BOOLEANS},
    }
    props = dict(TOKEN)
    for name, strategy in choices.items():
        required = rules.PROPERTIES[name]["required"]
        if draw(st.integers(0, 19)) > 0 if required else draw(st.booleans()):
            props[name] = draw(strategy)
    if draw(st.integers(0, 19)) == 0:
        props[draw(st.sampled_from(["Requirement", "IndexUrl", "layerName"]))] = "x"
    return props


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(property_maps())
def test_the_rules_report_an_error_exactly_when_the_provider_refuses(props: dict[str, Any]) -> None:
    assert handler_refuses(props) == bool(errors(props)), errors(props)


# --------------------------------------------------------------------------------------
# Requirements: the provider's checks, and the PEP 508 fallback parser
# --------------------------------------------------------------------------------------
REQUIREMENTS = [
    "six", "six==1.16.0", "Six >= 1.0", "a-b.c_d==1", "a_", "a-", "a.", "-a", "_a", "1a==1",
    "requests[socks]==2.32.3", "requests[socks, security]>=2", "requests[]", "requests[socks security]",
    "requests[socks,]", "requests [socks] == 2", "pkg (==1.0)", "pkg(==1.0)", "pkg (==1.0", "pkg ==1.0)",
    "pkg==1.0,<2", "pkg>=1.0,", "pkg>=1.0,,<2", "pkg==1.0.*", "pkg==1.0.*.1", "pkg>=1.0.*", "pkg~=1",
    "pkg~=1.0", "pkg~=1.0.*", "pkg===1.0", "pkg===abc", "pkg===", "pkg=== 1.0", "pkg===1,2",
    "pkg==1.0+local", "pkg>=1.0+local", "pkg==1.0+LOCAL", "pkg==v1.0", "pkg==1!2.0", "pkg==1.0a1",
    "pkg==1.0.post1.dev2", "pkg==1.0-1", "pkg==1.0rc", "pkg<1.0a", "pkg==1.0abc", "pkg == 1 .0",
    "pkg=1.0", "pkg==", "pkg==x", "pkg>=1;", "pkg; python_version<'3.11'", "pkg;python_version<'3.11'",
    'pkg; python_version < "3.11" and os_name == "posix"', "pkg; (python_version < '3' or extra == 'x')",
    "pkg; python_version < '3' or", "pkg; python_version", "pkg; foo == 'x'", "pkg; 'a' in 'abc'",
    "pkg; 'a' not in 'abc'", "pkg; 'a' notin 'abc'", "pkg; 'a' not  in 'abc'", "pkg; platform.machine == 'x'",
    "pkg; python_version <> '3'", "pkg; python_version == '3' and", "pkg; ((os_name == 'nt'))",
    "pkg; (os_name == 'nt'", "pkg; implementation_name=='cpython'and os_name=='nt'",
    "pkg; os_name == 'nt' && x", "pkg; os_name == \"it's\"", "pkg; os_name == '\\q'",
    "pkg; dependency_groups == 'x'", "pkg; extras == 'x'", r"pkg; os_name == '\x27\x22'", r"pkg; os_name == '\x27'",
    "pkg @ https://x/y.whl", "pkg@https://x/y.whl", "pkg @ https://x/y.whl ; os_name == 'nt'",
    "pkg @ https://x/y.whl; os_name == 'nt'", "pkg @ ", "pkg @ https://x/y.whl extra",
    "-e .", "--index-url x", "./x", "/x", "~/x", "C:\\x", "c:/x", "\\\\server\\x", "http://x", "file:x",
    "svn+ssh://x", "requests==2.32.3 && curl x", "a; rm -rf /", "a | b", "a`b`", "a $(b)", "a\tb",
    "a==1\t; os_name=='nt'", "", " ", "a" * 300, "a" * 301, "é", "aé", "pkg==1.0ſ", "pkg==1.0poſt1",
    "pkg~=1.0poſt1", "pkg>=1.0pre\u212a",
]


@pytest.mark.filterwarnings("ignore:invalid escape sequence")
@pytest.mark.parametrize("text", REQUIREMENTS)
def test_requirement_verdicts_match_the_provider(text: str) -> None:
    assert (rules.check_requirement(text).problem != "") == handler_refuses_requirement(text)


@pytest.mark.filterwarnings("ignore:invalid escape sequence")
@pytest.mark.parametrize("text", REQUIREMENTS)
def test_the_fallback_parser_agrees_with_packaging(text: str) -> None:
    assert fallback(text) == packaging_parse(text)


def fallback(text: str) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    try:
        parsed = rules.parse_requirement_fallback(text)
    except rules.InvalidRequirementText:
        return None
    return str(parsed.url), tuple(sorted(parsed.specifiers))


def packaging_parse(text: str) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    try:
        requirement = Requirement(text)
        str(requirement)  # as the provider does
    except (InvalidRequirement, ValueError):
        return None
    return requirement.url or "", tuple(sorted((s.operator, s.version) for s in requirement.specifier))


PIECES = st.sampled_from([
    "pkg", "a", "1", "-", ".", "_", " ", "\t", "[", "]", ",", "(", ")", ";", "@", "==", "===", "~=", "!=",
    "<=", ">=", "<", ">", "=", "1", "1.0", ".*", "+local", "a1", "rc", "post", "dev", "v", "!", "'x'", '"3"',
    "python_version", "os_name", "extra", "and", "or", "not", "in", "https://x", "#", "$", "ſ",
])


@settings(max_examples=1500, deadline=None)
@given(st.lists(PIECES, min_size=1, max_size=10).map("".join))
def test_the_fallback_parser_agrees_with_packaging_on_generated_text(text: str) -> None:
    assert fallback(text) == packaging_parse(text)


@settings(max_examples=500, deadline=None)
@given(st.lists(PIECES, min_size=1, max_size=10).map("".join))
def test_requirement_verdicts_match_the_provider_on_generated_text(text: str) -> None:
    assert (rules.check_requirement(text).problem != "") == handler_refuses_requirement(text)


@pytest.mark.parametrize(("text", "pinned"), [
    ("six==1.16.0", True), ("attrs===23.1.0", True), ("a>=1,==1.5", True), ("a==1.0; os_name == 'nt'", True),
    ("a (==1.0)", True), ("a[x]==1", True), ("a", False), ("a>=1", False), ("a~=1.0", False),
    ("a==1.*", False), ("a!=1", False), ("a<2; os_name == 'nt'", False),
])
def test_pinned_means_one_exact_version(text: str, pinned: bool) -> None:
    assert rules.check_requirement(text) == (rules.Verdict("", pinned))
    assert rules.check_requirement(text, rules.parse_requirement_fallback) == rules.Verdict("", pinned)


def test_without_packaging_the_rules_use_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    assert rules.USES_PACKAGING
    monkeypatch.setitem(sys.modules, "packaging", None)
    monkeypatch.setitem(sys.modules, "packaging.requirements", None)
    without = load_rules("python_layer_rules_without_packaging")
    assert not without.USES_PACKAGING
    assert without.parse_requirement is without.parse_requirement_fallback
    assert without.check_requirement("pkg @ https://x/y.whl").problem.startswith("is a direct URL reference")
