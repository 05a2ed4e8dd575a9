"""The Lambda transport of the runtime workers: the archive staged in S3 (moto), the worker's own Lambda
handler run on the runtime's interpreter, its bytecode read back and checked, the staging prefix emptied.

Only the Invoke itself is played here (moto cannot run a function without Docker): it starts the worker
function's handler in a process of the target interpreter, with the runtime's boto3, pointed at moto.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pylayer import archive, builder, identity
from pylayer.aws import Clients
from pylayer.errors import WorkerFailed
from pylayer.index import Index
from pylayer.install import find_uv
from pylayer.invoker import Invoker
from pylayer.properties import Defaults, parse
from pylayer.store import LayerStore
from pylayer.target import Target
from pylayer.verify import verify
from pylayer.workers import LambdaWorkers, RuntimeSite
from tests.support import aws, imports
from tests.support.index import LocalIndex, make_wheel

HANDLER = Path(__file__).resolve().parents[2] / "handler"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:python-layer-provider-WorkerPython312X8664-abc"
_RUN = ("import json, sys; from pylayer.worker.lambda_function import handler; "
        "print(json.dumps(handler(json.load(sys.stdin), None)))")


class PlayedLambda(Invoker):
    """An invoker that runs the worker function's handler locally (everything else is moto)."""

    def __init__(self, endpoint: str, site: Path, scratch: Path, tamper: bool = False) -> None:
        super().__init__(Clients(aws.REGION))
        self.artifacts = LayerStore.connect(aws.BUCKET, aws.REGION).artifacts
        self.endpoint, self.site, self.scratch, self.tamper = endpoint, site, scratch, tamper
        self.invoked: list[str] = []

    def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        self.invoked.append(function)
        python = imports.interpreter(str(payload["runtime"]))
        assert python is not None
        # No AWS credentials at all: the worker's role reaches no S3, it has two presigned URLs.
        env = {"PATH": os.environ["PATH"], "HOME": str(self.scratch),
               "PYTHONPATH": f"{HANDLER}{os.pathsep}{self.site}", "PYLAYER_WORKER_SCRATCH": str(self.scratch)}
        done = subprocess.run([*python.command, "-c", _RUN], input=json.dumps(payload), env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)
        assert done.returncode == 0, done.stderr
        report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        if self.tamper and "bytecode" in report:  # someone else's bytes where the worker's should be
            forged = urllib.request.Request(str(payload["output_url"]), data=b"PK", method="PUT")
            urllib.request.urlopen(forged, timeout=30).close()
        return report


@pytest.fixture
def staged(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installer_cache: Path
           ) -> tuple[Path, list[archive.Entry], Any]:
    if imports.interpreter("python3.12") is None:
        pytest.skip("no local python3.12")
    aws.reset(moto_endpoint)
    for key, value in aws.aws_environment(moto_endpoint).items():
        monkeypatch.setenv(key, value)
    aws.client("s3", moto_endpoint).create_bucket(Bucket=aws.BUCKET)
    wheel = make_wheel(tmp_path, "staged-demo", "1.0", "def kind(x):\n    return x in {'a', 'b', 'c'}\n")
    spec = parse({"LayerName": "s", "Requirements": ["staged-demo==1.0"], "Runtime": "python3.12",
                  "Architecture": "x86_64", "ImportCheck": ["staged_demo"]}, Defaults("python3.12", "x86_64"))
    with LocalIndex([wheel]) as index:
        workdir = tmp_path / "work"
        workdir.mkdir()
        built = builder.Engine(tmp_path / "cache").build(spec, workdir, Index(index.url), lambda: 900.0,
                                                         identity.content_key(spec, identity.BuildOptions()))
    site = RuntimeSite(installer_cache / "runtime", find_uv)(Target("python3.12", "x86_64"))
    assert site is not None
    return workdir, built.entries, (spec, site)


def test_a_lambda_worker_reads_the_staged_archive_and_returns_checked_bytecode(
        staged: tuple[Path, list[archive.Entry], Any], moto_endpoint: str, tmp_path: Path) -> None:
    workdir, entries, (spec, site) = staged
    store = PlayedLambda(moto_endpoint, site, tmp_path / "scratch")
    workers = LambdaWorkers(store.artifacts, store, {("python3.12", "x86_64"): FUNCTION})

    verified = verify(spec, entries, {}, workers, workdir, lambda: 600.0)

    assert store.invoked == [FUNCTION]
    assert verified.bytecode == "included"
    assert "python/staged_demo/__pycache__/__init__.cpython-312.pyc" in [e.arcname for e in verified.entries]
    report = verified.reports[0].data
    assert report["libraries"]["source"].startswith("scanned ")  # inside a worker: the machine's own list
    assert report["imports"][0]["ok"] and report["imports"][0]["file"] == "python/staged_demo/__init__.py"
    left = aws.client("s3", moto_endpoint).list_objects_v2(Bucket=aws.BUCKET, Prefix="staging/")
    assert left.get("KeyCount", 0) == 0  # the staged archive and the bytecode are removed


