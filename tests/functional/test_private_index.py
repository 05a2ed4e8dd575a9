"""The package index is provider configuration; its credentials come from Secrets Manager
and never reach properties, responses or logs."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import aws
from tests.support.cfn import Cloudformation
from tests.support.index import LocalIndex, make_wheel

PASSWORD = "s3cr3t-Pa$$w:rd/+"  # characters that need quoting in a URL
LAYER = {"LayerName": "private", "Requirements": ["pylayer-private-demo==1.0.0"], "Runtime": "python3.12",
         "Architecture": "arm64"}


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LocalIndex]:
    wheel = make_wheel(tmp_path, "pylayer-private-demo", "1.0.0", "SOURCE = 'private index'\n")
    with LocalIndex([wheel], "reader", PASSWORD) as running:
        yield running


@pytest.fixture
def configured(cfn: Cloudformation, index: LocalIndex, moto_endpoint: str,
               monkeypatch: pytest.MonkeyPatch) -> str:
    secret = aws.client("secretsmanager", moto_endpoint).create_secret(
        Name="pylayer/index", SecretString=json.dumps({"username": "reader", "password": PASSWORD}))
    monkeypatch.setenv("PACKAGE_INDEX_URL", index.url)
    monkeypatch.setenv("PACKAGE_INDEX_SECRET_ARN", secret["ARN"])
    return str(secret["ARN"])


def test_a_layer_installs_from_a_private_index_with_credentials_from_secrets_manager(
        cfn: Cloudformation, index: LocalIndex, configured: str, moto_endpoint: str,
        capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    received = cfn.create(LAYER)

    answer = received.body
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert any(authorised for _, authorised in index.requests)
    sha_hex = __import__("base64").b64decode(answer["Data"]["CodeSha256"]).hex()
    body = aws.client("s3", moto_endpoint).get_object(
        Bucket=aws.BUCKET, Key=f"layers/sha256/{sha_hex}.zip")["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert zf.read("python/pylayer_private_demo/__init__.py") == b"SOURCE = 'private index'\n"
    output = capfd.readouterr()
    for text in (received.raw.decode(), output.out, output.err, caplog.text):
        assert PASSWORD not in text
        assert "s3cr3t" not in text


def test_wrong_credentials_fail_without_revealing_them(
        cfn: Cloudformation, index: LocalIndex, configured: str, moto_endpoint: str,
        capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    aws.client("secretsmanager", moto_endpoint).put_secret_value(
        SecretId=configured, SecretString=json.dumps({"username": "reader", "password": "wrong-s3cr3t"}))

    received = cfn.create(LAYER)

    assert received.body["Status"] == "FAILED"
    assert received.body["Reason"] == ("Install failed for python3.12 arm64: the package index refused the "
                                      "provider's credentials (401 Unauthorized); check the index secret.")
    output = capfd.readouterr()
    for text in (received.raw.decode(), output.out, output.err, caplog.text):
        assert "s3cr3t" not in text


def test_a_template_cannot_point_the_provider_at_another_index(cfn: Cloudformation) -> None:
    answer = cfn.create({**LAYER, "IndexUrl": "https://evil.example/simple"}).body
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("Unknown properties: IndexUrl.")


def test_a_codeartifact_token_reaches_the_index_and_never_the_logs(
        cfn: Cloudformation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    # moto has no CodeArtifact: its two answers (endpoint and token) are played here; everything
    # after them is real, against an index that demands the user "aws" and the token.
    from pylayer.indexsecrets import IndexSecrets
    from pylayer.store import LayerStore

    wheel = make_wheel(tmp_path, "pylayer-private-demo", "1.0.0", "SOURCE = 'private index'\n")
    calls: list[tuple[str, str, str]] = []
    with LocalIndex([wheel], "aws", PASSWORD) as codeartifact:

        class CodeArtifact(IndexSecrets):
            def codeartifact_index(self, domain: str, repository: str, owner: str = "") -> tuple[str, str]:
                calls.append((domain, repository, owner))
                return codeartifact.url, PASSWORD

        def store(bucket: str, region: str | None) -> LayerStore:
            real = LayerStore.connect(bucket, region)
            return dataclasses.replace(real, secrets=CodeArtifact(real.secrets.clients))

        monkeypatch.setattr(cfn.app.dependencies, "store", store)  # the handler's own seam
        monkeypatch.delenv("PACKAGE_INDEX_URL")  # the index is CodeArtifact's
        monkeypatch.setenv("CODEARTIFACT_DOMAIN", "corp")
        monkeypatch.setenv("CODEARTIFACT_REPOSITORY", "pypi-store")
        received = cfn.create(LAYER)

    assert received.body["Status"] == "SUCCESS", received.body["Reason"]
    assert calls == [("corp", "pypi-store", "")]
    assert any(authorised for _, authorised in codeartifact.requests)
    output = capfd.readouterr()
    for text in (received.raw.decode(), output.out, output.err, caplog.text):
        assert "s3cr3t" not in text
