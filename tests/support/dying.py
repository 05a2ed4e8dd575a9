"""A provider invocation that dies, as Lambda ends one that runs out of memory: in its own process, killed
(SIGKILL) in the middle of its build, before crhelper's timer could answer. What Lambda then gives the
on-failure destination (the reaper) is returned: the record of the failed invocation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:python-layer-provider-ProviderFunction"


def stalling_installer(folder: Path) -> tuple[Path, Path]:
    """A uv that says it started, then never finishes: the build is under way when the kill comes."""
    started = folder / "installer-started"
    script = folder / "uv"
    script.write_text(f"#!{sys.executable}\nimport os, time\nopen({str(started)!r}, 'w').write(str(os.getpid()))\n"
                      "time.sleep(600)\n")
    script.chmod(0o755)
    return script, started


class DyingLambda:
    def __init__(self, environment: Mapping[str, str], started: Path) -> None:
        self.environment = dict(environment)
        self.started = started

    def __call__(self, request: Mapping[str, Any]) -> dict[str, Any]:
        env = {**self.environment, "PYTHONPATH": os.pathsep.join([str(ROOT / "handler"), str(ROOT)])}
        process = subprocess.Popen([sys.executable, "-m", "tests.bench_lambda"], cwd=ROOT, env=env,
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   text=True)
        assert process.stdin is not None
        process.stdin.write(json.dumps(request) + "\n")
        process.stdin.flush()
        deadline = time.monotonic() + 120
        while not self.started.exists():
            assert process.poll() is None, "the provider ended before its build started"
            assert time.monotonic() < deadline, "the build never started"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)  # out of memory: no handler, no timer, nothing runs
        process.wait(timeout=60)
        installer = int(self.started.read_text() or 0)
        if installer:
            os.kill(installer, signal.SIGKILL)
        self.started.unlink()
        return destination_record(request, {"errorType": "Runtime.ExitError",
                                            "errorMessage": "RequestId: x Error: Runtime exited with error: "
                                                            "signal: killed"})


def destination_record(request: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    """What Lambda sends an on-failure destination (AWS docs, 'Retaining records of asynchronous invocations')."""
    return {"version": "1.0", "timestamp": "2026-12-01T00:00:00.000Z",
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": f"{FUNCTION}:$LATEST",
                               "condition": "RetriesExhausted", "approximateInvokeCount": 1},
            "requestPayload": dict(request),
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": dict(payload)}
