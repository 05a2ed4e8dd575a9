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
import shutil
import subprocess
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from .errors import InstallFailed, WorkerFailed
from .interpreters import Interpreter, Interpreters
from .target import Target
from .worker import job as worker_job
from .worker.protocol import ARRIVAL_CAP_SECONDS, PROTOCOL, JobReport, JobRequest

if TYPE_CHECKING:
    from .imageroot import ImageRoot
    from .sources import SourceJob

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
    imports: tuple[str, ...] = ()  # modules to import (ImportCheck as a list)
    distributions: tuple[str, ...] = ()  # ImportCheck auto: import these distributions' own modules

    @property
    def imports_anything(self) -> bool:
        return bool(self.imports or self.distributions)


@dataclass(frozen=True)
class Capability:
    compile: bool
    imports: bool
    where: str


@dataclass(frozen=True)
class Report:
    job: Job
    where: str
    data: JobReport  # the worker's report (pylayer/worker/job.py)
    bytecode: Path | None = None  # its zip of .pyc, checked


# Where the provider stack's workers come from: what a reason names when a runtime has none.
STACK_WORKERS = "the provider's WorkerRuntimes and WorkerArchitectures parameters"
# A runtime's bytecode zip, handed over as soon as it is made, while its worker still imports: not yet
# checked against the digest the report will carry (``run`` checks it before it returns).
Delivered = Callable[[Job, Path], None]
# How often the Lambda transport looks for a worker's bytecode while the worker still runs: often for the
# first seconds, then less (a long compile would otherwise cost thousands of requests).
POLL_SECONDS, POLL_SLOW_AFTER, POLL_SLOW_SECONDS = 0.05, 10.0, 0.5


@dataclass(frozen=True)
class StagedLayer:
    """The layer's bytecode-free zip as the workers get it. ``archive`` waits for it: the provider may
    still be writing it when the workers start. ``modules`` makes, for a transport that sends it apart, a
    small zip of only the modules to compile (None when not worth it): a worker compiles from it while the
    whole layer still travels."""

    archive: Callable[[], Path]
    modules: Callable[[], Path | None] = lambda: None

    @classmethod
    def written(cls, path: Path, modules: Path | None = None) -> StagedLayer:
        return cls(lambda: path, lambda: modules)


class Workers(Protocol):
    workers_from: str  # where this transport's workers come from, for a reason that says one is missing

    def capability(self, target: Target) -> Capability | None: ...

    def run(self, staged: StagedLayer, jobs: Sequence[Job], workdir: Path, time_left: Callable[[], float],
            delivered: Delivered | None = None) -> list[Report]:
        """Each job's report. A transport that can calls ``delivered`` with a runtime's bytecode before
        that worker has finished importing."""
        ...

    def build_source(self, job: SourceJob, workdir: Path, time_left: Callable[[], float]) -> Path:
        """A pure wheel built from a source distribution by the job's runtime worker (a local file)."""
        ...


def source_request(job: SourceJob, transport: JobRequest) -> JobRequest:
    """The worker's request to build one source distribution (the transport's keys added)."""
    made: JobRequest = {"protocol": PROTOCOL, "action": "build_sdist", "runtime": job.target.runtime,
                        "architecture": job.target.architecture, "backend": job.build_system.backend,
                        "backend_path": list(job.build_system.backend_path), "sdist_name": job.sdist.name}
    made.update(transport)
    return made


def _source_report(data: Mapping[str, Any], job: SourceJob) -> Mapping[str, Any]:
    """A build_sdist answer: the package refused (the user's to fix), the worker failed, or a wheel."""
    if "refused" in data:
        raise InstallFailed(str(data["refused"])[:600])
    return checked_report(data, job.target)


def _built_wheel(data: Mapping[str, Any], path: Path, job: SourceJob) -> Path:
    """The wheel a worker built, as its report describes it: the name it gave and the bytes it hashed."""
    name = str(data.get("wheel") or "")
    if not name.endswith(".whl") or "/" in name or name.startswith("."):
        raise WorkerFailed(f"The {job.target.describe()} worker built no wheel from {job.sdist.name}.")
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != data.get("sha256"):
        raise WorkerFailed(f"The wheel the {job.target.describe()} worker built from {job.sdist.name} does not "
                           "match the digest it reported; refusing it.")
    named = path.with_name(name)
    path.replace(named)
    return named


