"""Before a version is published: bytecode from each runtime's worker, and proof the layer loads there.

``plan_jobs`` and ``evaluate`` are pure: what each runtime's worker is asked,
and what its report means (an error that fails the request, or a warning for
the log). ``verify`` runs them: it stages the bytecode-free archive, has the
workers compile, check libraries and import, refuses a layer that would not
load, and adds the bytecode (``Bytecode: auto`` leaves it out when it would
take the layer over Lambda's limit).
"""

from __future__ import annotations

import logging
import re
import threading
import zipfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import archive
from .archive import Entry, WheelMember
from .errors import LayerTooLarge, NotLoadable
from .identity import PROOF_STATES, BytecodeState, ProofState
from .progress import Progress, Silent
from .properties import LayerSpec, clip
from .target import Target
from .worker.protocol import ImportOutcome, JobReport, LibraryProblem
from .workers import SKIP_DIRS, STACK_WORKERS, Capability, Delivered, Job, Report, StagedLayer, StaticCheck, Workers

log = logging.getLogger(__name__)
# The packages whose wheels need libraries Lambda's images lack, and what to use instead.
KNOWN_FIXES = {
    "opencv-python": "opencv-python-headless",
    "opencv-contrib-python": "opencv-contrib-python-headless",
}
IMAGES = {"al2": "Amazon Linux 2", "al2023": "Amazon Linux 2023"}


@dataclass(frozen=True)
class Jobs:
    workers: tuple[Job, ...]  # for the workers
    static: tuple[Job, ...]  # runtimes no worker serves: the provider's static library check
    no_bytecode: tuple[Target, ...]  # runtimes that get no bytecode although it was asked for


def plan_jobs(spec: LayerSpec, capabilities: Mapping[Target, Capability | None], workers_from: str = STACK_WORKERS
              ) -> Jobs:
    """What each runtime's worker does; refuses what the spec requires and no worker can do.

    ImportCheck auto imports the requested distributions' modules wherever a worker can import, and
    falls back to the library check where none can (the Proof attribute says which)."""
    workers, static, no_bytecode = [], [], []
    for target in spec.targets:
        able = capabilities.get(target)
        if spec.import_mode == "modules" and (able is None or not able.imports):
            raise NotLoadable(f"ImportCheck needs a {target.describe()} worker to import on, and there is none "
                              f"({workers_from}).")
        compiles = spec.bytecode != "false" and able is not None and able.compile
        if spec.bytecode != "false" and not compiles:
            if spec.bytecode == "true":
                raise NotLoadable(f"Bytecode is true, but there is no {target.describe()} worker to compile for it "
                                  f"({workers_from}); set Bytecode to auto or false.")
            no_bytecode.append(target)
        if able is None:
            static.append(Job(target, False))
        else:
            auto = spec.import_mode == "auto" and able.imports
            workers.append(Job(target, compiles, spec.import_check, spec.distributions if auto else ()))
    return Jobs(tuple(workers), tuple(static), tuple(no_bytecode))


@dataclass(frozen=True)
class Findings:
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _shown(path: str) -> str:
    """python/lib/python3.12/site-packages/cv2/x.so -> cv2/x.so (python/ likewise)."""
    return archive.in_folder(path)


def _library_problem(target: Target, problem: LibraryProblem, owners: Mapping[str, str]) -> str:
    where = _shown(problem["path"])
    if problem["what"] == "machine":
        return f"{where} is built for {problem['detail']}, not {target.machine}"
    if problem["what"] == "glibc":
        return f"{where} needs {problem['detail']}"
    loaded_by = problem.get("loaded_by") or ""
    owner = owners.get(loaded_by or problem["path"], "")
    fix = f"; use {KNOWN_FIXES[owner]} instead of {owner}" if owner in KNOWN_FIXES else ""
    if loaded_by and loaded_by != problem["path"]:
        where = f"{_shown(loaded_by)} (through {where})"
    return (f"{where} needs {problem['detail']}, which the {target.runtime} image "
            f"({IMAGES[target.image]}) does not have{fix}")


