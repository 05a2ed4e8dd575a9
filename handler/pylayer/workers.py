"""Runtime workers, as the provider sees them: one interface, a local and a Lambda transport.

A worker of runtime X.Y compiles a layer's modules with X.Y's own interpreter,
checks its ELF objects against X.Y's image and, when asked, imports modules on
X.Y and the target architecture (``pylayer.worker``). The provider asks each
transport what it can do for a target (``capability``) and gives it jobs
(``run``); it does not care where they run.

- ``LambdaWorkers``: the provider stack's worker functions (template.yaml),
  the archive staged under the bucket's ``staging/`` prefix, invoked in
  parallel; each bytecode zip is checked against the digest its worker returned.
- ``LocalWorkers``: local interpreters (``interpreters``); compiling uses a
  native one, imports one of the target's machine (emulated for arm64 where
  the machine has it).
- ``StaticCheck``: no worker for the runtime: the library check runs in the
  provider itself (a static read of ELF headers: no package code runs).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import subprocess
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .errors import InstallFailed, WorkerFailed
from .interpreters import Interpreter, Interpreters
from .target import Target
from .worker import job as worker_job

log = logging.getLogger(__name__)
HANDLER_ROOT = Path(__file__).resolve().parent.parent  # the folder holding pylayer/
SKIP_DIRS = ("tests",)  # test suites: no import of the package loads them, so no bytecode for them
# What the runtimes ship and the import check appends to sys.path locally (Lambda's own is used there).
RUNTIME_BOTO3 = "boto3==1.40.4"
_BOOT = ("import sys; sys.path.insert(0, {root!r}); from pylayer.worker.__main__ import main; sys.exit(main())")


@dataclass(frozen=True)
class Job:
    target: Target
    compile: bool
    imports: tuple[str, ...] = ()


@dataclass(frozen=True)
class Capability:
    compile: bool
    imports: bool
    where: str


@dataclass(frozen=True)
class Report:
    job: Job
    where: str
    data: Mapping[str, Any]  # the worker's report (pylayer/worker/job.py)
    bytecode: Path | None = None  # its zip of .pyc, checked


# Where the provider stack's workers come from: what a reason names when a runtime has none.
STACK_WORKERS = "the provider's WorkerRuntimes and WorkerArchitectures parameters"


class Workers(Protocol):
    workers_from: str  # where this transport's workers come from, for a reason that says one is missing

    def capability(self, target: Target) -> Capability | None: ...

    def run(self, archive: Path, jobs: Sequence[Job], workdir: Path, time_left: Callable[[], float]
            ) -> list[Report]: ...


def request(job: Job, **extra: Any) -> dict[str, Any]:
    """The worker's request for a job (the transport adds where the archive and the output are)."""
    return {"runtime": job.target.runtime, "architecture": job.target.architecture, "compile": job.compile,
            "skip_dirs": list(SKIP_DIRS), "imports": list(job.imports),
            "paths": [job.target.site_packages, "python"], **extra}


def _checked_bytecode(data: Mapping[str, Any], path: Path) -> Path | None:
    bytecode = data.get("bytecode")
    if not isinstance(bytecode, Mapping):
        return None
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
    if digest != bytecode.get("sha256"):
        raise WorkerFailed(f"The bytecode the {data.get('runtime')} worker made does not match the digest it "
                           "reported; refusing it.")
    return path


# --------------------------------------------------------------------------- static, in the provider

class StaticCheck:
    """The library check alone, in-process: for runtimes no worker serves."""

    workers_from = STACK_WORKERS

    def capability(self, target: Target) -> Capability:
        return Capability(False, False, "the provider's static check (no worker for this runtime)")

    def run(self, archive: Path, jobs: Sequence[Job], workdir: Path, time_left: Callable[[], float]
            ) -> list[Report]:
        reports = []
        for job in jobs:
            scratch = workdir / f"static-{job.target.runtime}"
            scratch.mkdir(parents=True, exist_ok=True)
            data = worker_job.run(request(Job(job.target, False), archive=str(archive), output=""), str(scratch))
            reports.append(Report(job, self.capability(job.target).where, data))
        return reports


# --------------------------------------------------------------------------- local

