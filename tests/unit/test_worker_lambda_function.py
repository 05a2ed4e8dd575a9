"""pylayer.worker.lambda_function without AWS: what it refuses, describe(), and one job through stand-in
presigned URLs (a folder served on loopback)."""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pylayer.worker import PROTOCOL, job, lambda_function, libraries, transfer
from tests.support.staging import StagingServer

REFUSED = {"error": "the request must name the staged archive and the output by presigned http(s) URLs"}
ARCHITECTURE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), "")


class Calls:
    def __init__(self) -> None:
        self.stray_stops = 0


@pytest.fixture
def staging(tmp_path: Path) -> Iterator[StagingServer]:
    with StagingServer(tmp_path / "s3") as served:
        yield served


@pytest.fixture(autouse=True)
def no_side_effects(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Calls:
    """Never kill processes, never use the real /tmp/pylayer-worker."""
    calls = Calls()

    def stop_strays() -> None:
        calls.stray_stops += 1

    monkeypatch.setattr(lambda_function, "stop_strays", stop_strays)
    monkeypatch.setattr(lambda_function, "SCRATCH", str(tmp_path / "scratch"))
    return calls


@pytest.mark.parametrize("event", [
    {},
    {"source_url": "https://b.s3.amazonaws.com/staging/in.zip?sig"},
    {"bucket": "b", "source_key": "staging/in.zip", "output_key": "staging/out.zip"},  # protocol 2's keys
    {"source_url": "file:///etc/passwd", "output_url": "https://b.s3.amazonaws.com/staging/out.zip?sig"},
    {"source_url": "https://b.s3.amazonaws.com/staging/in.zip?sig", "output_url": "s3://b/staging/out.zip"},
    {"source_url": "https://b.s3.amazonaws.com/staging/in.zip?sig", "output_url": ["https://x"]},
    {"source_url": "https://" + "x" * 9000, "output_url": "https://b.s3.amazonaws.com/staging/out.zip?sig"},
])
def test_a_request_without_two_presigned_urls_is_refused_without_touching_anything(
        event: dict[str, Any], tmp_path: Path, no_side_effects: Calls) -> None:
    assert lambda_function.handler(event, None) == REFUSED
    assert no_side_effects.stray_stops == 0
    assert not (tmp_path / "scratch").exists()


def test_describe_returns_what_this_machine_has() -> None:
    described = lambda_function.describe()
    runtime = f"python{sys.version_info[0]}.{sys.version_info[1]}"

    assert described["protocol"] == PROTOCOL
    assert described["runtime"] == runtime
    assert described["python"] == platform.python_version()
    assert described["machine"] == platform.machine()
    assert described["sys_path"] == sys.path
    names = described["libraries"]
    assert isinstance(names, list)
    assert names
    assert names == sorted(libraries.System.scanned(runtime).names)
    glibc = libraries.System.scanned(runtime).glibc
    assert described["glibc"] == f"{glibc[0]}.{glibc[1]}"
    assert described["runtime_site"] == job.runtime_site()


def test_the_describe_action_is_describe(no_side_effects: Calls) -> None:
    described = lambda_function.handler({"action": "describe", "bucket": "b"}, None)
    assert described["runtime"] == job.version_tag()
    assert described["libraries"] == lambda_function.describe()["libraries"]
    assert no_side_effects.stray_stops == 0


@pytest.mark.skipif(ARCHITECTURE == "", reason=f"no Lambda architecture for {platform.machine()}")
def test_one_job_through_stand_in_presigned_urls(tmp_path: Path, staging: StagingServer,
                                                 no_side_effects: Calls) -> None:
    marker = tmp_path / "imported"
    bucket = tmp_path / "s3"
    (bucket / "b" / "staging").mkdir(parents=True)
    with zipfile.ZipFile(bucket / "b" / "staging" / "in.zip", "w") as layer:
        layer.writestr("python/pkg/__init__.py", f"open({str(marker)!r}, 'w').close()\nVALUE = 1\n")
    # A module only a planted runtime_site would let the import find.
    (tmp_path / "planted").mkdir()
    (tmp_path / "planted" / "planted.py").write_text(f"open({str(tmp_path / 'planted-imported')!r}, 'w').close()\n")
    result = lambda_function.handler({
        "source_url": f"{staging.url}/b/staging/in.zip?X-Amz-Signature=x",
        "output_url": f"{staging.url}/b/staging/out.zip?X-Amz-Signature=y",
        "runtime": job.version_tag(), "architecture": ARCHITECTURE, "compile": True, "skip_dirs": ["tests"],
        "imports": ["pkg", "planted"], "paths": ["python"],
        # Not request fields of the event: the function sets these itself, or they are not the event's to set.
        "python": ["/bin/false"], "archive": "/etc/passwd", "output": str(tmp_path / "elsewhere.zip"),
        "libraries_off": True, "runtime_site": str(tmp_path / "planted"), "libraries": "recorded",
    }, None)

    assert "error" not in result, result
    assert staging.events == ["GET /b/staging/in.zip", "PUT /b/staging/out.zip"]
    uploaded = (bucket / "b" / "staging" / "out.zip").read_bytes()
    assert result["bytecode"]["staged"] is True
    assert result["bytecode"]["sha256"] == hashlib.sha256(uploaded).hexdigest()
    with zipfile.ZipFile(bucket / "b" / "staging" / "out.zip") as out:
        assert out.namelist() == [f"python/pkg/__pycache__/__init__.{sys.implementation.cache_tag}.pyc"]
    assert [(i["module"], i["ok"]) for i in result["imports"]] == [("pkg", True), ("planted", False)]
    assert marker.exists()
    assert result["libraries"]["source"].startswith("scanned ")  # inside Lambda: the real directories
    assert not (tmp_path / "planted-imported").exists()
    assert not (tmp_path / "elsewhere.zip").exists()
    assert no_side_effects.stray_stops == 2  # before the job and after it
    assert not (tmp_path / "scratch").exists()


def test_a_failed_job_is_an_error_not_an_exception(tmp_path: Path, staging: StagingServer,
                                                   no_side_effects: Calls) -> None:
    bucket = tmp_path / "s3"
    (bucket / "b" / "staging").mkdir(parents=True)
    with zipfile.ZipFile(bucket / "b" / "staging" / "in.zip", "w") as layer:
        layer.writestr("python/m.py", "M = 1\n")
    other = "python3.12" if job.version_tag() != "python3.12" else "python3.11"

    result = lambda_function.handler({"source_url": f"{staging.url}/b/staging/in.zip",
                                      "output_url": f"{staging.url}/b/staging/o.zip",
                                      "runtime": other, "architecture": ARCHITECTURE or "x86_64", "compile": True},
                                     None)

    assert result == {"error": f"ValueError: this worker runs {job.version_tag()}, not {other}"}
    assert staging.events == ["GET /b/staging/in.zip"]
    assert no_side_effects.stray_stops == 2
    assert not (tmp_path / "scratch").exists()


def test_parent_reads_proc() -> None:
    assert lambda_function._parent(os.getpid()) == os.getppid()
    assert lambda_function._parent(2**22 + 12345) == 0  # above any pid_max: no such process


def _recorded_kills(monkeypatch: pytest.MonkeyPatch) -> tuple[list[tuple[int, int]], Any]:
    """The real stop_strays back, with os.kill replaced by a recorder: nothing is signalled."""
    monkeypatch.undo()  # the autouse stand-in off again
    killed: list[tuple[int, int]] = []

    def record(pid: int, sig: int) -> None:
        killed.append((pid, sig))

    real_kill = os.kill
    monkeypatch.setattr(os, "kill", record)
    assert vars(lambda_function)["os"] is os
    assert os.kill is record
    assert lambda_function.stop_strays.__module__ == lambda_function.__name__
    return killed, real_kill


def test_stop_strays_outside_lambda_signals_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    killed, _ = _recorded_kills(monkeypatch)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")  # one of the two is not enough

    lambda_function.stop_strays()

    assert killed == []


def test_stop_strays_in_lambda_spares_this_process_its_ancestors_and_init(monkeypatch: pytest.MonkeyPatch) -> None:
    killed, real_kill = _recorded_kills(monkeypatch)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "worker")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # a stray of our own
    try:
        lambda_function.stop_strays()
    finally:
        real_kill(sleeper.pid, signal.SIGKILL)  # only the process this test started
        sleeper.wait()

    pids = {pid for pid, _ in killed}
    assert {sig for _, sig in killed} == {signal.SIGKILL}
    assert sleeper.pid in pids
    assert os.getpid() not in pids
    assert os.getppid() not in pids
    assert 1 not in pids