def evaluate(reports: Sequence[Report], owners: Mapping[str, str]) -> Findings:
    """Errors (the layer would fail to load) and warnings, from the workers' reports."""
    errors: list[str] = []
    warnings: list[str] = []
    for report in reports:
        target = report.job.target
        libraries = report.data.get("libraries") or {}
        found = [_library_problem(target, p, owners) for p in libraries.get("errors", [])]
        if found:
            more = f" (and {len(found) - 1} more; see the log)" if len(found) > 1 else ""
            errors.append(f"Not loadable on {target.describe()}: {found[0]}{more}.")
        imported = bool(report.data.get("imports")) and all(i.get("ok") for i in report.data.get("imports") or [])
        after = ", but no import loads it" + (" (every import passed: a later ctypes load of it would fail)"
                                              if imported else "")
        warnings += [f"{target.describe()}: {_library_problem(target, p, owners)}{after}"
                     for p in libraries.get("warnings", [])]
        for outcome in report.data.get("imports") or []:
            if outcome.get("ok"):
                continue
            if not report.job.distributions:  # an ImportCheck list: every failure counts
                errors.append(f"ImportCheck: import {clip(outcome.get('module', '?'))} failed on "
                              f"{target.describe()}: {clip(outcome.get('error', ''), 300)}")
            elif outcome.get("category") in FATAL:
                errors.append(import_failure(target, outcome))
            else:
                warnings.append(f"{target.describe()}: import {outcome.get('module')} failed for a reason the "
                                f"layer cannot fix ({outcome.get('category')}): {clip(outcome.get('error', ''), 300)}")
        failed = (report.data.get("bytecode") or {}).get("failed_count", 0)
        if failed:
            warnings.append(f"{target.describe()}: {failed} modules did not compile (kept as source): "
                            + ", ".join(f[0] for f in report.data["bytecode"].get("failed", [])[:5]))
    return Findings(tuple(errors), tuple(warnings))


# ImportCheck auto fails the layer on these: a module or a library missing, or a crash. Anything else
# (a KeyError for an environment variable, a refused connection) is the function's to provide: a warning.
FATAL = ("import", "library", "crash")
_LIBRARY = re.compile(r"cannot load library '(?P<quoted>[^']+)'|(?P<name>[\w.+-]+\.so(?:\.[\w.]+)?)"
                      r"(?::| \(| cannot)")


def missing_library(error: str) -> str:
    """The library an import error names: 'libgomp.so.1', 'libgobject-2.0-0'; '' if none."""
    match = _LIBRARY.search(error)
    return (match["quoted"] or match["name"]) if match else ""


def import_failure(target: Target, outcome: ImportOutcome) -> str:
    """The reason for an import that fails on the runtime: the module, the library, what to do."""
    module = clip(outcome.get("module", "?"))
    error = clip(outcome.get("error", ""), 300)
    library = missing_library(error) if outcome.get("category") in ("import", "library") else ""
    head = f"Not loadable on {target.describe()}: import {module} fails"
    if not library:
        return f"{head}: {error}"
    distribution = outcome.get("distribution", "")
    fix = f"use {KNOWN_FIXES[distribution]} instead of {distribution}, or " if distribution in KNOWN_FIXES else ""
    return (f"{head}: {library} is not in the {target.runtime} image ({IMAGES[target.image]}): {error}. "
            f"To fix it, {fix}publish a layer of your own that has {library} under lib/ (Lambda puts /opt/lib on "
            "LD_LIBRARY_PATH) and list it before this one.")


def proof_of(report: Report) -> ProofState:
    """What a runtime's report shows: imported (imports ran, none failed for good), or libraries."""
    outcomes = report.data.get("imports") or []
    if any(o.get("ok") for o in outcomes):
        return "imported"
    return "libraries" if "libraries" in report.data or outcomes else "none"


def _proven(report: Report) -> str:
    """'python3.12 imported (pandas, numpy)', for the log."""
    modules = [str(o.get("module")) for o in report.data.get("imports") or [] if o.get("ok")]
    return f"{report.job.target.runtime} {proof_of(report)}" + (f" ({', '.join(modules)})" if modules else "")


def weakest(proofs: Sequence[ProofState]) -> ProofState:
    """The Proof attribute of a layer: the weakest over its runtimes."""
    return min(proofs, key=PROOF_STATES.index) if proofs else "none"


