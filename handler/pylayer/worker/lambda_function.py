"""The worker as a Lambda function, one per runtime and architecture (template.yaml: Worker*).

The provider stages the layer's archive under the artifact bucket's
``staging/`` prefix and invokes the worker of each runtime it serves with
presigned URLs: one to read that archive, one to write the bytecode zip, and
for a large layer one to read its modules alone (fetched first: compiling
starts on them while the archive is read). It invokes while the archive is
still written and uploaded: the worker waits for it (``arrival_seconds``). The
worker returns its report (with the zip's sha256, which the provider checks).
Its own role reaches nothing but its logs: no S3, and never the role that
publishes and deletes layers (``transfer``).

``{"action": "describe"}`` returns what this runtime really has: its Python,
machine, sys.path and the libraries of its library directories (the data
behind lambda_libraries.json).
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import sys
import time
import zipfile
from typing import Any

from . import PROTOCOL, job, libraries, sourcejob, transfer
from .protocol import ARRIVAL_CAP_SECONDS

SCRATCH = os.environ.get("PYLAYER_WORKER_SCRATCH", "/tmp/pylayer-worker")
# What the worker takes from the provider's request as it is; the rest is this function's to set.
_FIELDS = ("protocol", "runtime", "architecture", "compile", "skip_dirs", "imports", "import_distributions", "paths")
REFUSED = "the request must name the staged archive and the output by presigned http(s) URLs"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("action") == "describe":
        return describe()
    source, output, modules = event.get("source_url"), event.get("output_url"), event.get("modules_url")
    if not transfer.is_url(source) or not transfer.is_url(output) or (modules is not None and not
                                                                       transfer.is_url(modules)):
        return {"error": REFUSED}
    if event.get("protocol", PROTOCOL) != PROTOCOL:  # before anything is read: the reason that helps
        return {"error": f"the provider speaks protocol {event.get('protocol')!s:.20}, this worker {PROTOCOL}: "
                         "redeploy the provider stack so both are the same release"}
    stop_strays()
    shutil.rmtree(SCRATCH, ignore_errors=True)
    os.makedirs(SCRATCH)
    archive = os.path.join(SCRATCH, "layer.zip")
    # A source bundle is uploaded before the invoke: only a job's objects may still be on their way.
    # One wait for both staged objects, not one each: the modules, then the archive, by one deadline.
    waited = time.monotonic() + (0.0 if event.get("action") == "build_sdist" else arrival_wait(event, context))

    def fetch(url: str, path: str) -> None:
        try:
            transfer.get(url, path, arrival=max(waited - time.monotonic(), 0.0))
        except OSError as exc:
            raise Unreadable(f"Reading the staged archive failed: {type(exc).__name__}: {exc}"[:1000]) from None

    request = {k: event[k] for k in _FIELDS if k in event}
    request.update(archive=archive, output=os.path.join(SCRATCH, "bytecode.zip"), libraries="scanned",
                   processes=os.cpu_count() or 1, python=[sys.executable])
    try:
        if isinstance(modules, str) and event.get("compile"):
            # The modules come first and alone: the compile children start on them while the archive travels.
            request["modules"] = os.path.join(SCRATCH, "modules.zip")
            fetch(modules, request["modules"])
        else:
            fetch(str(source), archive)
    except Unreadable as exc:
        shutil.rmtree(SCRATCH, ignore_errors=True)
        return {"error": str(exc)}
    if event.get("action") == "build_sdist":
        return build_source(event, archive, str(output))

    def upload(bytecode: dict[str, Any]) -> None:  # before any package code runs
        transfer.put(request["output"], str(output))
        bytecode["staged"] = True

    try:
        later = (lambda: fetch(str(source), archive)) if "modules" in request else (lambda: None)
        return job.run(request, os.path.join(SCRATCH, "job"), upload, later)
    except Unreadable as exc:
        return {"error": str(exc)}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:1000]}
    finally:
        stop_strays()
        shutil.rmtree(SCRATCH, ignore_errors=True)


class Unreadable(Exception):
    """A staged object could not be read: the reason as the provider shows it."""


def arrival_wait(event: dict[str, Any], context: Any) -> float:
    """How long to wait for a staged object: as long as the provider waits (its request says), no longer
    than this invocation has left."""
    try:
        wanted = float(event.get("arrival_seconds", transfer.ARRIVAL_WAIT_SECONDS))
    except (TypeError, ValueError):
        wanted = transfer.ARRIVAL_WAIT_SECONDS
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        wanted = min(wanted, remaining() / 1000.0 - 10.0)  # time left to answer
    return max(0.0, min(wanted, ARRIVAL_CAP_SECONDS))


def build_source(event: dict[str, Any], bundle: str, output: str) -> dict[str, Any]:
    """A source distribution and its build environment in (a zip: sdist/NAME, build/*.whl), a wheel out."""
    folder = os.path.join(SCRATCH, "source")
    name = os.path.basename(str(event.get("sdist_name") or ""))
    try:
        with zipfile.ZipFile(bundle) as staged:
            members = [m for m in staged.namelist() if m.count("/") == 1 and ".." not in m]
            staged.extractall(folder, members)
        wheels = sorted(os.path.join(folder, m) for m in members if m.startswith("build/") and m.endswith(".whl"))
        request = {**{k: event.get(k) for k in ("protocol", "runtime", "backend", "backend_path")},
                   "sdist": os.path.join(folder, "sdist", name), "build_wheels": wheels,
                   "output_dir": os.path.join(SCRATCH, "out"), "python": [sys.executable]}
        built = sourcejob.run(request, os.path.join(SCRATCH, "job"))
        if "path" in built:
            transfer.put(built.pop("path"), output)
        return built
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:1000]}
    finally:
        stop_strays()
        shutil.rmtree(SCRATCH, ignore_errors=True)


def describe() -> dict[str, Any]:
    runtime = job.version_tag()
    system = libraries.System.scanned(runtime)
    return {"protocol": PROTOCOL, "runtime": runtime, "python": platform.python_version(),
            "machine": platform.machine(), "glibc": f"{system.glibc[0]}.{system.glibc[1]}", "sys_path": sys.path,
            "ld_library_path": os.environ.get("LD_LIBRARY_PATH", ""), "libraries": sorted(system.names),
            "runtime_site": job.runtime_site()}


def stop_strays() -> None:
    """Kill what an import of an earlier job may have left running in this container (a package's daemon).

    Only inside Lambda's sandbox, where every other process is the runtime's or ours: anywhere else
    (a test, a laptop) the machine's other processes are none of the worker's business.
    """
    if not (os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and os.environ.get("LAMBDA_TASK_ROOT")):
        return
    keep = set()
    pid = os.getpid()
    while pid > 0 and pid not in keep:  # this process and its ancestors
        keep.add(pid)
        pid = _parent(pid)
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in keep and int(entry) != 1:
            with contextlib.suppress(OSError):
                os.kill(int(entry), signal.SIGKILL)


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0