def test_a_lambda_worker_imports_the_requested_packages_by_default(
        staged: tuple[Path, list[archive.Entry], Any], moto_endpoint: str, tmp_path: Path) -> None:
    workdir, entries, (spec, site) = staged
    store = PlayedLambda(moto_endpoint, site, tmp_path / "scratch")
    workers = LambdaWorkers(store.artifacts, store, {("python3.12", "x86_64"): FUNCTION})

    verified = verify(dataclasses.replace(spec, import_check=(), import_auto=True), entries, {}, workers, workdir,
                      lambda: 600.0)

    assert verified.proof == "imported"
    report = verified.reports[0].data
    assert report["import_modules"] == {"staged-demo": ["staged_demo"]}
    assert [(i["module"], i.get("distribution"), i["ok"]) for i in report["imports"]] == [
        ("staged_demo", "staged-demo", True)]


def test_bytecode_that_is_not_what_the_worker_made_is_refused(
        staged: tuple[Path, list[archive.Entry], Any], moto_endpoint: str, tmp_path: Path) -> None:
    workdir, entries, (spec, site) = staged
    store = PlayedLambda(moto_endpoint, site, tmp_path / "scratch", tamper=True)
    workers = LambdaWorkers(store.artifacts, store, {("python3.12", "x86_64"): FUNCTION})

    with pytest.raises(WorkerFailed, match="does not match the digest it reported"):
        verify(spec, entries, {}, workers, workdir, lambda: 600.0)

    left = aws.client("s3", moto_endpoint).list_objects_v2(Bucket=aws.BUCKET, Prefix="staging/")
    assert left.get("KeyCount", 0) == 0


def test_a_worker_asked_by_bucket_and_keys_does_nothing(moto_endpoint: str, tmp_path: Path,
                                                        installer_cache: Path) -> None:
    """Protocol 2 named a bucket and keys for the worker's role to read; that role now has no S3 access, and
    a request without the two presigned URLs is refused."""
    if imports.interpreter("python3.12") is None:
        pytest.skip("no local python3.12")
    site = RuntimeSite(installer_cache / "runtime", find_uv)(Target("python3.12", "x86_64"))
    assert site is not None
    store = PlayedLambda(moto_endpoint, site, tmp_path / "scratch")
    answer = store.invoke(FUNCTION, {"runtime": "python3.12", "bucket": aws.BUCKET, "source_key": "specs/x.json",
                                     "output_key": "staging/x.zip"}, 60)
    assert answer == {"error": "the request must name the staged archive and the output by presigned http(s) URLs"}


class Recording(PlayedLambda):
    def __init__(self, endpoint: str, site: Path, scratch: Path) -> None:
        super().__init__(endpoint, site, scratch)
        self.payloads: list[Mapping[str, Any]] = []

    def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        self.payloads.append(payload)
        return super().invoke(function, payload, timeout)


def test_the_modules_staged_first_give_the_same_layer(
        staged: tuple[Path, list[archive.Entry], Any], moto_endpoint: str, tmp_path: Path) -> None:
    """A large layer's modules go to the worker first, in a zip of their own (worker protocol 5): the bytecode
    and the proof are those of the whole layer, and nothing stays under staging/."""
    workdir, entries, (spec, site) = staged
    results = []
    for rest_bytes in (0, 1 << 40):  # modules first; the whole layer alone
        store = Recording(moto_endpoint, site, tmp_path / f"scratch-{rest_bytes}")
        workers = LambdaWorkers(store.artifacts, store, {("python3.12", "x86_64"): FUNCTION})
        verified = verify(spec, entries, {}, workers, workdir, lambda: 600.0, modules_first_bytes=rest_bytes)
        results.append((verified, store.payloads))

    (first, sent_first), (whole, sent_whole) = results
    assert "modules_url" in sent_first[0] and "modules_url" not in sent_whole[0]
    assert [e.arcname for e in first.entries] == [e.arcname for e in whole.entries]
    bytecode = [archive.write_zip(v.entries, tmp_path / f"{n}.zip").sha256 for n, v in (("a", first), ("b", whole))]
    assert bytecode[0] == bytecode[1]
    assert first.proof == whole.proof == "imported"
    left = aws.client("s3", moto_endpoint).list_objects_v2(Bucket=aws.BUCKET, Prefix="staging/")
    assert left.get("KeyCount", 0) == 0
