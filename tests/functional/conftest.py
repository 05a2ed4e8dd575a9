"""The whole handler, driven with CloudFormation-shaped events against moto's
server and a local HTTPS receiver.

Packages come from a local index on loopback (``packages``: small wheels built
here, under the names and versions the tests use); a test marked ``network``
installs real wheels from PyPI instead, where only real packages can show the
behaviour (compiled binaries, source-only releases, glibc tags)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import aws, wheels
from tests.support.cfn import Cloudformation
from tests.support.index import LocalIndex
from tests.support.receiver import ResponseReceiver

# The packages the tests ask for, as small wheels: a module of the real name, some weight to it.
PACKAGES = [("six", "1.16.0"), ("six", "1.17.0"), ("idna", "3.7"), ("idna", "3.10"), ("attrs", "24.2.0")]


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIndex]:
    folder = tmp_path_factory.mktemp("packages")
    built = []
    for name, version in PACKAGES:
        body = f"__version__ = {version!r}\n" + "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(800))
        files = {f"{name}.py": body.encode()} if name == "six" else {f"{name}/__init__.py": body.encode()}
        built.append(wheels.build(folder, name, version, files=files))
    with LocalIndex(built) as index:
        yield index


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
        monkeypatch: pytest.MonkeyPatch, packages: LocalIndex, request: pytest.FixtureRequest) -> Cloudformation:
    aws.reset(moto_endpoint)
    for key, value in aws.aws_environment(moto_endpoint).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SSL_CERT_FILE", str(receiver.ca_bundle))
    monkeypatch.setenv("PYLAYER_WORK_ROOT", str(work_root))
    monkeypatch.setenv("PYLAYER_CACHE_DIR", str(installer_cache))
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "python-layer-provider")
    monkeypatch.setenv("PYLAYER_RESPONSE_HOSTS", "localhost")  # the receiver stands in for CloudFormation's
    if request.node.get_closest_marker("network") is None:
        monkeypatch.setenv("PACKAGE_INDEX_URL", packages.url)  # a test may point it elsewhere again
    aws.client("s3", moto_endpoint).create_bucket(Bucket=aws.BUCKET)
    driver = Cloudformation(receiver)
    driver.app.default_store.cache_clear()
    return driver


def builds_left(work_root: Path) -> list[str]:
    builds = work_root / "builds"
    return sorted(p.name for p in builds.iterdir()) if builds.exists() else []
