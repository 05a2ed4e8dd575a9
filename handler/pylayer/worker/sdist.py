"""Build one source distribution into a pure wheel, in the worker: package code runs here, never in the provider.

Why: some projects publish only an sdist (docopt 0.6.2; sgmllib3k, which
feedparser needs). A pure-Python one builds into a ``py3-none-any`` wheel, but
a PEP 517 build runs the project's own code (``setup.py``, an in-tree
backend), and that must never run in the provider, whose role publishes and
deletes layers.

Threat model: the sdist and everything its build does are hostile. The
provider only reads its ``[build-system]`` table (``pylayer.sdists``) and
resolves the backend's requirements as verified wheels. Here, in a runtime
worker of the target Python (in AWS a Lambda function whose role reaches only
``staging/``; locally an interpreter in the Lambda-like root), the sdist is
unpacked member by member (no link, device, absolute path or ``..``; count
and size limits), the build wheels are unpacked side by side (pure ones
only), and the backend runs in ONE child process:

- ``python -I -S -B``: no site-packages, no ``PYTHON*`` variables; only the
  standard library, the backend-path folders and the build wheels;
- an environment of PATH and the locale alone, HOME and TMPDIR in the
  scratch folder: nothing else of the worker's (no ``AWS_*`` credentials);
- its own session, whose whole process group is killed at the timeout and
  after the build; stdin closed; cwd the source tree;
- what the backend prints goes to a log file (its tail explains a failure);
  its answer goes to a descriptor duplicated before any package code runs.

The wheel is accepted only if it is one pure wheel (``none-any``,
``Root-Is-Purelib: true``, no ELF file, no .so/.pyd/.dylib/.dll, nothing in
``.data/platlib``) of the project and version the sdist's file name says. The
provider checks it again with ``packaging`` before using it.

Standard library only, Python 3.9+: it runs on every supported runtime.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import time
import zipfile
import zlib
from typing import IO, Any

MAX_MEMBERS = 20_000  # the provider's limits too (pylayer.sdists)
MAX_BYTES = 500 << 20
BUILD_TIMEOUT = 300.0
COMPILED = (".so", ".pyd", ".dylib", ".dll")
TAIL = 64 << 10  # of the build's output, read for the reason of a failure
MAX_ANSWER = 1 << 20
SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01, zip's first date: wheel, setuptools and flit_core date members by it
_PASS_ENV = ("PATH", "LANG", "LC_ALL")
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_BACKEND = re.compile(rf"{_IDENTIFIER}(\.{_IDENTIFIER})*(:{_IDENTIFIER}(\.{_IDENTIFIER})*)?")
_READ_ERRORS = (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, RuntimeError,
                NotImplementedError)

# The child: PEP 517 hooks, the answer written on a duplicate of the descriptor it was given as stdout, which
# then becomes stderr: what the backend prints (and any process it starts) never reaches the answer.
HOOK_RUNNER = r'''
import importlib, json, os, re, sys, traceback
answer = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr  # one stream, in order: the last line of the log is the last thing the build said
spec = json.loads(sys.argv[1])
sys.path[:] = spec["front"] + [p for p in sys.path if p] + spec["back"]


def reply(data):
    answer.write(json.dumps(data))
    answer.flush()


def needed(requirement):
    """Whether a requirement the backend asks for applies here (its marker, if packaging can tell)."""
    marker = requirement.partition(";")[2].strip()
    if not marker:
        return True
    try:
        from packaging.markers import Marker
        return Marker(marker).evaluate()
    except Exception:
        return True  # unknown: asked for, so checked


def missing(requirements):
    named = [(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", r), r) for r in requirements]
    return [r.strip() for m, r in named if needed(r) and
            (m is None or re.sub(r"[-_.]+", "-", m.group(1)).lower() not in spec["have"])]


try:
    module_name, _, attribute = spec["backend"].partition(":")
    backend = importlib.import_module(module_name)
    for part in filter(None, attribute.split(".")):
        backend = getattr(backend, part)
    hook = getattr(backend, "get_requires_for_build_wheel", None)
    lacking = missing([str(r) for r in (hook() if hook else [])])
    if lacking:
        reply({"missing": lacking})
    else:
        reply({"wheel": backend.build_wheel(spec["output"])})
except SystemExit as exc:  # setup.py's "error: ..." is a SystemExit: print it as Python would at exit
    if exc.code is not None and not isinstance(exc.code, int):
        print(exc.code, file=sys.stderr)
    reply({"error": "exit", "code": exc.code if isinstance(exc.code, int) else 1})
except BaseException:
    traceback.print_exc()
    reply({"error": "exception"})
sys.stderr.flush()
'''


class SdistRefused(Exception):
    """The sdist cannot be built here, or built something other than a pure wheel: the user's to fix.

    The message is one short sentence that names the package; ``output`` is the tail of the build's
    output, for the logs.
    """

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


def build(request: dict[str, Any], scratch: str) -> dict[str, Any]:
    """Build request["sdist"] with request["backend"] and the build wheels; the checked wheel, in output_dir."""
    started = time.perf_counter()
    sdist = str(request["sdist"])
    name, version = name_version(os.path.basename(sdist))
    label = f"{name} {version}"
    backend = str(request["backend"])
    if not _BACKEND.fullmatch(backend):
        raise ValueError(f"the build backend {backend[:80]!r} is not a module name")
    folders = _fresh_folders(scratch)
    tree = unpack(sdist, folders["source"], label)
    front = backend_paths(tree, [str(p) for p in request.get("backend_path") or []], label)
    for wheel in request.get("build_wheels") or []:
        install_pure(str(wheel), folders["buildenv"], label)
    answer = run_backend(request, tree, front, folders, label)
    made = built_wheel(folders["wheel"], answer, label)
    check_wheel(made, name, version, label)
    output = os.path.abspath(str(request["output_dir"]))
    os.makedirs(output, exist_ok=True)
    path = os.path.join(output, os.path.basename(made))
    shutil.move(made, path)
    digest, size = _sha256(path)
    return {"wheel": os.path.basename(path), "path": path, "sha256": digest, "size": size,
            "seconds": time.perf_counter() - started}


def _fresh_folders(scratch: str) -> dict[str, str]:
    """The build's own folders in scratch, empty: the source, the build environment, the wheel, HOME, TMPDIR,
    and the build's output and answer."""
    folders = {part: os.path.join(os.path.abspath(scratch), part)
               for part in ("source", "buildenv", "wheel", "home", "tmp", "logs")}
    for folder in folders.values():
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
    return folders


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def name_version(filename: str) -> tuple[str, str]:
    """('docopt', '0.6.2') of docopt-0.6.2.tar.gz."""
    for suffix in (".tar.gz", ".zip"):
        if filename.endswith(suffix):
            name, _, version = filename[:-len(suffix)].rpartition("-")
            if name and version:
                return name, version
    raise SdistRefused(f"{filename[:100]} is not a source distribution's file name")