def test_the_worker_waits_for_an_archive_that_is_still_uploading(tmp_path: Path, staging: StagingServer) -> None:
    """The provider invokes while it uploads the staged archive: until the upload ends, its URL answers 404."""
    folder = tmp_path / "s3" / "b" / "staging"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "in.zip", "w") as layer:
        layer.writestr("python/m.py", "M = 1\n")
    arrives = threading.Timer(0.3, lambda: (tmp_path / "in.zip").replace(folder / "in.zip"))
    arrives.start()

    result = lambda_function.handler({"protocol": PROTOCOL, "source_url": f"{staging.url}/b/staging/in.zip",
                                      "output_url": f"{staging.url}/b/staging/o.zip", "runtime": job.version_tag(),
                                      "architecture": ARCHITECTURE or "x86_64", "compile": True}, None)
    arrives.join()

    assert "error" not in result, result
    gets = [e for e in staging.events if e == "GET /b/staging/in.zip"]
    assert len(gets) > 1  # looked for, not there yet, then read
    assert staging.events[-1] == "PUT /b/staging/o.zip"


def test_an_archive_that_never_arrives_is_an_error(tmp_path: Path, staging: StagingServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "ARRIVAL_WAIT_SECONDS", 0.2)
    result = lambda_function.handler({"protocol": PROTOCOL, "source_url": f"{staging.url}/b/staging/never.zip",
                                      "output_url": f"{staging.url}/b/staging/o.zip", "runtime": job.version_tag(),
                                      "architecture": ARCHITECTURE or "x86_64", "compile": True}, None)
    assert result["error"].startswith("Reading the staged archive failed: HTTPError: HTTP Error 404")
    assert not (tmp_path / "scratch").exists()


