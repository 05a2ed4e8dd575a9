"""Lambda's API on loopback for the provider's worker functions: Invoke runs the worker, the rest is moto.

moto cannot run a function without Docker. botocore sends Lambda calls to
``AWS_ENDPOINT_URL_LAMBDA`` when it is set, so a provider pointed here gets its
worker Invokes played for real: the worker function's own handler
(``pylayer.worker.lambda_function``) in a process of the runtime's interpreter,
with no AWS credentials (its staged objects come as presigned URLs to moto's S3), in the
Lambda-like root where this machine has it. Every other call (PublishLayerVersion, GetLayerVersion, ...)
is passed to moto as it came.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from pylayer import imageroot
from pylayer.interpreters import Interpreter
from tests.support import aws
from tests.support.loopback import Loopback

HANDLER = Path(__file__).resolve().parents[2] / "handler"
_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/invocations")
_RUN = ("import json, sys; from pylayer.worker.lambda_function import handler; "
        "print(json.dumps(handler(json.load(sys.stdin), None)))")


class PlayedLambda(Loopback):
    """``functions``: function ARN -> (interpreter, the folder holding that runtime's own boto3)."""

    def __init__(self, moto: str, functions: Mapping[str, tuple[Interpreter, Path]]) -> None:
        self.moto, self.functions = moto.rstrip("/"), dict(functions)
        self.invoked: list[str] = []
        self.seconds: list[float] = []
        played = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                played.answer(self)

            def do_GET(self) -> None:
                played.answer(self)

            def do_DELETE(self) -> None:
                played.answer(self)

            def do_PUT(self) -> None:
                played.answer(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        super().__init__(Handler)
        self.url = f"http://localhost:{self.port}"

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        match = _INVOKE.match(request.path)
        if request.command == "POST" and match:
            status, headers, payload = self.invoke(urllib.parse.unquote(match["function"]), body)
        else:
            status, headers, payload = self.forward(request, body)
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def forward(self, request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, dict[str, str], bytes]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        sent = urllib.request.Request(self.moto + request.path, data=body or None, headers=headers,
                                      method=request.command)
        try:
            with urllib.request.urlopen(sent, timeout=120) as answer:
                return answer.status, {"Content-Type": answer.headers.get("Content-Type", "")}, answer.read()
        except urllib.error.HTTPError as failed:
            return failed.code, {"Content-Type": failed.headers.get("Content-Type", "")}, failed.read()

    def invoke(self, function: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        self.invoked.append(function)
        found = self.functions.get(function)
        if found is None:
            return 404, {"Content-Type": "application/json"}, json.dumps(
                {"Type": "User", "Message": f"Function not found: {function}"}).encode()
        interpreter, site = found
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="played-worker-") as scratch:
            done = self._run(interpreter, site, Path(scratch), body)
        self.seconds.append(time.perf_counter() - started)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            error = {"errorMessage": (done.stderr.strip().splitlines() or ["the worker died"])[-1][:300],
                     "errorType": "Runtime.ExitError"}
            return 200, {"X-Amz-Function-Error": "Unhandled"}, json.dumps(error).encode()
        return 200, {"Content-Type": "application/json"}, lines[-1].encode()

    def _run(self, interpreter: Interpreter, site: Path, scratch: Path, body: bytes
             ) -> subprocess.CompletedProcess[str]:
        # No AWS credentials: a worker's role reaches nothing but its logs (its two objects come as presigned URLs).
        env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch),
               "PYTHONPATH": f"{HANDLER}{os.pathsep}{site}", "PYLAYER_WORKER_SCRATCH": str(scratch / "work"),
               "LANG": "C.UTF-8"}
        command = [*interpreter.command, "-c", _RUN]
        root = imageroot.find()
        if root is not None and interpreter.machine == os.uname().machine:
            # As a worker function: its runtime's file system, its own processes, its own /tmp (the root's
            # tmpfs; a function's /tmp is its own, not the provider's disk).
            binds = [*imageroot.interpreter_binds(interpreter.command), str(HANDLER), str(site)]
            env.update(HOME="/tmp", PYLAYER_WORKER_SCRATCH="/tmp/pylayer-worker")
            command = root.command(command, binds=binds, writable=[str(scratch)], env=env)
        return subprocess.run(command, input=body.decode(), env=env, capture_output=True, text=True,
                              timeout=900, check=False)


def functions_for(runtimes: Mapping[str, tuple[Interpreter, Path]]) -> tuple[str, dict[str, tuple[Interpreter, Path]]]:
    """WORKER_FUNCTIONS for the given "runtime/architecture" keys, and the played functions."""
    named = {f"arn:aws:lambda:{aws.REGION}:123456789012:function:played-{k.replace('/', '-').replace('.', '')}": v
             for k, v in runtimes.items()}
    setting = ",".join(f"{k}={arn}" for k, arn in zip(runtimes, named, strict=True))
    return setting, named

