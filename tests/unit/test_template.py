"""template.yaml and the code agree: the variables the function gets are the ones the code reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]


def template() -> Any:
    return cfn_yaml.load(str(ROOT / "template.yaml"))


def test_the_function_gets_exactly_the_variables_the_provider_reads() -> None:
    function = template()["Resources"]["ProviderFunction"]["Properties"]
    given = set(function["Environment"]["Variables"])
    sources = "".join(p.read_text() for p in (ROOT / "handler").rglob("*.py"))
    read = set(re.findall(r'environ(?:\.get\(|\[)"([A-Z_]+)"', sources))
    assert given - {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL"} <= read
    assert {"LAYER_BUCKET", "PACKAGE_INDEX_URL", "PACKAGE_INDEX_SECRET_ARN", "ALLOW_SOURCE_DISTRIBUTIONS"} <= given


def test_the_function_is_configured_as_the_readme_says() -> None:
    resources = template()["Resources"]
    function = resources["ProviderFunction"]
    assert function["Metadata"]["BuildMethod"] == "makefile"
    properties = function["Properties"]
    assert properties["Timeout"] == 900
    assert properties["Runtime"] in ("python3.12", "python3.13")
    assert properties["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    assert resources["ArtifactBucket"]["DeletionPolicy"] == "Retain"
    outputs = template()["Outputs"]
    assert outputs["ServiceToken"]["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-ServiceToken"}


def test_the_providers_grants_are_per_prefix_and_never_reach_the_reapers_records() -> None:
    resources = template()["Resources"]
    role = resources["ProviderFunctionRole"]["Properties"]
    text = str(role["Policies"])
    assert "ArtifactBucket.Arn}/*" not in text.replace(" ", "")  # no grant on the whole bucket
    assert "reaped/" not in text
    for prefix in ("layers/*", "specs/*", "staging/*", "requests/*", "orphans/*"):
        assert f"ArtifactBucket.Arn}}/{prefix}" in text
    assert not any("AWSLambdaBasicExecutionRole" in str(arn) for arn in role["ManagedPolicyArns"])
    logs = resources["ProviderFunctionLogs"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert str(logs["Resource"]) == str({"Fn::GetAtt": ["ProviderFunctionLogGroup", "Arn"]})


def test_the_readme_states_what_the_default_stack_deploys() -> None:
    """README: "10 Lambda functions" by default, 14 built, 3 when trimmed to one runtime and architecture."""
    readme = (ROOT / "README.md").read_text()
    loaded = template()
    parameters = loaded["Parameters"]
    runtimes = str(parameters["WorkerRuntimes"]["Default"]).split(",")
    architectures = str(parameters["WorkerArchitectures"]["Default"]).split(",")
    functions = [k for k, r in loaded["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
    workers = [k for k in functions if k.startswith("Worker")]
    assert len(functions) == len(workers) + 2  # the provider and the reaper
    deployed = len(runtimes) * len(architectures) + 2
    said = re.search(r"What the default stack deploys: (\d+) Lambda functions", readme)
    assert said is not None and int(said[1]) == deployed
    assert f"`sam build` builds all {len(functions)} functions" in readme
    assert "down to 3 functions" in readme  # one runtime on one architecture: a worker, the provider, the reaper
    assert "(a Lambda function you deploy" not in readme  # the stack is more than one function


def test_the_workers_role_reaches_nothing_but_its_logs() -> None:
    """A worker runs package code: its role holds no S3 (its two objects come as presigned URLs) and no
    Lambda; only writing its own log group."""
    role = template()["Resources"]["WorkerRole"]["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    assert [(s["Sid"], sorted(s["Action"])) for s in statements] == [
        ("OwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"])]
    assert "ManagedPolicyArns" not in role