def test_a_request_of_another_protocol_is_refused_before_anything_is_read(staging: StagingServer) -> None:
    result = lambda_function.handler({"protocol": PROTOCOL - 1, "source_url": f"{staging.url}/b/staging/in.zip",
                                      "output_url": f"{staging.url}/b/staging/o.zip"}, None)
    assert result == {"error": f"the provider speaks protocol {PROTOCOL - 1}, this worker {PROTOCOL}: redeploy the "
                               "provider stack so both are the same release"}
    assert staging.events == []


def _job_event(staging: StagingServer, **more: Any) -> dict[str, Any]:
    return {"protocol": PROTOCOL, "source_url": f"{staging.url}/b/staging/in.zip",
            "output_url": f"{staging.url}/b/staging/o.zip", "runtime": job.version_tag(),
            "architecture": ARCHITECTURE or "x86_64", "compile": True, "skip_dirs": ["tests"], **more}


def test_the_modules_come_first_and_the_archive_is_read_while_they_compile(tmp_path: Path,
                                                                            staging: StagingServer) -> None:
    """Protocol 5: a zip of the modules alone, then the whole layer (still uploading when the worker starts):
    the same bytecode as from the whole layer, and the imports see the whole layer."""
    folder = tmp_path / "s3" / "b" / "staging"
    folder.mkdir(parents=True)
    files = {"python/pkg/__init__.py": "from pathlib import Path\n"
                                       "DATA = (Path(__file__).parent / 'data.txt').read_text()\n",
             "python/pkg/util.py": "def f():\n    return 1\n", "python/pkg/data.txt": "only in the whole layer\n"}
    with zipfile.ZipFile(tmp_path / "in.zip", "w", zipfile.ZIP_DEFLATED) as layer:
        for name, text in files.items():
            layer.writestr(name, text)
    with zipfile.ZipFile(folder / "modules.zip", "w", zipfile.ZIP_DEFLATED) as modules:
        for name, text in files.items():
            if name.endswith(".py"):
                modules.writestr(name, text)
    shutil.copy(tmp_path / "in.zip", tmp_path / "whole.zip")
    arrives = threading.Timer(0.3, lambda: (tmp_path / "in.zip").replace(folder / "in.zip"))
    arrives.start()

    result = lambda_function.handler(_job_event(staging, modules_url=f"{staging.url}/b/staging/modules.zip",
                                                imports=["pkg"], paths=["python"]), None)
    arrives.join()

    assert "error" not in result, result
    assert staging.events[0] == "GET /b/staging/modules.zip"
    assert "GET /b/staging/in.zip" in staging.events
    assert [(i["module"], i["ok"]) for i in result["imports"]] == [("pkg", True)]  # data.txt came with the layer
    first = (folder / "o.zip").read_bytes()
    (tmp_path / "whole.zip").replace(folder / "in.zip")
    again = lambda_function.handler(_job_event(staging, imports=["pkg"], paths=["python"]), None)
    assert again["bytecode"]["sha256"] == result["bytecode"]["sha256"] == hashlib.sha256(first).hexdigest()
    with zipfile.ZipFile(folder / "o.zip") as out:
        assert len(out.namelist()) == 2


