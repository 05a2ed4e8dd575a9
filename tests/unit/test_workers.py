"""The provider's side of the worker protocol: a report is refused unless it speaks this provider's protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest

from pylayer.errors import WorkerFailed
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

    def upload(self, path: Path, key: str) -> bool:
        return True

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
