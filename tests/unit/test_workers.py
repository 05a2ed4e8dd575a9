"""The provider's side of the worker protocol: reports of another protocol refused, bytecode taken early and checked."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest

from pylayer.errors import AwsCallFailed, WorkerFailed
from pylayer.target import Target
from pylayer.worker import job
from pylayer.worker.protocol import PROTOCOL
from pylayer.workers import Job, LambdaWorkers, checked_report, request

TARGET = Target("python3.12", "x86_64")
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:w"


class Staged:
    bucket = "bucket"

    def __init__(self) -> None:
        self.removed: list[str] = []

    def put_file(self, path: Path, key: str) -> None:
        pass

    def exists(self, key: str) -> bool:
        return False

    def download(self, key: str, dest: Path) -> None:
        raise AssertionError("a refused report's bytecode is never read")

    def remove(self, keys: Sequence[str]) -> None:
        self.removed += keys

    def presign(self, key: str, method: Literal["get", "put"], seconds: int) -> str:
        return f"https://bucket.s3.example/{key}?{method}"


class OldWorker:
    """A worker function of the release before: it answers protocol N-1."""

    def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        return {"protocol": PROTOCOL - 1, "runtime": "python3.12", "bytecode": {"sha256": "0" * 64}}


def test_a_report_of_another_protocol_is_refused_with_what_to_do() -> None:
    with pytest.raises(WorkerFailed) as caught:
        checked_report({"protocol": PROTOCOL + 1, "runtime": "python3.12"}, TARGET)
    assert caught.value.reason == (f"The python3.12 x86_64 worker runs protocol {PROTOCOL + 1}, the provider "
                                   f"{PROTOCOL}: redeploy the provider stack so both are the same release.")


def test_a_report_without_a_protocol_is_refused() -> None:
    with pytest.raises(WorkerFailed, match="runs protocol None"):
        checked_report({"runtime": "python3.12"}, TARGET)


def test_a_report_of_this_protocol_is_taken() -> None:
    assert checked_report({"protocol": PROTOCOL, "runtime": "python3.12"}, TARGET)["runtime"] == "python3.12"


def test_a_worker_function_of_an_older_release_fails_the_build_and_leaves_nothing_staged(tmp_path: Path) -> None:
    staged = Staged()
    workers = LambdaWorkers(staged, OldWorker(), {("python3.12", "x86_64"): FUNCTION})
    with pytest.raises(WorkerFailed, match=f"runs protocol {PROTOCOL - 1}, the provider {PROTOCOL}"):
        workers.run(tmp_path / "layer.zip", [Job(TARGET, True)], tmp_path, lambda: 600.0)
    assert len(staged.removed) == 2  # the staged archive and the output


def test_the_worker_refuses_a_request_of_another_protocol(tmp_path: Path) -> None:
    made = request(Job(TARGET, True), {"archive": str(tmp_path / "none.zip"), "output": ""})
    with pytest.raises(ValueError, match=f"the provider speaks protocol {PROTOCOL + 1}, this worker {PROTOCOL}"):
        job.run({**made, "protocol": PROTOCOL + 1}, str(tmp_path / "scratch"))


class Bucket(Staged):
    """Staging objects as bytes: what the worker PUT becomes visible to exists() and download()."""

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, bytes] = {}
        self.polls = 0

    def exists(self, key: str) -> bool:
        self.polls += 1
        return key in self.objects

    def download(self, key: str, dest: Path) -> None:
        dest.write_bytes(self.objects[key])


class SlowWorker:
    """Writes its bytecode, then 'imports' until the test lets it answer."""

    def __init__(self, bucket: Bucket, bytecode: bytes, reported: bytes | None = None) -> None:
        self.bucket, self.bytecode, self.reported = bucket, bytecode, reported or bytecode
        self.answer = threading.Event()

    def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        key = str(payload["output_url"]).split("/", 3)[3].split("?")[0]
        self.bucket.objects[key] = self.bytecode
        assert self.answer.wait(10)
        return {"protocol": PROTOCOL, "runtime": "python3.12",
                "bytecode": {"sha256": hashlib.sha256(self.reported).hexdigest()}}


def test_bytecode_is_handed_over_while_the_worker_still_imports(tmp_path: Path) -> None:
    bucket = Bucket()
    worker = SlowWorker(bucket, b"PK bytecode")
    workers = LambdaWorkers(bucket, worker, {("python3.12", "x86_64"): FUNCTION})
    handed: list[tuple[Job, bytes, bool]] = []

    def delivered(job: Job, path: Path) -> None:
        handed.append((job, path.read_bytes(), worker.answer.is_set()))
        worker.answer.set()  # only now may the worker answer

    reports = workers.run(tmp_path / "layer.zip", [Job(TARGET, True)], tmp_path, lambda: 600.0, delivered)

    assert handed == [(Job(TARGET, True), b"PK bytecode", False)]  # before the worker answered
    assert reports[0].bytecode is not None and reports[0].bytecode.read_bytes() == b"PK bytecode"


def test_bytecode_handed_over_early_is_still_checked_against_the_report(tmp_path: Path) -> None:
    bucket = Bucket()
    worker = SlowWorker(bucket, b"PK swapped in the bucket", reported=b"PK what the worker made")
    workers = LambdaWorkers(bucket, worker, {("python3.12", "x86_64"): FUNCTION})

    with pytest.raises(WorkerFailed, match="does not match the digest it reported"):
        workers.run(tmp_path / "layer.zip", [Job(TARGET, True)], tmp_path, lambda: 600.0,
                    lambda job, path: worker.answer.set())


def test_without_a_taker_nothing_is_polled(tmp_path: Path) -> None:
    bucket = Bucket()
    worker = SlowWorker(bucket, b"PK bytecode")
    worker.answer.set()
    workers = LambdaWorkers(bucket, worker, {("python3.12", "x86_64"): FUNCTION})

    reports = workers.run(tmp_path / "layer.zip", [Job(TARGET, True)], tmp_path, lambda: 600.0)

    assert bucket.polls == 0
    assert reports[0].bytecode is not None and reports[0].bytecode.read_bytes() == b"PK bytecode"


def test_a_worker_still_running_when_the_request_runs_out_of_time_is_not_waited_for(tmp_path: Path) -> None:
    bucket = Bucket()
    worker = SlowWorker(bucket, b"PK bytecode")  # never told to answer
    workers = LambdaWorkers(bucket, worker, {("python3.12", "x86_64"): FUNCTION})
    left = iter([600.0, 600.0, 0.2])  # the URLs, the invoke, then the wait: under a second left

    with pytest.raises(WorkerFailed, match="did not finish in the time the request had left"):
        workers.run(tmp_path / "layer.zip", [Job(TARGET, False)], tmp_path, lambda: next(left, 0.2))
    worker.answer.set()


def test_the_worker_is_invoked_while_the_archive_uploads_and_a_failed_upload_is_not_waited_out(
        tmp_path: Path) -> None:
    started = threading.Event()

    class Refusing(Bucket):
        def put_file(self, path: Path, key: str) -> None:
            assert started.wait(10)  # the worker was invoked before the upload ended
            raise AwsCallFailed("Uploading the layer archive to s3://bucket failed: AccessDenied.")

    class Waiting(SlowWorker):
        def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]:
            started.set()
            assert self.answer.wait(10)  # as a worker waits for an archive that never arrives
            return {"error": "Reading the staged archive failed: HTTPError: HTTP Error 404: Not Found"}

    bucket = Refusing()
    worker = Waiting(bucket, b"")
    workers = LambdaWorkers(bucket, worker, {("python3.12", "x86_64"): FUNCTION})
    with pytest.raises(AwsCallFailed, match="AccessDenied"):
        workers.run(tmp_path / "layer.zip", [Job(TARGET, True)], tmp_path, lambda: 600.0)
    assert not worker.answer.is_set()  # answered without waiting for the worker
    assert len(bucket.removed) == 2
    worker.answer.set()
