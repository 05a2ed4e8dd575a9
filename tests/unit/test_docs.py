"""README.md and docs/ are the manual: they must name what the code and template offer, and nothing else.

Each test reads the source of truth (the parser's schema, the template, the
Makefile, the exceptions, the lint rules, the code's environment reads) and
checks the page that documents it; the link check keeps every page reachable.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path

import pytest
from cfnlint.decode import cfn_yaml

from pylayer import errors
from pylayer.devtools import cli
from pylayer.identity import BYTECODE_STATES, PROOF_STATES
from pylayer.lint import findings
from pylayer.properties import SCHEMA

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
MAX_README_LINES = 250
# Set by Lambda, the OS or Python itself: documented where they matter, not operator settings.
PLATFORM_VARIABLES = frozenset({
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_EXECUTION_ENV",
    "LAMBDA_TASK_ROOT", "LD_LIBRARY_PATH", "PATH", "HOME", "PYENV_ROOT", "PYTHONHASHSEED",
})


def text(name: str) -> str:
    return (DOCS / name).read_text()


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def test_every_property_of_the_schema_has_a_reference_entry() -> None:
    reference = text("reference.md")
    for prop in SCHEMA:
        entry = re.search(rf"^`{prop.name}`\n: (?P<text>.+)\n: \*Required\*: (?P<required>Yes|No)\.", reference,
                          re.MULTILINE)
        assert entry, f"docs/reference.md has no entry for {prop.name}"
        assert (entry["required"] == "Yes") == prop.required, prop.name
        assert re.search(rf"^  {prop.name}: ", reference, re.MULTILINE), f"{prop.name} is not in the Syntax block"


def test_the_reference_names_no_property_the_parser_refuses() -> None:
    known = {p.name for p in SCHEMA}
    entries = set(re.findall(r"^`([A-Za-z]+)`\n: ", text("reference.md"), re.MULTILINE))
    assert entries <= known, entries - known


def test_every_value_of_the_bytecode_attribute_is_explained() -> None:
    reference = text("reference.md")
    for state in BYTECODE_STATES:
        assert f"`{state}`" in reference, state


def test_every_value_of_the_proof_attribute_is_explained() -> None:
    reference = text("reference.md")
    for state in PROOF_STATES:
        assert re.search(rf"^\| `{state}` \| ", reference, re.MULTILINE), state


def test_every_template_parameter_is_documented() -> None:
    parameters = cfn_yaml.load(str(ROOT / "template.yaml"))["Parameters"]
    operations = text("operations.md")
    for name in parameters:
        assert f"`{name}`" in operations, f"template parameter {name} is not in docs/operations.md"


def test_every_make_target_named_anywhere_exists() -> None:
    targets = makefile_targets()
    for page in PAGES:
        for target in set(re.findall(r"`make (?:-s )?([a-z][a-z0-9-]*)", page.read_text())):
            assert target in targets, f"{page.name} names make {target}, which the Makefile lacks"


def test_every_make_target_is_documented() -> None:
    development = text("development.md")
    for target in makefile_targets():
        assert f"`make {target}" in development, f"make {target} is not in docs/development.md"


def test_every_command_the_makefile_runs_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for module in set(re.findall(r"\$\(BIN\)/python -m ([A-Za-z_.]+)", makefile)):
        assert importlib.util.find_spec(module) is not None, f"the Makefile runs python -m {module}, which is gone"
    commands = set(_subcommands(cli.parser()))
    for command in set(re.findall(r"\$\(BIN\)/pylayer ([a-z]+)", makefile)):
        assert command in commands, f"the Makefile runs pylayer {command}, which the CLI lacks"


def _subcommands(parser: argparse.ArgumentParser) -> list[str]:
    return [name for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for name in action.choices]


def test_every_pylayer_command_and_lint_rule_is_documented() -> None:
    tools = text("tools.md")
    for command in _subcommands(cli.parser()):
        assert f"pylayer {command}" in tools, command
    rules = [v for v in vars(findings).values() if isinstance(v, str) and re.fullmatch(r"[EW]9\d{3}", v)]
    assert len(rules) >= 7
    for rule in rules:
        assert rule in tools, f"lint rule {rule} is not in docs/tools.md"


def test_every_failure_cause_is_documented() -> None:
    causes = {errors.ProviderError.cause, *(c.cause for c in _subclasses(errors.ProviderError))}
    assert len(causes) > 5
    documented = text("errors.md")
    for cause in causes:
        assert f"`{cause}`" in documented, f"cause {cause} is not in docs/errors.md"


def _subclasses(cls: type[errors.ProviderError]) -> list[type[errors.ProviderError]]:
    found: list[type[errors.ProviderError]] = []
    for child in cls.__subclasses__():
        found += [child, *_subclasses(child)]
    return found


def _read_in_code(pattern: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "handler").rglob("*.py"):
        found |= set(re.findall(pattern, path.read_text()))
    return found


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    names = _read_in_code(r"""(?:environ(?:\.get)?\(|environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]+)["']""")
    assert {"WORKER_FUNCTIONS", "PYLAYER_RESPONSE_HOSTS", "PYLAYER_PYTHONS"} <= names  # the pattern still finds them
    operations = text("operations.md")
    for name in sorted(names - PLATFORM_VARIABLES):
        assert f"`{name}`" in operations, f"environment variable {name} is not in docs/operations.md"


