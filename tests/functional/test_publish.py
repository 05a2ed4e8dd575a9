"""`make publish`, up to the AWS calls: the built template packaged with `sam package` (into moto's S3), and
its Serverless Application Repository metadata as `sam publish` checks it before calling the service."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from samcli.vendor.serverlessrepo.parser import get_app_metadata
from samcli.yamlhelper import yaml_parse

from tests.support import aws

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SAR_BUCKET = "sar-artifacts"


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("publish")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0",
           "AWS_DEFAULT_REGION": "us-east-1"}
    build = subprocess.run([str(BIN / "sam"), "build", "--build-dir", str(base / "build"), "--cache-dir",
                            str(base / "cache")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                           check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    with aws.moto_server() as endpoint:
        aws.client("s3", endpoint).create_bucket(Bucket=SAR_BUCKET)
        done = subprocess.run([str(BIN / "sam"), "package", "--template-file", str(base / "build" / "template.yaml"),
                               "--s3-bucket", SAR_BUCKET, "--output-template-file", str(base / "packaged.yaml"),
                               "--region", aws.REGION], cwd=ROOT, env={**env, **aws.aws_environment(endpoint)},
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        keys = {o["Key"] for o in aws.client("s3", endpoint).list_objects_v2(Bucket=SAR_BUCKET)["Contents"]}
        template: dict[str, Any] = yaml_parse((base / "packaged.yaml").read_text())
        template["_uploaded"] = keys
        yield template


def test_sam_package_uploads_every_artifact_and_the_license_and_readme(packaged: dict[str, Any]) -> None:
    uploaded = packaged["_uploaded"]
    for name, resource in packaged["Resources"].items():
        uri = resource.get("Properties", {}).get("CodeUri") or resource.get("Properties", {}).get("ContentUri")
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion"):
            assert isinstance(uri, str) and uri.startswith(f"s3://{SAR_BUCKET}/"), name
            assert uri.rsplit("/", 1)[1] in uploaded, name
    app = packaged["Metadata"]["AWS::ServerlessRepo::Application"]
    for field in ("LicenseUrl", "ReadmeUrl"):
        assert app[field].startswith(f"s3://{SAR_BUCKET}/") and app[field].rsplit("/", 1)[1] in uploaded


def test_the_application_metadata_passes_what_sam_publish_checks(packaged: dict[str, Any]) -> None:
    metadata = get_app_metadata(packaged)
    assert metadata.validate(["author", "description", "name", "semantic_version"])
    app = packaged["Metadata"]["AWS::ServerlessRepo::Application"]
    # The service's own limits (CreateApplication), checked here before any call.
    assert re.fullmatch(r"[a-zA-Z0-9\-]{1,140}", app["Name"])
    assert 1 <= len(app["Description"]) <= 256
    assert re.fullmatch(r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?", app["Author"]) and len(app["Author"]) <= 127
    assert len(app["Labels"]) <= 10
    assert all(re.fullmatch(r"[a-zA-Z0-9+\-_:/@]{1,127}", label) for label in app["Labels"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", app["SemanticVersion"])
    assert app["SpdxLicenseId"] == "Apache-2.0"
    version = [line for line in (ROOT / "pyproject.toml").read_text().splitlines() if line.startswith("version = ")]
    assert version == [f'version = "{app["SemanticVersion"]}"']  # one version for the package and the app


def test_sar_supports_the_transform_the_template_uses() -> None:
    template = yaml_parse((ROOT / "template.yaml").read_text())
    assert template["Transform"] == "AWS::Serverless-2016-10-31"  # the only one SAR accepts