def test_an_archive_called_off_stops_the_worker_at_once(tmp_path: Path, staging: StagingServer) -> None:
    """After a failed upload the provider puts an empty object where the worker waits: no zip, an error."""
    folder = tmp_path / "s3" / "b" / "staging"
    folder.mkdir(parents=True)
    (folder / "in.zip").write_bytes(b"")
    result = lambda_function.handler(_job_event(staging, arrival_seconds=5), None)
    assert "error" in result
    assert "not a zip file" in result["error"]
    assert staging.events == ["GET /b/staging/in.zip"]
    assert not (tmp_path / "scratch").exists()


def test_the_wait_for_the_archive_is_the_providers_and_no_longer_than_the_function_has(
        tmp_path: Path, staging: StagingServer) -> None:
    result = lambda_function.handler(_job_event(staging, arrival_seconds=0.2), None)
    assert result["error"].startswith("Reading the staged archive failed: HTTPError: HTTP Error 404")

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 70_000

    assert lambda_function.arrival_wait({"arrival_seconds": 600}, Context()) == 60.0  # 10 s kept to answer
    assert lambda_function.arrival_wait({"arrival_seconds": 30}, Context()) == 30.0
    assert lambda_function.arrival_wait({}, None) == transfer.ARRIVAL_WAIT_SECONDS
    assert lambda_function.arrival_wait({"arrival_seconds": "x"}, None) == transfer.ARRIVAL_WAIT_SECONDS
    assert lambda_function.arrival_wait({"arrival_seconds": 10**9}, None) == 900.0
    assert lambda_function.arrival_wait({"arrival_seconds": -5}, None) == 0.0


def test_a_source_bundle_is_not_waited_for(tmp_path: Path, staging: StagingServer) -> None:
    """build_sdist: the provider uploads the bundle before it invokes; a missing one is an error at once."""
    result = lambda_function.handler(_job_event(staging, action="build_sdist", arrival_seconds=600), None)
    assert result["error"].startswith("Reading the staged archive failed: HTTPError: HTTP Error 404")
    assert staging.events == ["GET /b/staging/in.zip"]


def test_a_modules_url_that_is_not_presigned_is_refused(no_side_effects: Calls) -> None:
    event = {"source_url": "https://b.s3.amazonaws.com/staging/in.zip?sig",
             "output_url": "https://b.s3.amazonaws.com/staging/out.zip?sig", "modules_url": "file:///etc/passwd"}
    assert lambda_function.handler(event, None) == REFUSED
    assert no_side_effects.stray_stops == 0
