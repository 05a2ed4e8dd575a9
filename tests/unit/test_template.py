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