# PEP 440's grammar, as packaging has it: versions compared in their normal form (1.0.0 == 1.0, 1.0-1 == 1.0.post1).
_VERSION = re.compile(r"""
    v?(?:(?P<epoch>[0-9]+)!)?(?P<release>[0-9]+(?:\.[0-9]+)*)
    (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
    (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
""", re.VERBOSE | re.IGNORECASE)
_PRE = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "c": "rc", "pre": "rc", "preview": "rc", "rc": "rc"}


def canonical_version(version: str) -> str:
    """A version's normal form, trailing zeros of the release dropped; a non-PEP 440 one lower-cased."""
    found = _VERSION.fullmatch(version.strip())
    if found is None:
        return version.strip().lower()
    release = [int(p) for p in found["release"].split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    text = (f"{int(found['epoch'])}!" if found["epoch"] and int(found["epoch"]) else "") + \
        ".".join(str(p) for p in release)
    if found["pre"]:
        text += _PRE[found["pre_l"].lower()] + str(int(found["pre_n"] or 0))
    if found["post"]:
        text += f".post{int(found['post_n1'] or found['post_n2'] or 0)}"
    if found["dev"]:
        text += f".dev{int(found['dev_n'] or 0)}"
    if found["local"]:
        text += "+" + ".".join(str(int(p)) if p.isdigit() else p.lower()
                               for p in re.split(r"[-_.]", found["local"]))
    return text


def unpack(sdist: str, dest: str, label: str) -> str:
    """The sdist's files under dest, checked member by member as they are written; its one top folder."""
    os.makedirs(dest, exist_ok=True)
    try:
        if sdist.endswith(".zip"):
            _unpack_zip(sdist, dest, label)
        else:
            _unpack_tar(sdist, dest, label)
    except _READ_ERRORS as exc:
        raise SdistRefused(f"{label}: its source distribution cannot be read ({str(exc)[:200]})") from None
    tops = os.listdir(dest)
    if len(tops) != 1 or not os.path.isdir(os.path.join(dest, tops[0])):
        raise SdistRefused(f"{label}: its source distribution has no single top folder")
    return os.path.join(dest, tops[0])


class _Limits:
    def __init__(self, label: str, what: str) -> None:
        self.label, self.what, self.count, self.total = label, what, 0, 0

    def add(self, size: int) -> None:
        self.count += 1
        self.total += max(size, 0)
        if self.count > MAX_MEMBERS:
            raise SdistRefused(f"{self.label}: {self.what} holds over {MAX_MEMBERS} files")
        if self.total > MAX_BYTES:
            raise SdistRefused(f"{self.label}: {self.what} unpacks to over {MAX_BYTES >> 20} MB")


def _unpack_tar(sdist: str, dest: str, label: str) -> None:
    limits = _Limits(label, "its source distribution")
    with tarfile.open(sdist, "r:gz") as archive:
        member = archive.next()
        while member is not None:  # as a stream: a bomb stops at the limit
            limits.add(member.size)
            if not (member.isfile() or member.isdir()):
                raise SdistRefused(f"{label}: its source distribution holds a link or a device ({member.name[:80]})")
            target = _target(dest, member.name, label)
            if member.isdir():
                os.makedirs(target, exist_ok=True)
            elif target != dest:
                _write(archive.extractfile(member), target, member.size, member.mode)
            member = archive.next()


def _unpack_zip(sdist: str, dest: str, label: str) -> None:
    limits = _Limits(label, "its source distribution")
    with zipfile.ZipFile(sdist) as archive:
        for info in archive.infolist():
            limits.add(info.file_size)
            mode = info.external_attr >> 16
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise SdistRefused(f"{label}: its source distribution holds a link or a device ({info.filename[:80]})")
            target = _target(dest, info.filename, label)
            if info.is_dir():
                os.makedirs(target, exist_ok=True)
            elif target != dest:
                with archive.open(info) as source:  # zipfile stops at the declared size and checks the CRC
                    _write(source, target, info.file_size, mode)


def _safe(name: str, label: str) -> list[str]:
    """A member's path components; refused if it is absolute or climbs out."""
    unified = name.replace("\\", "/")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if unified.startswith("/") or re.match(r"[A-Za-z]:", unified) or ".." in parts or "\0" in name:
        raise SdistRefused(f"{label}: its source distribution holds a path outside its folder ({name[:80]})")
    return parts


def _target(dest: str, name: str, label: str) -> str:
    return os.path.join(dest, *_safe(name, label))


def _write(source: IO[bytes] | None, target: str, size: int, mode: int) -> None:
    os.makedirs(os.path.dirname(target), exist_ok=True)
    left = max(size, 0)
    with open(target, "wb") as out:
        while source is not None and left > 0:
            chunk = source.read(min(left, 1 << 20))
            if not chunk:
                break
            out.write(chunk)
            left -= len(chunk)
    os.chmod(target, 0o755 if mode & 0o111 else 0o644)


def backend_paths(tree: str, paths: list[str], label: str) -> list[str]:
    """PEP 517's backend-path folders, which must stay inside the source tree."""
    root = os.path.realpath(tree)
    found = []
    for path in paths:
        unified = path.replace("\\", "/")
        inside = not (unified.startswith("/") or re.match(r"[A-Za-z]:", unified) or "\0" in path)
        full = os.path.realpath(os.path.join(root, unified)) if inside else ""
        if full != root and not full.startswith(root + os.sep):
            raise SdistRefused(f"{label}: its backend-path {path[:80]!r} leaves the source tree")
        found.append(full)
    return found


def install_pure(wheel: str, dest: str, label: str) -> None:
    """A build requirement's wheel, unpacked onto the build's path: pure wheels only.

    ``.data/purelib`` goes to the top as an installer puts it; scripts, headers and data are left out.
    """
    with zipfile.ZipFile(wheel) as archive:
        infos = archive.infolist()
        limits = _Limits(label, f"a build requirement ({os.path.basename(wheel)[:80]})")
        for info in infos:
            limits.add(info.file_size)
            _safe(info.filename, label)
        if not _pure_wheel(archive, infos):
            raise SdistRefused(f"{label}: a build requirement ({os.path.basename(wheel)[:80]}) is not pure Python")
        for info in infos:
            parts = _safe(info.filename, label)
            if info.is_dir() or not parts:
                continue
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] != "purelib":
                    continue
                parts = parts[2:]
            with archive.open(info) as source:
                _write(source, os.path.join(dest, *parts), info.file_size, info.external_attr >> 16)