def request(job: Job, transport: JobRequest) -> JobRequest:
    """The worker's request for a job, with the transport's keys (where the archive and the output are)."""
    made: JobRequest = {"protocol": PROTOCOL, "runtime": job.target.runtime,
                        "architecture": job.target.architecture, "compile": job.compile,
                        "skip_dirs": list(SKIP_DIRS), "imports": list(job.imports),
                        "import_distributions": list(job.distributions),
                        "paths": [job.target.site_packages, "python"]}
    made.update(transport)
    return made


def checked_report(data: Mapping[str, Any], target: Target) -> JobReport:
    """A worker's answer, refused when it failed or speaks another protocol than this provider."""
    if "error" in data:
        raise WorkerFailed(f"The {target.describe()} worker failed: {str(data['error'])[:300]}")
    if data.get("protocol") != PROTOCOL:
        raise WorkerFailed(f"The {target.describe()} worker runs protocol {data.get('protocol')!s:.20}, the "
                           f"provider {PROTOCOL}: redeploy the provider stack so both are the same release.")
    return cast(JobReport, data)


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

    def run(self, staged: StagedLayer, jobs: Sequence[Job], workdir: Path, time_left: Callable[[], float],
            delivered: Delivered | None = None) -> list[Report]:
        archive = staged.archive()
        reports = []
        for job in jobs:
            scratch = workdir / f"static-{job.target.runtime}"
            scratch.mkdir(parents=True, exist_ok=True)
            only_libraries = request(Job(job.target, False), {"archive": str(archive), "output": ""})
            data = checked_report(worker_job.run(only_libraries, str(scratch)), job.target)
            reports.append(Report(job, self.capability(job.target).where, data))
        return reports

    def build_source(self, job: SourceJob, workdir: Path, time_left: Callable[[], float]) -> Path:
        raise InstallFailed(f"{job.sdist.name} is a source distribution, and building it runs its code: that "
                            f"happens only in a runtime worker, and there is none ({self.workers_from}).")


# --------------------------------------------------------------------------- local

