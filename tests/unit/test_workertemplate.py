"""The generated worker sections of template.yaml: the committed file is what render() writes."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from pylayer.devtools import workertemplate
from pylayer.target import ARCHITECTURES, RUNTIMES

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
PARAMETERS = {"WorkerRuntimes", "WorkerArchitectures"}


def text() -> str:
    return TEMPLATE.read_text()


@functools.cache
def template() -> Any:
    return cfn_yaml.load(str(TEMPLATE))


def test_the_module_writes_the_committed_template() -> None:
    assert workertemplate.TEMPLATE == TEMPLATE


def test_render_reproduces_the_committed_template_exactly() -> None:
    committed = text()

    assert workertemplate.render(committed) == committed


def test_each_generated_section_is_there_once() -> None:
    committed = text()

    for name in workertemplate.SECTIONS:
        assert len(re.findall(rf"^[ \t]*# BEGIN generated: {name}$", committed, re.MULTILINE)) == 1, name
        assert len(re.findall(rf"^[ \t]*# END generated: {name}$", committed, re.MULTILINE)) == 1, name
    found = set(re.findall(r"# BEGIN generated: ([a-z ]+)$", committed, re.MULTILINE))
    assert found == set(workertemplate.SECTIONS)


def test_render_rewrites_a_stale_section() -> None:
    committed = text()
    stale = re.sub(r"(# BEGIN generated: worker conditions\n).*?(^[ \t]*# END generated: worker conditions$)",
                   r"\1  Stale: !Equals [a, b]\n\2", committed, flags=re.DOTALL | re.MULTILINE)
    assert stale != committed

    assert workertemplate.render(stale) == committed


def test_render_refuses_a_template_without_a_section() -> None:
    broken = text().replace("# BEGIN generated: worker invoke", "# worker invoke")

    with pytest.raises(ValueError, match="worker invoke"):
        workertemplate.render(broken)


def test_a_logical_id_per_runtime_and_architecture() -> None:
    ids = [workertemplate.logical_id(r, a) for r, a in workertemplate.pairs()]

    assert len(ids) == len(set(ids)) == len(RUNTIMES) * len(ARCHITECTURES)
    assert workertemplate.logical_id("python3.12", "arm64") == "WorkerPython312Arm64"
    assert workertemplate.logical_id("python3.9", "x86_64") == "WorkerPython39X8664"
    assert all(re.fullmatch(r"[A-Za-z0-9]+", i) for i in ids)


def test_every_runtime_and_architecture_has_a_worker_function() -> None:
    parsed = template()
    resources, conditions = parsed["Resources"], parsed["Conditions"]

    workers = {name for name, r in resources.items() if r.get("Properties", {}).get("Handler") ==
               "pylayer.worker.lambda_function.handler"}
    assert workers == {workertemplate.logical_id(r, a) for r, a in workertemplate.pairs()}
    for runtime, architecture in workertemplate.pairs():
        name = workertemplate.logical_id(runtime, architecture)
        function = resources[name]
        assert function["Type"] == "AWS::Serverless::Function"
        assert function["Condition"] == name
        assert name in conditions
        assert function["Properties"]["Runtime"] == runtime
        assert function["Properties"]["Architectures"] == [architecture]


def test_the_provider_gets_and_may_invoke_every_worker() -> None:
    parsed = template()
    variable = parsed["Resources"]["ProviderFunction"]["Properties"]["Environment"]["Variables"]["WORKER_FUNCTIONS"]
    entries = variable["Fn::Join"][1]

    assert [e["Fn::If"][0] for e in entries] == [workertemplate.logical_id(r, a) for r, a in workertemplate.pairs()]
    for (runtime, architecture), entry in zip(workertemplate.pairs(), entries, strict=True):
        assert entry["Fn::If"][1] == {"Fn::Sub": f"{runtime}/{architecture}="
                                                 f"${{{workertemplate.logical_id(runtime, architecture)}.Arn}}"}
    statements = parsed["Resources"]["ProviderFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    # Only when some worker exists: a statement with no Resource would fail the deployment.
    (guarded,) = [s for s in statements["Statement"]
                  if "Fn::If" in s and s["Fn::If"][1].get("Sid") == "InvokeOwnWorkers"]
    condition, invoke, otherwise = guarded["Fn::If"]
    assert (condition, invoke["Sid"], otherwise) == ("AnyWorker", "InvokeOwnWorkers", {"Ref": "AWS::NoValue"})
    assert [r["Fn::If"][0] for r in invoke["Resource"]] == [e["Fn::If"][0] for e in entries]


def generated_conditions() -> dict[str, Any]:
    conditions = template()["Conditions"]
    names = {f"WorkerRuntime{workertemplate._suffix(r)}" for r in RUNTIMES}
    names |= {f"WorkerArchitecture{workertemplate._arch(a)}" for a in ARCHITECTURES}
    names |= {workertemplate.logical_id(r, a) for r, a in workertemplate.pairs()} | {"AnyWorker"}
    assert names <= set(conditions)
    return {name: conditions[name] for name in names}


def references(node: Any, kind: str) -> set[str]:
    if isinstance(node, dict):
        found = {node[kind]} if kind in node and isinstance(node[kind], str) else set()
        return found.union(*(references(v, kind) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(references(v, kind) for v in node))
    return set()


def test_conditions_use_only_the_worker_parameters() -> None:
    conditions = generated_conditions()

    assert references(list(conditions.values()), "Ref") == PARAMETERS
    assert references(list(conditions.values()), "Condition") <= set(conditions)
    assert set(template()["Parameters"]) >= PARAMETERS
    for name in PARAMETERS:
        assert template()["Parameters"][name]["Type"] == "CommaDelimitedList"


def evaluate(node: Any, parameters: dict[str, list[str]], conditions: dict[str, Any]) -> Any:
    """The intrinsic functions the generated conditions use, as CloudFormation evaluates them."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return [evaluate(v, parameters, conditions) for v in node]
    ((function, argument),) = node.items()
    if function == "Ref":
        return parameters[argument]
    if function == "Condition":
        return evaluate(conditions[argument], parameters, conditions)
    values = evaluate(argument, parameters, conditions)
    if function == "Fn::Join":
        return values[0].join(values[1])
    if function == "Fn::Split":
        return values[1].split(values[0])
    if function == "Fn::Equals":
        return values[0] == values[1]
    if function == "Fn::Not":
        return not values[0]
    if function == "Fn::And":
        return all(values)
    if function == "Fn::Or":
        return any(values)
    raise AssertionError(f"unexpected function {function}")