def _pure_wheel(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> bool:
    names = [i.filename for i in infos]
    if any(n.lower().endswith(COMPILED) or ".so." in n.rsplit("/", 1)[-1] or "/platlib/" in n for n in names):
        return False
    headers = [_headers(archive, n) for n in names if n.count("/") == 1 and n.endswith(".dist-info/WHEEL")]
    return len(headers) == 1 and headers[0].get("root-is-purelib", [""])[0].lower() == "true"


def _headers(archive: zipfile.ZipFile, name: str) -> dict[str, list[str]]:
    """A WHEEL or METADATA file's headers (up to the first blank line), by lower-cased key."""
    with archive.open(name) as handle:
        text = handle.read(1 << 20).decode("utf-8", "replace")
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if sep and not line[:1].isspace():
            found.setdefault(key.strip().lower(), []).append(value.strip())
    return found


def _child_env(folders: dict[str, str]) -> dict[str, str]:
    """Nothing of the worker's environment but PATH and the locale: never a credential."""
    env = {k: os.environ[k] for k in _PASS_ENV if k in os.environ}
    env.setdefault("PATH", "/usr/bin:/bin")
    env.update(HOME=folders["home"], TMPDIR=folders["tmp"], SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH)
    return env


def _installed(buildenv: str) -> list[str]:
    """The build environment's projects, normalised, from their .dist-info folders."""
    return sorted(normalize(entry[:-len(".dist-info")].rpartition("-")[0] or entry[:-len(".dist-info")])
                  for entry in os.listdir(buildenv) if entry.endswith(".dist-info"))


def run_backend(request: dict[str, Any], tree: str, front: list[str], folders: dict[str, str], label: str
                ) -> dict[str, Any]:
    """Run the hooks in one child; its answer, or SdistRefused with the build's last line."""
    python = [str(p) for p in request.get("python") or [sys.executable]]
    timeout = float(request.get("timeout") or BUILD_TIMEOUT)
    spec = json.dumps({"backend": str(request["backend"]), "front": front, "back": [folders["buildenv"]],
                       "output": folders["wheel"], "have": _installed(folders["buildenv"])})
    log, answer_file = os.path.join(folders["logs"], "build.log"), os.path.join(folders["logs"], "answer.json")
    with open(log, "wb") as err, open(answer_file, "wb") as out:
        child = subprocess.Popen([*python, "-I", "-S", "-B", "-c", HOOK_RUNNER, spec],  # noqa: S603
                                 cwd=tree, env=_child_env(folders), stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=err, start_new_session=True)
    try:
        child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(child)
        child.wait()
        raise SdistRefused(f"Building {label} from source took over {timeout:.0f} s", _tail(log)) from None
    finally:
        _kill_group(child)  # whatever the build left running in its session
    answer = _read_answer(answer_file)
    if isinstance(answer.get("missing"), list):
        needs = _clean(", ".join(map(str, answer["missing"])))[:200]
        raise SdistRefused(f"Building {label} from source needs {needs}, which its build requirements do not name",
                           _tail(log))
    if not isinstance(answer.get("wheel"), str):
        output = _tail(log)
        status = answer.get("code", child.returncode)
        raise SdistRefused(f"Building {label} from source failed: {_last_line(output) or f'exit status {status}'}",
                           output)
    return answer


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(child.pid, signal.SIGKILL)


def _read_answer(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            answer = json.loads(handle.read(MAX_ANSWER).decode("utf-8", "replace") or "{}")
    except (OSError, ValueError):
        return {}
    return answer if isinstance(answer, dict) else {}


def _tail(log: str) -> str:
    with open(log, "rb") as handle:
        handle.seek(max(0, os.path.getsize(log) - TAIL))
        return handle.read().decode("utf-8", "replace")


def _clean(text: str) -> str:
    """Without terminal colours or control characters: the build's words go into a one-line reason."""
    return re.sub(r"[\x00-\x1f\x7f]", "", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)).strip()


def _last_line(output: str) -> str:
    """The last non-empty line of the build's output, clean and clipped."""
    for line in reversed(output.splitlines()):
        clean = _clean(line)
        if clean:
            return clean[:300]
    return ""


def built_wheel(folder: str, answer: dict[str, Any], label: str) -> str:
    """The one .whl the backend made, the one it named."""
    made = sorted(e for e in os.listdir(folder) if e.endswith(".whl"))
    named = os.path.basename(str(answer.get("wheel") or ""))
    if len(made) != 1 or made[0] != named or not os.path.isfile(os.path.join(folder, named)):
        raise SdistRefused(f"Building {label} from source made {len(made)} wheels, not the one it named")
    return os.path.join(folder, named)


def check_wheel(path: str, name: str, version: str, label: str) -> None:
    """One pure wheel of the sdist's project and version, or refused."""
    filename = os.path.basename(path)
    parts = filename[:-len(".whl")].split("-")
    if not filename.endswith(".whl") or len(parts) not in (5, 6):
        raise SdistRefused(f"Building {label} from source made {filename[:100]}, which is not a wheel")
    _check_tags(filename, parts[-3:], label)
    if normalize(parts[0]) != normalize(name) or canonical_version(parts[1]) != canonical_version(version):
        raise SdistRefused(f"Building {label} from source made {filename[:100]}, another project or version")
    try:
        with zipfile.ZipFile(path) as wheel:
            _check_members(wheel, label)
            _check_dist_info(wheel, name, version, label)
    except _READ_ERRORS as exc:
        raise SdistRefused(f"Building {label} from source made a damaged wheel ({str(exc)[:100]})") from None


def _check_tags(filename: str, tags: list[str], label: str) -> None:
    python, abi, platform = (t.split(".") for t in tags)
    if abi != ["none"] or platform != ["any"] or not all(re.fullmatch(r"py[0-9]+", t) for t in python):
        raise SdistRefused(f"{label} built a wheel for one platform ({filename[:100]}); only pure-Python source "
                           "distributions are built")
    if not any(t.startswith("py3") for t in python):
        raise SdistRefused(f"{label} built a wheel for Python 2 only ({filename[:100]})")


def _check_members(wheel: zipfile.ZipFile, label: str) -> None:
    limits = _Limits(label, "its wheel")
    for info in wheel.infolist():
        limits.add(info.file_size)
        member = info.filename
        parts = _safe(member, label)
        compiled = member.lower().endswith(COMPILED) or ".so." in member.rsplit("/", 1)[-1]
        if not compiled and not info.is_dir():
            with wheel.open(info) as handle:
                compiled = handle.read(4) == b"\x7fELF"
        if compiled:
            raise SdistRefused(f"{label} built a wheel with compiled code ({member[:80]}); only pure-Python source "
                               "distributions are built")
        if len(parts) > 1 and parts[0].endswith(".data") and parts[1] == "platlib":
            raise SdistRefused(f"{label} built a wheel with platform-specific files ({member[:80]}); only "
                               "pure-Python source distributions are built")


def _check_dist_info(wheel: zipfile.ZipFile, name: str, version: str, label: str) -> None:
    infos = sorted({n.split("/")[0] for n in wheel.namelist() if n.split("/")[0].endswith(".dist-info")})
    if len(infos) != 1:
        raise SdistRefused(f"Building {label} from source made a wheel with {len(infos)} .dist-info folders")
    info = infos[0]
    folder_name, _, folder_version = info[:-len(".dist-info")].rpartition("-")
    metadata = _headers(wheel, f"{info}/METADATA") if f"{info}/METADATA" in wheel.namelist() else {}
    said = [(folder_name, folder_version), (metadata.get("name", [""])[0], metadata.get("version", [""])[0])]
    if any(normalize(n) != normalize(name) or canonical_version(v) != canonical_version(version) for n, v in said):
        raise SdistRefused(f"Building {label} from source made a wheel of another project or version ({info[:100]})")
    wheel_file = f"{info}/WHEEL"
    headers = _headers(wheel, wheel_file) if wheel_file in wheel.namelist() else {}
    if headers.get("root-is-purelib", [""])[0].lower() != "true":
        raise SdistRefused(f"{label} built a wheel that is not pure (Root-Is-Purelib is not true)")
    for tag in headers.get("tag", []):
        if not re.fullmatch(r"py[0-9]+-none-any", tag):
            raise SdistRefused(f"{label} built a wheel tagged {tag[:60]}; only pure-Python source distributions "
                               "are built")


def _sha256(path: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest(), os.path.getsize(path)
