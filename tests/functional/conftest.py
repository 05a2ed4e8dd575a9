"""The whole handler, driven with CloudFormation-shaped events against moto's
server and a local HTTPS receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import aws
from tests.support.cfn import Cloudformation
from tests.support.receiver import ResponseReceiver


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with aws.moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ResponseReceiver]:
    receiver = ResponseReceiver(tmp_path_factory.mktemp("receiver")).start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def installer_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One download cache for the session, as a warm container would keep.
    return tmp_path_factory.mktemp("installer-cache")


@pytest.fixture
def work_root(tmp_path: Path) -> Path:
    return tmp_path / "work"


@pytest.fixture
def cfn(moto_endpoint: str, receiver: ResponseReceiver, installer_cache: Path, work_root: Path,
        monkeypatch: pytest.MonkeyPatch) -> Cloudformation:
    aws.reset(moto_endpoint)
    for key, value in aws.aws_environment(moto_endpoint).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SSL_CERT_FILE", str(receiver.ca_bundle))
    monkeypatch.setenv("PYLAYER_WORK_ROOT", str(work_root))
    monkeypatch.setenv("PYLAYER_CACHE_DIR", str(installer_cache))
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "python-layer-provider")
    aws.client("s3", moto_endpoint).create_bucket(Bucket=aws.BUCKET)
    driver = Cloudformation(receiver)
    driver.app._store.cache_clear()
    return driver


def builds_left(work_root: Path) -> list[str]:
    builds = work_root / "builds"
    return sorted(p.name for p in builds.iterdir()) if builds.exists() else []
