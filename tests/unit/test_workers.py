"""The provider's side of the worker protocol: reports of another protocol refused, bytecode taken early and checked."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest

from pylayer.errors import AwsCallFailed, WorkerFailed
from pylayer.target import Target
from pylayer.worker import job
from pylayer.worker.protocol import PROTOCOL
from pylayer.workers import POLL_SECONDS, Job, LambdaWorkers, StagedLayer, checked_report, request

TARGET = Target("python3.12", "x86_64")
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:w"


def written(folder: Path) -> StagedLayer:
    return StagedLayer.written(folder / "layer.zip")


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
        workers.run(written(tmp_path), [Job(TARGET, True)], tmp_path, lambda: 600.0)
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

    reports = workers.run(written(tmp_path), [Job(TARGET, True)], tmp_path, lambda: 600.0, delivered)

    assert handed == [(Job(TARGET, True), b"PK bytecode", False)]  # before the worker answered
    assert reports[0].bytecode is not None and reports[0].bytecode.read_bytes() == b"PK bytecode"


def test_bytecode_handed_over_early_is_still_checked_against_the_report(tmp_path: Path) -> None:
    bucket = Bucket()
    worker = SlowWorker(bucket, b"PK swapped in the bucket", reported=b"PK what the worker made")
    workers = LambdaWorkers(bucket, worker, {("python3.12", "x86_64"): FUNCTION})

    with pytest.raises(WorkerFailed, match="does not match the digest it reported"):
        workers.run(written(tmp_path), [Job(TARGET, True)], tmp_path, lambda: 600.0,
                    lambda job, path: worker.answer.set())


def test_without_a_taker_nothing_is_polled(tmp_path: Path) -> None:
    bucket = Bucket()
    worker = SlowWorker(bucket, b"PK bytecode")
    worker.answer.set()
    workers = LambdaWorkers(bucket, worker, {("python3.12", "x86_64"): FUNCTION})

    reports = workers.run(written(tmp_path), [Job(TARGET, True)], tmp_path, lambda: 600.0)

    assert bucket.polls == 0
    assert reports[0].bytecode is not None and reports[0].bytecode.read_bytes() == b"PK bytecode"


def test_a_worker_still_running_when_the_request_runs_out_of_time_is_not_waited_for(tmp_path: Path) -> None:
    bucket = Bucket()
    worker = SlowWorker(bucket, b"PK bytecode")  # never told to answer
    workers = LambdaWorkers(bucket, worker, {("python3.12", "x86_64"): FUNCTION})
    left = iter([600.0, 600.0, 0.2])  # the URLs, the invoke, then the wait: under a second left

    with pytest.raises(WorkerFailed, match="did not finish in the time the request had left"):
        workers.run(written(tmp_path), [Job(TARGET, False)], tmp_path, lambda: next(left, 0.2))
    worker.answer.set()


def test_the_worker_is_invoked_while_the_archive_uploads_and_a_failed_upload_is_not_waited_out(
        tmp_path: Path) -> None:
    started, polled = threading.Event(), threading.Event()

    class Refusing(Bucket):
        def __init__(self) -> None:
            super().__init__()
            self.puts: list[tuple[str, int]] = []

        def exists(self, key: str) -> bool:
            polled.set()
            return super().exists(key)

        def put_file(self, path: Path, key: str) -> None:
            self.puts.append((key, path.stat().st_size if path.exists() else -1))
            assert started.wait(10)  # the worker was invoked before the upload ended
            assert polled.wait(10)  # and its bytecode is being looked for
            raise AwsCallFailed("Uploading the layer archive to s3://bucket failed: AccessDenied.")

    class Waiting(SlowWorker):
        def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]:
            started.set()
            assert self.answer.wait(10)  # as a worker waits for an archive that never arrives
            return {"error": "Reading the staged archive failed: HTTPError: HTTP Error 404: Not Found"}

    (tmp_path / "layer.zip").write_bytes(b"PK layer")
    bucket = Refusing()
    worker = Waiting(bucket, b"")
    workers = LambdaWorkers(bucket, worker, {("python3.12", "x86_64"): FUNCTION})
    with pytest.raises(AwsCallFailed, match="AccessDenied"):
        workers.run(written(tmp_path), [Job(TARGET, True)], tmp_path, lambda: 600.0, lambda job, path: None)
    assert not worker.answer.is_set()  # answered without waiting for the worker
    archive_key = bucket.puts[0][0]
    # The worker is told to stop waiting (an empty object where the archive should be, best effort), and that
    # key is left for the lifecycle rule: removing it would set the worker waiting again. The output goes.
    assert bucket.puts == [(archive_key, 8), (archive_key, 0)]
    assert [k.rsplit("/", 1)[1] for k in bucket.removed] == ["bytecode-python3.12-x86_64.zip"]
    polls = bucket.polls
    time.sleep(20 * POLL_SECONDS)  # twenty chances to look again, while the worker still runs
    assert bucket.polls == polls  # nobody looks for the bytecode of a build that failed
    worker.answer.set()


class Recorder(Staged):
    """What was uploaded under which key, and the requests the workers got."""

    def __init__(self) -> None:
        super().__init__()
        self.puts: dict[str, bytes] = {}

    def put_file(self, path: Path, key: str) -> None:
        self.puts[key] = path.read_bytes()


class Answering:
    def __init__(self) -> None:
        self.payloads: list[Mapping[str, Any]] = []

    def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        self.payloads.append(payload)
        return {"protocol": PROTOCOL, "runtime": payload["runtime"]}


def test_the_modules_are_staged_apart_for_a_compiling_job_only(tmp_path: Path) -> None:
    (tmp_path / "layer.zip").write_bytes(b"PK layer")
    (tmp_path / "modules.zip").write_bytes(b"PK modules")
    other = Target("python3.11", "x86_64")
    bucket, invoker = Recorder(), Answering()
    workers = LambdaWorkers(bucket, invoker, {("python3.12", "x86_64"): FUNCTION, ("python3.11", "x86_64"): FUNCTION})

    workers.run(StagedLayer.written(tmp_path / "layer.zip", tmp_path / "modules.zip"),
                [Job(TARGET, True), Job(other, False, ("six",))], tmp_path, lambda: 250.4)

    staged = {key.rsplit("/", 1)[1]: data for key, data in bucket.puts.items()}
    assert staged == {"layer.zip": b"PK layer", "modules.zip": b"PK modules"}
    by_runtime = {p["runtime"]: p for p in invoker.payloads}
    assert "/modules.zip?get" in by_runtime["python3.12"]["modules_url"]
    assert "modules_url" not in by_runtime["python3.11"]  # nothing to compile: the layer alone
    assert {p["arrival_seconds"] for p in invoker.payloads} == {250}  # as long as the provider waits
    assert sorted(k.rsplit("/", 1)[1] for k in bucket.removed) == [
        "bytecode-python3.11-x86_64.zip", "bytecode-python3.12-x86_64.zip", "layer.zip", "modules.zip"]


def test_the_workers_start_before_the_layer_is_written(tmp_path: Path) -> None:
    """The staged zip may still be being written when the workers are invoked: its upload waits for it."""
    invoked = threading.Event()

    class Invoked(Answering):
        def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]:
            invoked.set()
            return super().invoke(function, payload, timeout)

    def archive() -> Path:  # "written" only once a worker runs: a transport that waited for it first would fail
        assert invoked.wait(10)
        (tmp_path / "layer.zip").write_bytes(b"PK layer")
        return tmp_path / "layer.zip"

    bucket, invoker = Recorder(), Invoked()
    workers = LambdaWorkers(bucket, invoker, {("python3.12", "x86_64"): FUNCTION})
    workers.run(StagedLayer(archive), [Job(TARGET, False, ("six",))], tmp_path, lambda: 600.0)

    assert list(bucket.puts.values()) == [b"PK layer"]
    assert "modules_url" not in invoker.payloads[0]
    assert invoker.payloads[0]["arrival_seconds"] == 600