def test_every_metric_the_code_emits_is_documented() -> None:
    names = _read_in_code(r"""(?:measure\(|add_metric\(name=|single_metric\(name=|metric\()\s*"([A-Z][A-Za-z]+)\"""")
    assert {"RejectedEvents", "VersionsDeleted", "Failures"} <= names
    operations = text("operations.md")
    for name in sorted(names):
        assert f"`{name}`" in operations, f"metric {name} is not in docs/operations.md"


def test_every_test_named_as_proof_exists() -> None:
    cited = 0
    for page in PAGES:
        for path, name in re.findall(r"`?(tests/[\w/]+\.py)::(test_\w+)", page.read_text()):
            cited += 1
            source = ROOT / path
            assert source.is_file(), f"{page.name} cites {path}, which does not exist"
            assert re.search(rf"^\s*def {name}\(", source.read_text(), re.MULTILINE), \
                f"{page.name} cites {path}::{name}, which does not exist"
    assert cited > 20


def test_the_readme_is_a_front_door() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; the manual belongs in docs/"
    readme = README.read_text()
    for page in sorted(DOCS.glob("*.md")):
        assert f"](docs/{page.name})" in readme, f"README.md does not link docs/{page.name}"
    assert "`make demo`" in readme and "`make test`" in readme


def test_ci_runs_the_documented_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^\s*make test\b", ci, re.MULTILINE) and re.search(r"^\s*make lint\b", ci, re.MULTILINE)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    heading = re.sub(r"`|\*\*?|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", heading).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    body = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.MULTILINE | re.DOTALL)
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", body, re.MULTILINE)}


LINK = re.compile(r"\]\((?!https?://|mailto:)([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    body = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.MULTILINE | re.DOTALL)
    for link in LINK.findall(body):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.name} links {link}: no such file"
        if anchor and target.suffix == ".md":
            assert anchor in anchors(target), f"{page.name} links {link}: no such heading"


def test_the_slug_is_githubs() -> None:
    assert slug("How `sam build` gets uv, without uv") == "how-sam-build-gets-uv-without-uv"
    assert slug("Custom::PythonLayer reference") == "custompythonlayer-reference"


def test_the_pull_request_workflow_example_runs_commands_that_exist() -> None:
    import yaml  # type: ignore[import-untyped]  # cfn-lint's dependency; no stubs pinned

    workflow = yaml.safe_load((ROOT / "examples" / "github-workflow-layer-diff.yml").read_text())
    scripts = [step["run"] for step in workflow["jobs"]["layer-diff"]["steps"] if "run" in step]
    parsers = {name: sub for action in cli.parser()._actions if isinstance(action, argparse._SubParsersAction)
               for name, sub in action.choices.items()}
    used = 0
    for script in scripts:
        for command, rest in re.findall(r"\bpylayer (\w+)([^\n]*(?:\\\n[^\n]*)*)", script):
            used += 1
            assert command in parsers, command
            if command == "lint":
                continue  # its options are cfn-lint's
            known = {o for a in parsers[command]._actions for o in a.option_strings}
            for option in re.findall(r"\s(--[a-z-]+)", rest):
                assert option in known, f"pylayer {command} has no {option}"
    assert used == 3  # lint, lock --check, diff


def test_every_example_layer_in_the_manual_is_one_the_provider_accepts() -> None:
    from cfnlint.decode.cfn_yaml import loads

    checked = 0
    for page in PAGES:
        for block in re.findall(r"^```yaml\n(.*?)^```", page.read_text(), re.MULTILINE | re.DOTALL):
            document = loads(block)
            resources = document.get("Resources", document) if isinstance(document, dict) else {}
            for logical_id, resource in resources.items():
                if not (isinstance(resource, dict) and resource.get("Type") == "Custom::PythonLayer"
                        and isinstance(resource.get("Properties"), dict)
                        and resource["Properties"].get("ServiceToken") != "String"):  # the Syntax block
                    continue
                checked += 1
                assert findings.check(logical_id, resource) == [], f"{page.name}: {logical_id}"
    assert checked >= 3


def test_the_locked_example_is_locked_and_up_to_date() -> None:
    from pylayer.devtools.templates import PROVIDER_DEFAULTS, load_layers

    [layer] = load_layers(str(ROOT / "examples" / "locked.yaml"), PROVIDER_DEFAULTS)[1]
    assert layer.spec is not None and layer.spec.lock is not None, layer.problem
    assert cli.main(["lock", str(ROOT / "examples" / "locked.yaml"), "--check"]) == 0
