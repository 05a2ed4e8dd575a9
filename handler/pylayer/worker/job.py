"""One worker job: a layer archive in, its bytecode and a report out.

The request and the report are ``protocol.JobRequest`` and ``protocol.JobReport``.
Bytecode is made and written out before any package code runs: imports come
last, each in a fresh child process that gets no AWS credentials. With
``import_distributions`` (``ImportCheck: auto``) the worker finds those
distributions' modules in the layer itself (``importnames``).
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Mapping
from typing import IO, Any, Callable, cast

from . import importnames, libraries, pyc
from .protocol import PROTOCOL, ImportOutcome

OPT = "/opt"  # where Lambda extracts a layer: the co_filename prefix
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMPORT_TIMEOUT = 300.0
MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}
# What an import child may see of the environment: never credentials.
_PASS_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "LD_LIBRARY_PATH", "HOME", "TMPDIR")
_IMPORT = """
import importlib, json, os, re, sys, time, traceback
result = os.fdopen(os.dup(1), "w")  # what the module prints goes to stderr, never into the result
os.dup2(2, 1)
spec = json.loads(sys.argv[1])
sys.path[:] = spec["path"] + [p for p in sys.path if p] + spec["append"]
started = time.perf_counter()
try:
    module = importlib.import_module(spec["module"])
except BaseException as exc:
    line = traceback.format_exception_only(type(exc), exc)[-1].strip()
    if isinstance(exc, ImportError):
        category = "import"
    elif isinstance(exc, OSError) and re.search(spec["library"], str(exc)):
        category = "library"
    else:
        category = "other"
    result.write(json.dumps({"ok": False, "error": line[:500], "category": category}) + "\\n")
else:
    result.write(json.dumps({"ok": True, "seconds": time.perf_counter() - started,
                             "file": getattr(module, "__file__", None) or ""}) + "\\n")