@pytest.mark.parametrize(("runtimes", "architectures"), [
    (["python3.11", "python3.12", "python3.13", "python3.14"], ["arm64", "x86_64"]),
    (["python3.10"], ["x86_64"]),
    (["python3.1", "python3.9"], ["arm64"]),
    (["python3.12"], []),
    ([], ["arm64"]),
])
def test_a_worker_exists_exactly_for_the_runtimes_and_architectures_named(runtimes: list[str],
                                                                          architectures: list[str]) -> None:
    conditions = generated_conditions()
    parameters = {"WorkerRuntimes": runtimes or [""], "WorkerArchitectures": architectures or [""]}

    for runtime, architecture in workertemplate.pairs():
        name = workertemplate.logical_id(runtime, architecture)
        expected = runtime in runtimes and architecture in architectures
        assert evaluate(conditions[name], parameters, conditions) is expected, name
    some = any(r in runtimes and a in architectures for r, a in workertemplate.pairs())
    assert evaluate(conditions["AnyWorker"], parameters, conditions) is some


def test_the_template_default_gives_workers_for_supported_runtimes_only() -> None:
    parameters = template()["Parameters"]
    runtimes = parameters["WorkerRuntimes"]["Default"].split(",")

    assert set(runtimes) <= set(RUNTIMES)
    assert not set(runtimes) & set(workertemplate.DEPRECATED)
    assert set(parameters["WorkerArchitectures"]["Default"].split(",")) == set(ARCHITECTURES)