@dataclass
class LocalWorkers:
    """Local interpreters. Imports run, where the machine allows, in a root file system that holds only
    what Lambda's images hold (``imageroot``): this machine's own libraries would hide a missing one."""

    interpreters: Interpreters
    runtime_site: Callable[[Target], Path | None] = lambda target: None
    processes: int = field(default_factory=lambda: os.cpu_count() or 1)
    image_root: ImageRoot | None = None
    workers_from = "local interpreters: PYLAYER_PYTHONS, pythonX.Y on PATH, pyenv, uv"  # not a field

    def _native(self, target: Target) -> Interpreter | None:
        own = self.interpreters.find(target.python_version, platform.machine())
        return own or self.interpreters.find(target.python_version, target.machine)

    def _importer(self, target: Target) -> Interpreter | None:
        return self.interpreters.find(target.python_version, target.machine)

    def _libraries(self, interpreter: Interpreter) -> str:
        """Whose libraries an import on this interpreter sees."""
        if interpreter.machine != platform.machine():
            return "its emulated Debian root"
        return self.image_root.describe() if self.image_root else "this machine's libraries, not the image's"

    def capability(self, target: Target) -> Capability | None:
        compiler = self._native(target)
        importer = self._importer(target)
        if compiler is None:
            return None
        where = f"local {compiler.describe()}" + (f", imports on {importer.describe()}" if importer
                                                   and importer != compiler else "")
        if importer is not None:
            where += f" ({self._libraries(importer)})"
        return Capability(True, importer is not None, where)

    def run(self, staged: StagedLayer, jobs: Sequence[Job], workdir: Path, time_left: Callable[[], float],
            delivered: Delivered | None = None) -> list[Report]:
        # Nothing is delivered early: a local job's bytecode is known when its process ends.
        archive = staged.archive()
        calls: list[tuple[Job, Interpreter, JobRequest]] = []
        processes = max(1, self.processes // (sum(1 for job in jobs if job.compile) or 1))
        for job in jobs:
            compiler = self._native(job.target)
            importer = self._importer(job.target)
            if compiler is None or (job.imports_anything and importer is None):
                raise WorkerFailed(f"No local python{job.target.python_version} for {job.target.describe()}.")
            output = workdir / f"bytecode-{job.target.runtime}.zip"
            common: JobRequest = {"archive": str(archive), "output": str(output), "scratch_parent": str(workdir),
                                  "processes": processes}
            site = self.runtime_site(job.target) if job.imports_anything else None
            if site:
                common["runtime_site"] = str(site)
            if job.imports_anything and importer is not None and importer != compiler:
                calls.append((job, compiler, request(Job(job.target, job.compile), common)))
                calls.append((job, importer, request(Job(job.target, False, job.imports, job.distributions),
                                                     {**common, "libraries_off": True})))
            else:
                calls.append((job, compiler, request(job, common)))
        with ThreadPoolExecutor(max_workers=max(1, len(calls))) as pool:
            results = list(pool.map(lambda c: self._call(c[1], c[2], workdir, time_left), calls))
        merged: dict[Job, dict[str, Any]] = {}
        wheres: dict[Job, list[str]] = {}
        for (job, interpreter, payload), answer in zip(calls, results, strict=True):
            merged.setdefault(job, {}).update({k: v for k, v in answer.items() if v is not None})
            imports = f" (imports on {self._libraries(interpreter)})" if payload.get("imports") or \
                payload.get("import_distributions") else ""
            wheres.setdefault(job, []).append(f"local {interpreter.describe()}{imports}")
        reports = []
        for job in jobs:
            data = checked_report(merged[job], job.target)
            path = workdir / f"bytecode-{job.target.runtime}.zip"
            reports.append(Report(job, "; ".join(wheres[job]), data, _checked_bytecode(data, path)))
        return reports

    def build_source(self, job: SourceJob, workdir: Path, time_left: Callable[[], float]) -> Path:
        interpreter = self._importer(job.target) or self._native(job.target)
        if interpreter is None:
            raise WorkerFailed(f"No local python{job.target.python_version} for {job.target.describe()}.")
        folder = workdir / f"source-{uuid.uuid4().hex[:8]}"
        (folder / "build").mkdir(parents=True)
        # Everything the build reads sits in the work folder: the one folder bound into the image root.
        wheels = [Path(shutil.copy(w, folder / "build" / w.name)) for w in job.build_wheels]
        sdist = Path(shutil.copy(job.sdist, folder / job.sdist.name))
        payload = source_request(job, {"sdist": str(sdist), "build_wheels": [str(w) for w in wheels],
                                       "output_dir": str(folder / "out"), "scratch_parent": str(workdir)})
        data = _source_report(self._call(interpreter, payload, workdir, time_left), job)
        return _built_wheel(data, folder / "out" / Path(str(data.get("wheel") or "missing.whl")).name, job)

    def _call(self, interpreter: Interpreter, payload: JobRequest, workdir: Path, time_left: Callable[[], float]
              ) -> dict[str, Any]:
        command = [*interpreter.command, "-S", "-c", _BOOT.format(root=str(HANDLER_ROOT))]
        payload = cast(JobRequest, {**payload, "python": list(interpreter.command)})
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
        env.update(PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
        if self.image_root is not None and interpreter.machine == platform.machine() and \
                (payload.get("imports") or payload.get("import_distributions") or payload.get("action")):
            # Package code runs here: in the image's file system, with only the folders the job needs.
            from .imageroot import interpreter_binds  # local runs only

            binds = [*interpreter_binds(interpreter.command), str(HANDLER_ROOT)]
            binds += [str(payload["runtime_site"])] if payload.get("runtime_site") else []
            env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
                   "TMPDIR": "/tmp"}
            command = self.image_root.command(command, binds=binds, writable=[str(workdir)], env=env)
            # Its scratch (the extracted layer) in the root's own /tmp, as a worker function has its own:
            # only the bytecode zip comes back through the work folder.
            payload = cast(JobRequest, {**payload, "scratch_parent": "/tmp"})
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
    """The part of the artifact bucket the Lambda transport uses: its staging/ prefix."""

    @property
    def bucket(self) -> str: ...
    def put_file(self, path: Path, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def download(self, key: str, dest: Path) -> None: ...
    def remove(self, keys: Sequence[str]) -> None: ...
    def presign(self, key: str, method: Literal["get", "put"], seconds: int) -> str: ...


class Invoker(Protocol):
    def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Keys:
    """A Lambda run's objects under staging/: the layer, its modules (if sent apart) and each job's bytecode."""

    archive: str
    modules: str | None
    outputs: Mapping[Job, str]

    def all(self) -> list[str]:
        return [self.archive, *([self.modules] if self.modules else []), *self.outputs.values()]


@dataclass
class LambdaWorkers:
    staging: Staging
    invoker: Invoker
    functions: Mapping[tuple[str, str], str]  # (runtime, architecture) -> worker function ARN
    workers_from = STACK_WORKERS  # not a field

    def capability(self, target: Target) -> Capability | None:
        function = self.functions.get((target.runtime, target.architecture))
        return Capability(True, True, f"worker {function}") if function else None

    def run(self, staged: StagedLayer, jobs: Sequence[Job], workdir: Path, time_left: Callable[[], float],
            delivered: Delivered | None = None) -> list[Report]:
        prefix = f"staging/{uuid.uuid4().hex}/"
        modules = staged.modules()
        keys = Keys(prefix + "layer.zip", prefix + "modules.zip" if modules else None,
                    {job: f"{prefix}bytecode-{job.target.runtime}-{job.target.architecture}.zip" for job in jobs})
        # The workers are invoked while the archive is written and uploads: their start (a cold one's init, in
        # AWS) overlaps it, and each waits for the archive to be there (worker protocol 4). The modules go
        # first: a worker compiles them while the rest of the layer still travels (protocol 5).
        pool = ThreadPoolExecutor(max_workers=len(jobs) + 2)
        stop = threading.Event()  # the upload failed: nobody waits for the workers' bytecode any more
        uploads: dict[str, Future[None]] = {}
        try:
            if modules and keys.modules:
                uploads[keys.modules] = pool.submit(self.staging.put_file, modules, keys.modules)
            uploads[keys.archive] = pool.submit(self._put_archive, staged, keys.archive, stop)
            running = [pool.submit(self._one, job, keys, job_output, workdir, time_left, delivered, stop)
                       for job, job_output in keys.outputs.items()]
            for upload in uploads.values():
                upload.result()
            return [r.result() for r in running]
        finally:
            failed = any(not upload.done() or upload.exception() for upload in uploads.values())
            if failed:
                stop.set()  # an archive still being written is not uploaded, and the pollers stop
                # An upload still under way ends first (each is bounded by the client's timeouts and retries):
                # the empty objects must come after it, or it would overwrite them.
                wait(list(uploads.values()), timeout=max(min(time_left(), 300.0), 1.0))
                self._call_off(list(uploads), workdir)
            # Every worker is waited for (each no longer than the request has left), except after a failed
            # upload: that is the build's failure, and the workers are told to stop waiting for it.
            pool.shutdown(wait=not failed)
            try:
                self.staging.remove([key for key in keys.all() if not (failed and key in uploads)])
            except Exception:
                log.warning("Could not remove the staged files under %s", prefix, exc_info=True)

    def _put_archive(self, staged: StagedLayer, key: str, stop: threading.Event) -> None:
        path = staged.archive()  # may still be being written
        if not stop.is_set():  # another upload failed meanwhile: the build has failed
            self.staging.put_file(path, key)

    def _call_off(self, keys: Sequence[str], workdir: Path) -> None:
        """After a failed upload, an empty object at each staged input: a worker waiting for one reads no zip
        and stops, instead of waiting as long as the request could have. Best effort (S3 failed just now);
        left for the staging/ lifecycle rule, since a worker that found one gone would wait again."""
        empty = workdir / f"{uuid.uuid4().hex[:8]}-called-off"
        try:
            empty.write_bytes(b"")
            for key in keys:
                try:
                    self.staging.put_file(empty, key)
                except Exception:
                    log.warning("Could not tell the workers to stop waiting for %s", key, exc_info=True)
            empty.unlink(missing_ok=True)
        except OSError:  # the failure being answered matters more than this
            log.warning("Could not tell the workers to stop waiting", exc_info=True)

    def build_source(self, job: SourceJob, workdir: Path, time_left: Callable[[], float]) -> Path:
        function = self.functions.get((job.target.runtime, job.target.architecture))
        if function is None:
            raise WorkerFailed(f"No {job.target.describe()} worker ({self.workers_from}).")
        prefix = f"staging/{uuid.uuid4().hex}/"
        bundle = workdir / f"{uuid.uuid4().hex[:8]}-source.zip"
        with zipfile.ZipFile(bundle, "w") as out:  # the sdist and its build environment, stored as they are
            out.write(job.sdist, f"sdist/{job.sdist.name}")
            for wheel in job.build_wheels:
                out.write(wheel, f"build/{wheel.name}")
        source, output = prefix + "source.zip", prefix + "built.whl"
        try:
            self.staging.put_file(bundle, source)
            payload = source_request(job, self._urls(source, output, time_left))
            data = _source_report(self.invoker.invoke(function, dict(payload), max(time_left(), 1.0)), job)
            path = workdir / f"{uuid.uuid4().hex[:8]}-built.whl"
            self.staging.download(output, path)
            return _built_wheel(data, path, job)
        finally:
            try:
                self.staging.remove([source, output])
            except Exception:
                log.warning("Could not remove the staged files under %s", prefix, exc_info=True)

    def _urls(self, source: str, output: str, time_left: Callable[[], float], modules: str | None = None
              ) -> JobRequest:
        """The job's objects as presigned URLs, valid while the build may run: the worker's role has no
        access to S3, and the URLs reach these objects and nothing else."""
        seconds = int(min(max(time_left(), 60.0), 3600.0)) + 60
        urls: JobRequest = {"source_url": self.staging.presign(source, "get", seconds),
                            "output_url": self.staging.presign(output, "put", seconds)}
        if modules:
            urls["modules_url"] = self.staging.presign(modules, "get", seconds)
        return urls

    def _one(self, job: Job, keys: Keys, output: str, workdir: Path, time_left: Callable[[], float],
             delivered: Delivered | None, stop: threading.Event) -> Report:
        function = self.functions[(job.target.runtime, job.target.architecture)]
        transport = self._urls(keys.archive, output, time_left, keys.modules if job.compile else None)
        # How long the worker waits for the staged objects: as long as this request waits for the worker.
        transport["arrival_seconds"] = round(min(max(time_left(), 1.0), ARRIVAL_CAP_SECONDS))
        payload = request(job, transport)
        path = workdir / f"bytecode-{job.target.runtime}.zip"
        invoking = ThreadPoolExecutor(max_workers=1)
        try:
            answer = invoking.submit(self.invoker.invoke, function, dict(payload), max(time_left(), 1.0))
            fetched = job.compile and delivered is not None and \
                self._early(answer, output, path, job, delivered, time_left, stop)
            try:
                data = checked_report(answer.result(timeout=max(time_left(), 1.0)), job.target)
            except FuturesTimeout:
                raise WorkerFailed(f"The {job.target.describe()} worker did not finish in the time the request "
                                   "had left before the Lambda timeout.") from None
        finally:
            invoking.shutdown(wait=False)  # a worker past the deadline is not waited for
        if not isinstance(data.get("bytecode"), Mapping):
            return Report(job, f"worker {function}", data)
        if not fetched:
            self.staging.download(output, path)
        return Report(job, f"worker {function}", data, _checked_bytecode(data, path))

    def _early(self, answer: Future[dict[str, Any]], output: str, path: Path, job: Job, delivered: Delivered,
               time_left: Callable[[], float], stop: threading.Event) -> bool:
        """While the worker runs: its bytecode, once it has written it (before its imports), handed over.
        True if fetched. Best effort: the report that follows decides, and its digest checks these bytes."""
        started = time.monotonic()
        try:
            while not answer.done() and time_left() > 0 and not stop.is_set():
                if self.staging.exists(output):
                    self.staging.download(output, path)
                    delivered(job, path)
                    return True
                slow = time.monotonic() - started > POLL_SLOW_AFTER
                wait([answer], timeout=POLL_SLOW_SECONDS if slow else POLL_SECONDS)
        except Exception:
            log.warning("Could not take the %s bytecode early; waiting for the worker", job.target.describe(),
                        exc_info=True)
        return False