result.flush()
"""


def version_tag() -> str:
    return f"python{sys.version_info[0]}.{sys.version_info[1]}"


def run(request: Mapping[str, Any], scratch: str,
        made: Callable[[dict[str, Any]], None] = lambda bytecode: None,
        fetch: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """The job; ``made`` is called with the bytecode's report once its zip is written, before any import.
    With ``modules`` in the request, compiling starts from that zip and ``fetch`` then brings the archive."""
    if request.get("protocol", PROTOCOL) != PROTOCOL:
        raise ValueError(f"the provider speaks protocol {request.get('protocol')!s:.20}, this worker {PROTOCOL}: "
                         "redeploy the provider stack so both are the same release")
    runtime = str(request["runtime"])
    machine = MACHINES[str(request["architecture"])]
    imports = [str(m) for m in request.get("imports") or []]
    distributions = [str(d) for d in request.get("import_distributions") or []]
    if (request.get("compile") or imports or distributions) and runtime != version_tag():
        raise ValueError(f"this worker runs {version_tag()}, not {runtime}")
    root = os.path.join(scratch, "layer")
    report: dict[str, Any] = {"protocol": PROTOCOL, "runtime": runtime, "python": platform.python_version(),
                              "machine": platform.machine(), "timings": {}}
    archive = str(request["archive"])
    started = time.perf_counter()
    # The compile children read the modules from the archive while this process extracts what the
    # library check (and imports) need: on two cores, the two overlap.
    modules = str(request.get("modules") or archive)
    compiling = Compiling(modules, root, runtime, request) if request.get("compile") else None
    # Test suites are not imported by importing a package: they are extracted only if an import fails
    # without them (then every failed import runs again with the whole layer).
    suites = frozenset(str(d) for d in request.get("skip_dirs") or ())
    try:
        fetch()
        extract(archive, root, runtime, everything=bool(imports or distributions), leave_out=suites)
    except BaseException:
        if compiling is not None:
            compiling.abandon()
        raise
    report["timings"]["extract"] = time.perf_counter() - started
    if compiling is not None:
        report["bytecode"] = compiling.finish(str(request["output"]))
        report["timings"]["compile"] = time.perf_counter() - started  # from the start: it ran beside extract
        made(report["bytecode"])
    if not request.get("libraries_off"):
        started = time.perf_counter()
        report["libraries"] = check_libraries(root, runtime, str(request["architecture"]), machine,
                                              str(request.get("libraries") or "recorded"))
        report["timings"]["libraries"] = time.perf_counter() - started
    if imports or distributions:
        started = time.perf_counter()
        found = importnames.find(root, list(request.get("paths") or []), distributions)
        wanted = [(m, "") for m in imports] + [(m, d) for d, ms in sorted(found.items()) for m in ms
                                              if m not in imports]
        if distributions:
            report["import_modules"] = {importnames.canonical(d): found.get(importnames.canonical(d), [])
                                        for d in distributions}
        outcomes = check_imports(root, request, wanted, scratch)
        failed = [i for i, outcome in enumerate(outcomes) if not outcome.get("ok")]
        if failed and suites:
            extract(archive, root, runtime, everything=True, only=suites)
            for i, outcome in zip(failed, check_imports(root, request, [wanted[i] for i in failed], scratch)):
                outcomes[i] = outcome
        report["imports"] = outcomes
        report["timings"]["imports"] = time.perf_counter() - started
    return report


def in_view(name: str, runtime: str) -> bool:
    """Whether a layer member is on this runtime's sys.path: python/, less other runtimes' folders."""
    if not name.startswith("python/") or name.endswith("/"):
        return False
    parts = name.split("/")
    if len(parts) > 3 and parts[1] == "lib" and parts[2].startswith("python3.") and parts[3] == "site-packages":
        return parts[2] == runtime
    return True


def extract(archive: str, root: str, runtime: str, everything: bool, leave_out: frozenset[str] = frozenset(),
            only: frozenset[str] | None = None) -> list[str]:
    """This runtime's part of the layer under root; without imports to run, only the ELF files (the
    compile children read the modules from the archive). ``leave_out``: folders by name whose files are not
    extracted (test suites); ``only``: just the files in folders so named (them, later)."""
    names = []
    with zipfile.ZipFile(archive) as layer:
        for info in layer.infolist():
            name = info.filename
            folders = name.split("/")[:-1]
            if not in_view(name, runtime) or ".." in name.split("/"):
                continue
            if not everything and ".so" not in name.rsplit("/", 1)[-1]:
                continue
            shared_object = ".so" in name.rsplit("/", 1)[-1]  # every one is extracted: the library check reads it
            if (leave_out.intersection(folders) and not shared_object) or \
                    (only is not None and (shared_object or not only.intersection(folders))):
                continue
            target = os.path.join(root, *name.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with layer.open(info) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            names.append(name)
    return names


class Compiling:
    """Bytecode for every module of the view (but those in skip_dirs), in parallel children, started at
    once; ``finish`` waits for them and zips what they made."""

    def __init__(self, archive: str, root: str, runtime: str, request: Mapping[str, Any]) -> None:
        self.root = root
        skip = set(request.get("skip_dirs") or ())
        items: list[tuple[int, list[str]]] = []
        with zipfile.ZipFile(archive) as layer:
            for info in layer.infolist():
                name = info.filename
                if not name.endswith(".py") or not in_view(name, runtime) or ".." in name.split("/") \
                        or skip.intersection(name.split("/")[:-1]):
                    continue
                target = pyc.cache_path(os.path.join(root, *name.split("/")))
                items.append((info.file_size, [name, f"{OPT}/{name}", target]))
        output = os.path.abspath(str(request["output"]))
        os.makedirs(os.path.dirname(output), exist_ok=True)
        # Beside the output and named after it: workers of several runtimes may share the folder.
        self.children = _start_children(items, request, archive, output + ".parts")

    def abandon(self) -> None:
        for child, _ in self.children:
            child.kill()
            child.wait()

    def finish(self, output: str) -> dict[str, Any]:
        result = _wait_for(self.children)
        entries = sorted(([os.path.relpath(target, self.root).replace(os.sep, "/"), *rest]
                          for target, *rest in result["deflated"]), key=lambda e: e[0])
        digest, size = _zip(entries, output)
        return {"files": len(entries), "failed": result["failed"][:20], "failed_count": len(result["failed"]),
                "sha256": digest, "size": size, "bytes": sum(e[2] for e in entries)}


def _start_children(items: list[tuple[int, list[str]]], request: Mapping[str, Any], archive: str, parts: str
                    ) -> list[tuple[subprocess.Popen[bytes], str]]:
    processes = max(1, min(int(request.get("processes") or os.cpu_count() or 1), len(items) or 1))
    # Largest first, each to the least loaded child: even chunks of work.
    chunks: list[list[list[str]]] = [[] for _ in range(processes)]
    loads = [0] * processes
    for size, item in sorted(items, key=lambda i: -i[0]):
        slot = loads.index(min(loads))
        chunks[slot].append(item)
        loads[slot] += size
    command = [*python_command(request), "-S", "-c",
               f"import sys; sys.path.insert(0, {PACKAGE_ROOT!r}); from pylayer.worker.pyc import main; main()"]
    env = {**_child_env(), "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    children = []
    for number, chunk in enumerate(c for c in chunks if c):
        child: subprocess.Popen[bytes] = subprocess.Popen(  # noqa: S603
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        # Every child gets all its work before any is waited for: they compile (and deflate) at the same time.
        own_parts = f"{parts}-{number}"
        work = {"archive": archive, "items": chunk, "parts": own_parts}
        cast(IO[bytes], child.stdin).write(json.dumps(work).encode())
        cast(IO[bytes], child.stdin).close()
        children.append((child, own_parts))
    return children


def _wait_for(children: list[tuple[subprocess.Popen[bytes], str]]) -> dict[str, Any]:
    failed: list[list[str]] = []
    deflated: list[list[Any]] = []
    for child, parts in children:
        out = cast(IO[bytes], child.stdout).read()
        if child.wait() != 0:
            raise RuntimeError(f"a compile child exited with {child.returncode}")
        answer = json.loads(out)
        failed += answer["failed"]
        deflated += [[target, crc, size, parts, offset, packed] for target, crc, size, offset, packed
                     in answer["deflated"]]
    return {"failed": sorted(failed), "deflated": deflated}


def python_command(request: Mapping[str, Any]) -> list[str]:
    return [str(p) for p in request.get("python") or [sys.executable]]


def _child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in _PASS_ENV}


_DOS_DATE = (1 << 5) | 1  # 1980-01-01, as every entry of a layer


def _zip(entries: list[list[Any]], output: str) -> tuple[str, int]:
    """The .pyc, already deflated by the children, as a zip: [name, crc, size, parts file, offset,
    compressed size], sorted by name; fixed dates and modes. Its sha256 and size.

    zipfile cannot take data compressed elsewhere, and a worker ships without pylayer.archive (which
    does the same for the provider): hence these few records written by hand."""
    if len(entries) > 0xFFFF:
        raise ValueError(f"{len(entries)} modules: more than a zip without ZIP64 holds")
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    central = []
    sources: dict[str, IO[bytes]] = {}
    try:
        with open(output, "wb") as out:
            for name, crc, size, parts, offset, packed in entries:
                encoded, flags = name.encode("utf-8"), (0 if name.isascii() else 0x800)
                at = out.tell()
                out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, 8, 0, _DOS_DATE, crc, packed, size,
                                      len(encoded), 0) + encoded)
                source = sources.get(parts) or sources.setdefault(parts, open(parts, "rb"))  # noqa: SIM115
                source.seek(offset)
                out.write(source.read(packed))
                central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 20, 20, flags, 8, 0,
                                           _DOS_DATE, crc, packed, size, len(encoded), 0, 0, 0, 0, 0o644 << 16, at)
                               + encoded)
            start = out.tell()
            out.write(b"".join(central))
            out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), out.tell() - start,
                                  start, 0))
    finally:
        for source in sources.values():
            source.close()
        for parts in sources:
            os.remove(parts)
    digest = hashlib.sha256()
    with open(output, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest(), os.path.getsize(output)


def check_libraries(root: str, runtime: str, architecture: str, machine: str, mode: str) -> dict[str, Any]:
    system = libraries.System.scanned(runtime) if mode == "scanned" else \
        libraries.System.recorded(runtime, architecture)
    python_root = os.path.join(root, "python")
    if not os.path.isdir(python_root):
        return {"objects": 0, "extensions": 0, "errors": [], "warnings": [], "source": system.source}
    found = libraries.check(root, machine, system)
    return found


# An OSError whose text says the dynamic loader could not load a library (ctypes, cffi or an extension).
LIBRARY_ERROR = (r"cannot open shared object file|cannot load library|error while loading shared libraries"
                 r"|undefined symbol|wrong ELF class|version `GLIBC_|not found \(required by|cannot find library")


def check_imports(root: str, request: Mapping[str, Any], modules: list[tuple[str, str]], scratch: str
                  ) -> list[ImportOutcome]:
    """Import each module (with the distribution it stands for, or "") in a fresh child: the layer's two
    folders first, the runtime's own packages last."""
    paths = [os.path.join(root, *p.split("/")) for p in request.get("paths") or []]
    append = [str(request["runtime_site"])] if request.get("runtime_site") else runtime_site()
    cwd = os.path.join(scratch, "cwd")
    os.makedirs(cwd, exist_ok=True)
    return [_import_one(root, request, module, distribution, paths, append, cwd)
            for module, distribution in modules]


