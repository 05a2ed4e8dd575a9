"""Build one source distribution into a pure wheel, in the worker: package code runs here, never in the provider.

A PEP 517 build runs the project's own code (``setup.py``, an in-tree
backend). It runs in a child of the worker with nothing of the worker's
environment but PATH and the locale (no AWS credentials), in a session of its
own that is killed at the timeout, with the build backend's wheels (resolved
and verified by the provider) as its only packages. In AWS the worker is a
Lambda function whose role reaches only ``staging/``; locally it runs in the
Lambda-like root, in its own PID namespace. What comes out is accepted only if
it is one pure wheel (``none-any``, ``Root-Is-Purelib: true``, no compiled
file) of the project and version the sdist's name says.

Standard library only, Python 3.9+.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from typing import Any

MAX_MEMBERS = 20_000
MAX_BYTES = 500 << 20
BUILD_TIMEOUT = 300.0
COMPILED = (".so", ".pyd", ".dylib", ".dll")
_PASS_ENV = ("PATH", "LANG", "LC_ALL")
# The child: the backend's hooks, with the result written on a private descriptor (the backend prints).
_HOOKS = """
import importlib, json, os, sys, traceback
result = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
spec = json.loads(sys.argv[1])
sys.path[:0] = spec["path"]
try:
    module_name, _, attribute = spec["backend"].partition(":")
    backend = importlib.import_module(module_name)
    for part in filter(None, attribute.split(".")):
        backend = getattr(backend, part)
    hook = getattr(backend, "get_requires_for_build_wheel", None)
    extra = list(hook()) if hook else []
    made = backend.build_wheel(spec["output"])
    result.write(json.dumps({"wheel": made, "requires": extra}))
except BaseException as exc:
    lines = [l for l in traceback.format_exception_only(type(exc), exc) if l.strip()]
    result.write(json.dumps({"error": lines[-1].strip() if lines else type(exc).__name__}))
result.flush()
"""


class SdistRefused(Exception):
    """The sdist cannot be built here, or built something else than a pure wheel: the user's to fix."""


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def name_version(filename: str) -> tuple[str, str]:
    """('docopt', '0.6.2') of docopt-0.6.2.tar.gz."""
    stem = filename[:-len(".tar.gz")] if filename.endswith(".tar.gz") else filename.rsplit(".", 1)[0]
    name, _, version = stem.rpartition("-")
    if not name or not version:
        raise SdistRefused(f"{filename} is not a source distribution's file name")
    return name, version


def build(request: dict[str, Any], scratch: str) -> dict[str, Any]:
    """Build request["sdist"] with the backend, into request["output_dir"]: the wheel, checked."""
    started = time.perf_counter()
    sdist = str(request["sdist"])
    name, version = name_version(os.path.basename(sdist))
    label = f"{name} {version}"
    source = os.path.join(scratch, "source")
    env_dir = os.path.join(scratch, "buildenv")
    output = os.path.abspath(str(request["output_dir"]))
    for folder in (source, env_dir, output):
        os.makedirs(folder, exist_ok=True)
    tree = unpack(sdist, source, label)
    for wheel in request.get("build_wheels") or []:
        install_pure(str(wheel), env_dir, label)
    paths = [os.path.join(tree, p) for p in request.get("backend_path") or []]
    if any(not os.path.realpath(p).startswith(os.path.realpath(tree) + os.sep) and
           os.path.realpath(p) != os.path.realpath(tree) for p in paths):
        raise SdistRefused(f"{label}: its backend-path leaves the source tree")
    answer = run_backend(request, tree, [*paths, env_dir], output, scratch, label)
    path = os.path.join(output, os.path.basename(str(answer.get("wheel") or "")))
    check_wheel(path, name, label)
    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    return {"wheel": os.path.basename(path), "path": path, "sha256": digest, "size": os.path.getsize(path),
            "seconds": time.perf_counter() - started}


def unpack(sdist: str, dest: str, label: str) -> str:
    """The sdist's files under dest, checked member by member; its top folder."""
    total = 0
    try:
        if sdist.endswith(".zip"):
            with zipfile.ZipFile(sdist) as archive:
                infos = archive.infolist()
                _limit(len(infos), label)
                for info in infos:
                    total += info.file_size
                    _limit_bytes(total, label)
                    _safe(info.filename, label)
                archive.extractall(dest)  # noqa: S202 - every name checked above
        else:
            with tarfile.open(sdist, "r:gz") as archive:
                members = archive.getmembers()
                _limit(len(members), label)
                for member in members:
                    if not (member.isfile() or member.isdir()):
                        raise SdistRefused(f"{label}: its source distribution holds a link or a device "
                                           f"({member.name[:80]})")
                    total += member.size
                    _limit_bytes(total, label)
                    _safe(member.name, label)
                archive.extractall(dest, members)  # noqa: S202 - every member checked above
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise SdistRefused(f"{label}: its source distribution cannot be read ({exc})") from None
    tops = [e for e in os.listdir(dest) if os.path.isdir(os.path.join(dest, e))]
    if len(tops) != 1:
        raise SdistRefused(f"{label}: its source distribution has no single top folder")
    return os.path.join(dest, tops[0])