@dataclass
class LocalWorkers:
    interpreters: Interpreters
    runtime_site: Callable[[Target], Path | None] = lambda target: None
    processes: int = field(default_factory=lambda: os.cpu_count() or 1)
    workers_from = "local interpreters: PYLAYER_PYTHONS, pythonX.Y on PATH, pyenv, uv"  # not a field

    def _native(self, target: Target) -> Interpreter | None:
        own = self.interpreters.find(target.python_version, platform.machine())
        return own or self.interpreters.find(target.python_version, target.machine)

    def capability(self, target: Target) -> Capability | None:
        compiler = self._native(target)
        importer = self.interpreters.find(target.python_version, target.machine)
        if compiler is None:
            return None
        where = f"local {compiler.describe()}" + (f", imports on {importer.describe()}" if importer
                                                   and importer != compiler else "")
        return Capability(True, importer is not None, where)

    def run(self, archive: Path, jobs: Sequence[Job], workdir: Path, time_left: Callable[[], float]
            ) -> list[Report]:
        calls: list[tuple[Job, Interpreter, dict[str, Any]]] = []
        for job in jobs:
            compiler = self._native(job.target)
            importer = self.interpreters.find(job.target.python_version, job.target.machine)
            if compiler is None or (job.imports and importer is None):
                raise WorkerFailed(f"No local python{job.target.python_version} for {job.target.describe()}.")
            output = workdir / f"bytecode-{job.target.runtime}.zip"
            common = {"archive": str(archive), "output": str(output), "scratch_parent": str(workdir)}
            if job.imports and importer is not None and importer != compiler:
                calls.append((job, compiler, request(Job(job.target, job.compile), **common)))
                site = self.runtime_site(job.target)
                calls.append((job, importer, {**request(Job(job.target, False, job.imports), **common),
                                              "runtime_site": str(site) if site else "", "libraries_off": True}))
            else:
                site = self.runtime_site(job.target) if job.imports else None
                calls.append((job, compiler, {**request(job, **common), "runtime_site": str(site) if site else ""}))
        compiling = sum(1 for _, _, r in calls if r["compile"]) or 1
        processes = max(1, self.processes // compiling)
        with ThreadPoolExecutor(max_workers=max(1, len(calls))) as pool:
            results = list(pool.map(lambda c: self._call(c[1], {**c[2], "processes": processes}, time_left), calls))
        merged: dict[Job, dict[str, Any]] = {}
        wheres: dict[Job, list[str]] = {}
        for (job, interpreter, _), data in zip(calls, results, strict=True):
            merged.setdefault(job, {}).update({k: v for k, v in data.items() if v is not None})
            wheres.setdefault(job, []).append(f"local {interpreter.describe()}")
        reports = []
        for job in jobs:
            data = merged[job]
            path = workdir / f"bytecode-{job.target.runtime}.zip"
            reports.append(Report(job, "; ".join(wheres[job]), data, _checked_bytecode(data, path)))
        return reports

    def _call(self, interpreter: Interpreter, payload: dict[str, Any], time_left: Callable[[], float]
              ) -> dict[str, Any]:
        command = [*interpreter.command, "-S", "-c", _BOOT.format(root=str(HANDLER_ROOT))]
        payload = {**payload, "python": list(interpreter.command)}
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
        env.update(PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
        timeout = max(time_left(), 1.0)
        try:
            done = subprocess.run(command, input=json.dumps(payload), env=env, capture_output=True,  # noqa: S603
                                  text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise WorkerFailed(f"The {payload['runtime']} worker did not finish in {int(timeout)} s "
                               "(the time left before the Lambda timeout).") from None
        try:
            data: dict[str, Any] = json.loads(done.stdout)
        except ValueError:
            data = {"error": (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]}
        if "error" in data:
            raise WorkerFailed(f"The {payload['runtime']} worker failed: {str(data['error'])[:300]}",
                               done.stderr[-4000:])
        return data


class RuntimeSite:
    """A folder with what the Lambda runtime itself provides (boto3), per Python version, installed once."""

    def __init__(self, cache: Path, uv: Callable[[], str]) -> None:
        self.cache = cache
        self.uv = uv

    def __call__(self, target: Target) -> Path | None:
        folder = self.cache / f"runtime-site-{target.python_version}"
        if (folder / "boto3").is_dir():
            return folder
        command = [self.uv(), "pip", "install", "--quiet", "--target", str(folder), "--python-version",
                   target.python_version, "--python-platform", target.uv_platform, "--only-binary", ":all:",
                   "--no-compile-bytecode", RUNTIME_BOTO3]
        env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
        if done.returncode != 0:
            raise InstallFailed(f"Could not install the runtime's own {RUNTIME_BOTO3} for the import check.",
                                done.stderr[-4000:])
        return folder


# --------------------------------------------------------------------------- Lambda

class Staging(Protocol):
    """The part of the store the Lambda transport uses: the staging prefix and the invoke."""

    bucket: str

    def upload(self, path: Path, key: str) -> bool: ...
    def download(self, key: str, dest: Path) -> None: ...
    def remove(self, keys: Sequence[str]) -> None: ...
    def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]: ...


@dataclass
class LambdaWorkers:
    staging: Staging
    functions: Mapping[tuple[str, str], str]  # (runtime, architecture) -> worker function ARN
    workers_from = STACK_WORKERS  # not a field

    def capability(self, target: Target) -> Capability | None:
        function = self.functions.get((target.runtime, target.architecture))
        return Capability(True, True, f"worker {function}") if function else None

    def run(self, archive: Path, jobs: Sequence[Job], workdir: Path, time_left: Callable[[], float]
            ) -> list[Report]:
        prefix = f"staging/{uuid.uuid4().hex}/"
        source = prefix + "layer.zip"
        outputs = {job: f"{prefix}bytecode-{job.target.runtime}-{job.target.architecture}.zip" for job in jobs}
        self.staging.upload(archive, source)
        try:
            with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
                return list(pool.map(lambda j: self._one(j, source, outputs[j], workdir, time_left), jobs))
        finally:
            try:
                self.staging.remove([source, *outputs.values()])
            except Exception:
                log.warning("Could not remove the staged files under %s", prefix, exc_info=True)

    def _one(self, job: Job, source: str, output: str, workdir: Path, time_left: Callable[[], float]) -> Report:
        function = self.functions[(job.target.runtime, job.target.architecture)]
        payload = request(job, bucket=self.staging.bucket, source_key=source, output_key=output)
        data = self.staging.invoke(function, payload, max(time_left(), 1.0))
        if "error" in data:
            raise WorkerFailed(f"The {job.target.describe()} worker failed: {str(data['error'])[:300]}")
        path = None
        if isinstance(data.get("bytecode"), Mapping):
            path = workdir / f"bytecode-{job.target.runtime}.zip"
            self.staging.download(output, path)
        return Report(job, f"worker {function}", data, _checked_bytecode(data, path) if path else None)