def _import_one(root: str, request: Mapping[str, Any], module: str, distribution: str, paths: list[str],
                append: list[str], cwd: str) -> ImportOutcome:
    spec = json.dumps({"path": paths, "append": append, "module": module, "library": LIBRARY_ERROR})
    command = [*python_command(request), "-S", "-c", _IMPORT, spec]
    env = {**_child_env(), "PYTHONDONTWRITEBYTECODE": "1"}
    named: ImportOutcome = {"module": module, "distribution": distribution} if distribution else {"module": module}
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,  # noqa: S603
                              timeout=IMPORT_TIMEOUT, start_new_session=True, check=False)
    except subprocess.TimeoutExpired:
        return {**named, "ok": False, "error": f"the import took over {IMPORT_TIMEOUT:.0f} s",
                "category": "timeout"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return {**named, "ok": False, "error": tail[:500], "category": "crash"}
    outcome: ImportOutcome = {**json.loads(lines[-1]), **named}
    if outcome.get("ok") and outcome.get("file"):
        outcome["file"] = os.path.relpath(outcome["file"], root).replace(os.sep, "/")
    return outcome


def runtime_site() -> list[str]:
    """The folder this runtime's own boto3 is in, as Lambda's sys.path has it after the layers."""
    import importlib.util

    found = importlib.util.find_spec("boto3")
    if found is None or not found.origin:
        return []
    return [os.path.dirname(os.path.dirname(found.origin))]