def _safe(name: str, label: str) -> None:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
        raise SdistRefused(f"{label}: its source distribution holds a path outside its folder ({name[:80]})")


def _limit(count: int, label: str) -> None:
    if count > MAX_MEMBERS:
        raise SdistRefused(f"{label}: its source distribution holds {count} files; the limit is {MAX_MEMBERS}")


def _limit_bytes(total: int, label: str) -> None:
    if total > MAX_BYTES:
        raise SdistRefused(f"{label}: its source distribution unpacks to over {MAX_BYTES >> 20} MB")


def install_pure(wheel: str, dest: str, label: str) -> None:
    """A build requirement's wheel, unpacked onto the build's path (pure wheels only)."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        for name in names:
            _safe(name, label)
            if name.lower().endswith(COMPILED):
                raise SdistRefused(f"{label}: a build requirement ({os.path.basename(wheel)}) is not pure Python")
        archive.extractall(dest)  # noqa: S202 - every name checked above


def run_backend(request: dict[str, Any], tree: str, path: list[str], output: str, scratch: str, label: str
                ) -> dict[str, Any]:
    home = os.path.join(scratch, "home")
    tmp = os.path.join(scratch, "tmp")
    os.makedirs(home, exist_ok=True)
    os.makedirs(tmp, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k in _PASS_ENV}
    env.update(HOME=home, TMPDIR=tmp, PYTHONDONTWRITEBYTECODE="1", SOURCE_DATE_EPOCH="315532800")
    python = [str(p) for p in request.get("python") or [sys.executable]]
    spec = json.dumps({"backend": str(request["backend"]), "path": path, "output": output})
    timeout = float(request.get("timeout") or BUILD_TIMEOUT)
    child = subprocess.Popen([*python, "-I", "-S", "-c", _HOOKS, spec], cwd=tree, env=env,  # noqa: S603
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        raise SdistRefused(f"Building {label} from source took over {timeout:.0f} s") from None
    finally:
        with contextlib.suppress(OSError):
            os.killpg(child.pid, signal.SIGKILL)  # whatever the build left running
    try:
        answer: dict[str, Any] = json.loads(out.decode("utf-8", "replace") or "{}")
    except ValueError:
        answer = {}
    if "wheel" not in answer:
        lines = [line.strip() for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
        last = answer.get("error") or (lines[-1] if lines else f"exit status {child.returncode}")
        raise SdistRefused(f"Building {label} from source failed: {str(last)[:300]}")
    shutil.rmtree(tmp, ignore_errors=True)
    return answer


def check_wheel(path: str, name: str, label: str) -> None:
    """One pure wheel of the sdist's project and version, or refused."""
    filename = os.path.basename(path)
    if not filename.endswith(".whl") or not os.path.isfile(path):
        raise SdistRefused(f"Building {label} from source made no wheel")
    parts = filename[:-4].split("-")
    # The project here; its version (PEP 440 spellings vary) is compared by the provider, with packaging.
    if len(parts) not in (5, 6) or normalize(parts[0]) != normalize(name):
        raise SdistRefused(f"Building {label} from source made {filename[:100]}, another project")
    python_tag, abi, platform = parts[-3:]
    if abi != "none" or platform != "any" or not all(t.startswith("py") for t in python_tag.split(".")):
        raise SdistRefused(f"{label} built a wheel for one platform ({filename[:100]}); only pure-Python "
                           "source distributions are built")
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        for member in names:
            _safe(member, label)
            if member.lower().endswith(COMPILED) or ".so." in member or "/platlib/" in member:
                raise SdistRefused(f"{label} built a wheel with compiled code ({member[:80]}); only pure-Python "
                                   "source distributions are built")
            if member.endswith(".dist-info/WHEEL"):
                text = wheel.read(member).decode("utf-8", "replace")
                if "root-is-purelib: true" not in text.lower():
                    raise SdistRefused(f"{label} built a wheel that is not pure (Root-Is-Purelib is not true)")
        with_elf = [m for m in names if not m.endswith("/") and wheel.read(m)[:4] == b"\x7fELF"]
        if with_elf:
            raise SdistRefused(f"{label} built a wheel with compiled code ({with_elf[0][:80]}); only pure-Python "
                               "source distributions are built")