def bytecode_entries(path: Path) -> list[Entry]:
    """A worker's zip of .pyc as layer entries, its deflated bytes copied as they are."""
    with zipfile.ZipFile(path) as made:
        return [Entry(info.filename, info.file_size, False,
                      member=WheelMember(path, info.header_offset, info.compress_type, info.CRC, info.compress_size))
                for info in made.infolist()
                if info.filename.startswith("python/") and info.filename.endswith(".pyc")]


@dataclass(frozen=True)
class Verified:
    entries: list[Entry]
    staged: archive.Archive  # the archive of the entries before bytecode
    bytecode: BytecodeState  # the Bytecode attribute
    bytecode_note: str = ""  # why, for the log
    proof: ProofState = "none"  # the Proof attribute
    reports: tuple[Report, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    uncompiled: tuple[str, ...] = ()  # runtimes that got no bytecode for want of a worker

    @property
    def unchanged(self) -> bool:
        """No bytecode was added: the staged archive is the layer."""
        return len(self.entries) == self.staged.file_count


def bytecode_state(spec: LayerSpec, compiled: Sequence[Target], missing: Sequence[Target], why: str = ""
                   ) -> tuple[BytecodeState, str]:
    """The Bytecode attribute (included, partial, omitted, off) and, for the log, why."""
    if spec.bytecode == "false":
        return "off", "Bytecode is false"
    if why:
        return "omitted", why
    if not compiled:
        return "omitted", f"no worker for {', '.join(t.runtime for t in missing)}"
    if missing:
        return "partial", (f"compiled for {', '.join(t.runtime for t in compiled)}; "
                           f"no worker for {', '.join(t.runtime for t in missing)}")
    return "included", f"compiled for {', '.join(t.runtime for t in compiled)}"


def with_bytecode(entries: Sequence[Entry], bytecode: Sequence[Path]) -> list[Entry]:
    """The layer's entries, then the workers' bytecode (sorted): what is published when it fits. The layer's
    own entries come first and as staged, so its zip is the staged zip with the bytecode appended
    (``archive.append``)."""
    return [*entries, *sorted((e for path in bytecode for e in bytecode_entries(path)), key=lambda e: e.arcname)]


Ahead = Callable[[archive.Archive, list[Entry]], None]


def _early(staged: Callable[[], archive.Archive], entries: list[Entry], jobs: Sequence[Job], ahead: Ahead | None
           ) -> Delivered | None:
    """What the workers hand each runtime's bytecode to as soon as it is made: once every compiling
    runtime's is in, ``ahead`` gets the staged archive and the layer's entries with the bytecode (while the
    workers still import)."""
    compiling = [job.target for job in jobs if job.compile]
    if ahead is None or not compiling:
        return None
    made: dict[Target, Path] = {}
    lock = threading.Lock()

    def delivered(job: Job, path: Path) -> None:
        with lock:
            made[job.target] = path
            if len(made) != len(compiling):
                return
        ahead(staged(), with_bytecode(entries, [made[t] for t in compiling]))

    return delivered


# A layer whose other files are this large sends its modules to the workers first, in a zip of their own:
# compiling starts while the rest travels. Below it, one zip is as quick.
MODULES_FIRST_BYTES = 16 << 20


def modules_first(entries: Sequence[Entry], jobs: Sequence[Job], rest_bytes: int = MODULES_FIRST_BYTES
                  ) -> list[Entry]:
    """The entries a worker compiles (modules outside test suites) when they are worth sending first: a
    compiling job, and at least ``rest_bytes`` of other files in the layer. Empty otherwise."""
    if not any(job.compile for job in jobs):
        return []
    skipped = set(SKIP_DIRS)
    modules = [e for e in entries if e.arcname.startswith("python/") and e.arcname.endswith(".py")
               and not skipped.intersection(e.arcname.split("/")[:-1])]
    rest = sum(e.size for e in entries) - sum(e.size for e in modules)
    return modules if modules and rest >= rest_bytes else []


def verify(spec: LayerSpec, entries: list[Entry], owners: Mapping[str, str], workers: Workers, workdir: Path,
           time_left: Callable[[], float], static: Workers | None = None, progress: Progress | None = None,
           ahead: Ahead | None = None, modules_first_bytes: int = MODULES_FIRST_BYTES) -> Verified:
    """The layer checked on every runtime, with its bytecode. ``ahead`` is given the entries with bytecode
    before the workers finish importing, when the transport can tell: the caller may start writing the
    layer's zip then (it is the same list ``verify`` returns, when the layer passes and fits). The modules
    go to the workers first when the rest of the layer is at least ``modules_first_bytes``."""
    shown = progress or Silent()
    jobs = plan_jobs(spec, {t: workers.capability(t) for t in spec.targets}, workers.workers_from)
    modules = modules_first(entries, jobs.workers, modules_first_bytes)

    def modules_zip() -> Path | None:  # written only by a transport that sends it (the Lambda one), first
        return archive.write_zip(modules, workdir / "modules.zip").path if modules else None

    shown.start("compile and import", len(jobs.workers) + len(jobs.static), "runtimes")
    # The workers start while the staged zip is written (the modules they compile first are written).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="staged-zip") as pool:
        writing = pool.submit(archive.write_zip, entries, workdir / "staged.zip")
        reports = list(workers.run(StagedLayer(lambda: writing.result().path, modules_zip), jobs.workers, workdir,
                                   time_left, _early(writing.result, entries, jobs.workers, ahead))
                       ) if jobs.workers else []
        staged = writing.result()
    if jobs.static:
        reports += (static or StaticCheck()).run(StagedLayer.written(staged.path), jobs.static, workdir, time_left)
    shown.advance("compile and import", len(reports))
    shown.finish("compile and import", "; ".join(_timed(r) for r in reports))
    for report in reports:
        log.info("Worker report for %s", report.job.target.describe(),
                 extra={"where": report.where, "worker": _summary(report.data)})
    findings = evaluate(reports, owners)
    for warning in findings.warnings:
        log.warning("%s", warning)
    for target in jobs.no_bytecode:
        log.warning("No bytecode for %s: no worker for that runtime", target.describe())
    if findings.errors:
        raise NotLoadable(findings.errors[0], "\n".join(findings.errors))
    proof = weakest([proof_of(r) for r in reports])
    log.info("Proof %s: %s", proof, "; ".join(_proven(r) for r in reports))

    def verified(layer: list[Entry], why: str = "") -> Verified:
        state, note = bytecode_state(spec, compiled, jobs.no_bytecode, why)
        return Verified(layer, staged, state, note, proof, tuple(reports), findings.warnings,
                        tuple(t.runtime for t in jobs.no_bytecode))

    made = [r for r in reports if r.bytecode is not None]
    compiled = [r.job.target for r in made]
    if not made:
        return verified(entries)
    layer = with_bytecode(entries, [r.bytecode for r in made if r.bytecode is not None])
    try:
        archive.check_size(layer)
    except LayerTooLarge:
        if spec.bytecode == "true":
            raise
        archive.check_size(entries)  # too large even without: that reason, not the bytecode's
        why = "the layer would be over Lambda's 262.1 MB unzipped with it"
        log.warning("Bytecode left out: %s", why)
        return verified(entries, why)
    return verified(layer)


def _timed(report: Report) -> str:
    """'python3.12 x86_64: compile 1.3 s, imports 0.3 s (worker ...)', for the stage line."""
    timings = report.data.get("timings") or {}
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items() if isinstance(v, (int, float)) and v >= 0.05)
    return f"{report.job.target.describe()}: {steps or 'no work'} ({report.where})"


def _summary(data: JobReport) -> dict[str, Any]:
    """A worker's report for the log: counts and timings, not file lists."""
    bytecode = data.get("bytecode") or {}
    libraries = data.get("libraries") or {}
    return {"python": data.get("python"), "machine": data.get("machine"), "timings": data.get("timings"),
            "compiled": bytecode.get("files"), "objects": libraries.get("objects"),
            "library_source": libraries.get("source"),
            "imports": [(i.get("module"), i.get("ok"), i.get("category")) for i in data.get("imports") or []],
            "import_modules": data.get("import_modules")}
