"""AllowSourceDistributions: a pure-Python sdist is built by a runtime worker, never by the provider.

The sdists are built here with an in-tree PEP 517 backend (tests/support/sdists.py) and served by a local
index; the provider runs for real against moto, its local workers in the Lambda-like root. The ``network``
test builds the real docopt with setuptools from PyPI.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pylayer import imageroot
from tests.support import aws, imports
from tests.support.cfn import Cloudformation
from tests.support.index import LocalIndex
from tests.support.sdists import make_sdist

X86 = {"Runtime": "python3.12", "Architecture": "x86_64"}
SECRET = "pylayer-test-secret-0123456789"
# In the build: every process it can see, its own ancestors, and any AWS secret in their environments.
SPY = '''
import os
seen, secrets, chain = [], [], []
for entry in os.listdir("/proc"):
    if entry.isdigit():
        seen.append(int(entry))
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if b"AWS_SECRET_ACCESS_KEY" in handle.read():
                    secrets.append(entry)
        except OSError:
            pass
pid = os.getpid()
while pid > 1:
    chain.append(pid)
    try:
        with open(f"/proc/{pid}/status") as handle:
            pid = int(next(l for l in handle if l.startswith("PPid:")).split()[1])
    except (OSError, StopIteration):
        break
files["spied/seen.json"] = json.dumps({"secrets": secrets, "env": sorted(os.environ), "chain": chain,
                                       "seen": seen})
'''


@pytest.fixture
def index(tmp_path: Path, cfn: Cloudformation, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalIndex]:
    if imports.interpreter("python3.12") is None:
        pytest.skip("no local python3.12")
    folder = tmp_path / "sdists"
    folder.mkdir()
    built = [
        make_sdist(folder, "spied", "1.0", {"spied/__init__.py": "X = 1\n"}, "import json\n" + SPY),
        make_sdist(folder, "fails", "1.0", {"fails/__init__.py": ""}, "raise RuntimeError('no compiler here')"),
        make_sdist(folder, "compiled", "1.0", {"compiled/__init__.py": "", "compiled/_speed.so": "\x7fELF..."}),
        make_sdist(folder, "platformed", "1.0", {"platformed/__init__.py": ""},
                   tag="cp312-cp312-manylinux_2_17_x86_64"),
    ]
    monkeypatch.setenv("ALLOW_SOURCE_DISTRIBUTIONS", "true")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)  # what the provider holds, and the build must not see
    with LocalIndex(built) as running:
        monkeypatch.setenv("PACKAGE_INDEX_URL", running.url)
        yield running


def layer_file(endpoint: str, arn: str, name: str) -> bytes:
    body, _ = aws.layer_zip(endpoint, arn)
    return zipfile.ZipFile(io.BytesIO(body)).read(name)


def test_a_pure_sdist_is_built_by_a_worker_that_never_sees_the_provider(
        cfn: Cloudformation, index: LocalIndex, moto_endpoint: str) -> None:
    if imageroot.find() is None:  # without it a local worker is the provider's child (Lambda's are not)
        pytest.skip("no Lambda-like root here (make roots, as root)")
    answer = cfn.create({"LayerName": "spied", "Requirements": ["spied==1.0"], **X86}).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["Proof"] == "imported"  # the built wheel imported on its runtime
    seen = json.loads(layer_file(moto_endpoint, str(answer["PhysicalResourceId"]), "python/spied/seen.json"))
    assert os.getpid() not in seen["chain"]  # the provider is not among the build's ancestors ...
    assert max(seen["seen"]) < 100  # ... nor any process it can see: a PID namespace of its own
    assert seen["secrets"] == [] and not any(v.startswith("AWS_") for v in seen["env"])
    assert SECRET.encode() not in aws.layer_zip(moto_endpoint, str(answer["PhysicalResourceId"]))[0]


def test_the_spy_sees_the_provider_when_the_worker_is_its_plain_child(
        cfn: Cloudformation, index: LocalIndex, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the test above would catch: without the root a local worker is the provider's child (the
    residual risk of local runs, docs/security.md); in AWS the worker is another function."""
    monkeypatch.setenv("PYLAYER_IMAGE_ROOT", "off")
    answer = cfn.create({"LayerName": "spied", "Requirements": ["spied==1.0"], **X86}).body

    seen = json.loads(layer_file(moto_endpoint, str(answer["PhysicalResourceId"]), "python/spied/seen.json"))
    assert os.getpid() in seen["chain"]
    assert not any(v.startswith("AWS_") for v in seen["env"])  # its environment is scrubbed all the same


def test_a_failed_build_names_the_package_and_its_last_line(cfn: Cloudformation, index: LocalIndex,
                                                            moto_endpoint: str) -> None:
    answer = cfn.create({"LayerName": "fails", "Requirements": ["fails==1.0"], **X86}).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == "Building fails 1.0 from source failed: RuntimeError: no compiler here"
    assert aws.live_versions(moto_endpoint, "fails") == set()


@pytest.mark.parametrize(("package", "reason"), [
    ("compiled", "compiled 1.0 built a wheel with compiled code (compiled/_speed.so); only pure-Python source "
                 "distributions are built"),
    ("platformed", "platformed 1.0 built a wheel for one platform "
                   "(platformed-1.0-cp312-cp312-manylinux_2_17_x86_64.whl); only pure-Python source distributions "
                   "are built"),
])
def test_a_build_that_is_not_pure_python_is_refused(cfn: Cloudformation, index: LocalIndex, package: str,
                                                    reason: str) -> None:
    answer = cfn.create({"LayerName": package, "Requirements": [f"{package}==1.0"], **X86}).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == reason


def test_without_the_switch_an_sdist_is_refused_and_nothing_is_built(
        cfn: Cloudformation, index: LocalIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOW_SOURCE_DISTRIBUTIONS", "false")
    answer = cfn.create({"LayerName": "spied", "Requirements": ["spied==1.0"], **X86}).body

    assert answer["Status"] == "FAILED"
    assert "AllowSourceDistributions" in answer["Reason"]


@pytest.mark.network
def test_docopt_builds_from_its_sdist_in_a_worker_and_imports(cfn: Cloudformation, moto_endpoint: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    if imports.interpreter("python3.12") is None:
        pytest.skip("no local python3.12")
    monkeypatch.setenv("ALLOW_SOURCE_DISTRIBUTIONS", "true")
    answer = cfn.create({"LayerName": "docopt", "Requirements": ["docopt==0.6.2"], **X86}).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["Proof"] == "imported"
    body, _ = aws.layer_zip(moto_endpoint, str(answer["PhysicalResourceId"]))
    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    assert "python/docopt.py" in names
    assert "python/__pycache__/docopt.cpython-312.pyc" in names
