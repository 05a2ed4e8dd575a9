"""A source distribution's build system, read from the archive without running anything.

Why: a project with only an sdist (docopt 0.6.2, sgmllib3k) can be built into
a pure wheel, but building runs the project's own code. That happens only in a
runtime worker (``pylayer.worker.sdist``), never here, in the process that
holds the role that publishes and deletes layers. The provider needs just one
thing from the sdist first: its PEP 517/518 ``[build-system]`` table, to
resolve the backend's requirements as verified wheels for the worker.

How: the table is read statically (tomllib), from the one ``pyproject.toml``
at the top of the archive. The archive is hostile: its members are counted and
their declared sizes summed as they are listed (a tar is read as a stream, so
a bomb stops at the limit), every path is checked (no absolute path, no
``..``, no link or device, one top folder), and only that one small member is
read. Without ``pyproject.toml`` or its ``[build-system]`` table, PEP 517's
default applies: setuptools' legacy backend. What the table says is checked
too: PEP 508 requirements from the index only (no URL), a backend that is a
``module.path[:object]`` name, and backend-path folders inside the source tree.
"""

from __future__ import annotations

import posixpath
import re
import stat
import tarfile
import tomllib
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_sdist_filename

from .errors import InstallFailed

LEGACY_REQUIRES = ("setuptools>=40.8.0",)
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
MAX_MEMBERS = 20_000  # the worker's limits too (pylayer.worker.sdist)
MAX_BYTES = 500 << 20
MAX_PYPROJECT = 1 << 20
MAX_REQUIRES = 64
MAX_BACKEND_PATHS = 16
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_BACKEND = re.compile(rf"{_IDENTIFIER}(\.{_IDENTIFIER})*(:{_IDENTIFIER}(\.{_IDENTIFIER})*)?")
_DRIVE = re.compile(r"[A-Za-z]:")


@dataclass(frozen=True)
class BuildSystem:
    requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...] = ()


def is_sdist(filename: str) -> bool:
    """Whether the file name is an sdist's: name-version.tar.gz or .zip, the version PEP 440."""
    try:
        parse_sdist_filename(filename)
    except ValueError:  # InvalidSdistFilename, InvalidVersion
        return False
    return True


def sdist_name_version(filename: str) -> tuple[str, str]:
    """('docopt', '0.6.2') of docopt-0.6.2.tar.gz: the normalised project name and the version."""
    try:
        name, version = parse_sdist_filename(filename)
    except ValueError:
        raise InstallFailed(f"{filename[:100]} is not a source distribution's file name.") from None
    return str(name), str(version)


def build_system(sdist: Path) -> BuildSystem:
    """The backend and its requirements, read statically; refuses what cannot be built from the index's wheels."""
    name, version = sdist_name_version(sdist.name)
    label = f"{name} {version}"
    table = _build_system_table(_pyproject(sdist, label), label)
    if table is None:
        return _with_wheel(BuildSystem(LEGACY_REQUIRES, LEGACY_BACKEND))
    return _with_wheel(BuildSystem(_requires(table, label), _backend(table, label), _backend_path(table, label)))


def _with_wheel(system: BuildSystem) -> BuildSystem:
    """``wheel`` added to a setuptools build that does not name it.

    setuptools before 70.1 builds wheels with the ``wheel`` project's bdist_wheel, and says so only when
    asked (its get_requires_for_build_wheel answers ["wheel"]), while legacy projects and many pyproject
    files name setuptools alone. The worker builds with the wheels resolved here and installs nothing
    more, so what the backend would ask for later must be here from the start. On setuptools 70.1 and
    later (bdist_wheel is its own) the extra wheel is never imported: harmless, and ~70 KB.
    """
    names = {canonicalize_name(Requirement(r).name) for r in system.requires}
    if system.backend.partition(":")[0].split(".")[0] == "setuptools" and "wheel" not in names:
        return BuildSystem((*system.requires, "wheel"), system.backend, system.backend_path)
    return system


def _build_system_table(text: str | None, label: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        table = tomllib.loads(text).get("build-system")
    except tomllib.TOMLDecodeError:
        raise InstallFailed(f"{label}: its pyproject.toml is not valid TOML.") from None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise InstallFailed(f"{label}: its pyproject.toml has a malformed [build-system] table.")
    return table


def _requires(table: dict[str, Any], label: str) -> tuple[str, ...]:
    """PEP 518: ``requires`` is mandatory in a [build-system] table (pip refuses a table without it)."""
    requires = table.get("requires")
    if requires is None:
        raise InstallFailed(f"{label}: its pyproject.toml's [build-system] table has no requires.")
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise InstallFailed(f"{label}: its pyproject.toml's build requires is not a list of strings.")
    if len(requires) > MAX_REQUIRES:
        raise InstallFailed(f"{label}: its build names {len(requires)} requirements; the limit is {MAX_REQUIRES}.")
    for item in requires:
        try:
            parsed = Requirement(item)
        except InvalidRequirement:
            raise InstallFailed(f"{label}: its build requirement {item[:80]!r} is not valid.") from None
        if parsed.url:
            raise InstallFailed(f"{label}: its build requires {item[:80]}, a direct URL; only packages from the "
                                "index are allowed.")
    return tuple(requires)


def _backend(table: dict[str, Any], label: str) -> str:
    backend = table.get("build-backend", LEGACY_BACKEND)
    if not isinstance(backend, str) or not _BACKEND.fullmatch(backend):
        raise InstallFailed(f"{label}: its build backend {str(backend)[:80]!r} is not a module name.")
    return backend


def _backend_path(table: dict[str, Any], label: str) -> tuple[str, ...]:
    paths = table.get("backend-path", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths) or len(paths) > MAX_BACKEND_PATHS:
        raise InstallFailed(f"{label}: its pyproject.toml's backend-path is not a short list of strings.")
    for path in paths:
        unified = path.replace("\\", "/")
        normal = posixpath.normpath(unified or ".")
        if unified.startswith("/") or _DRIVE.match(unified) or normal == ".." or normal.startswith("../") \
                or "\0" in path:
            raise InstallFailed(f"{label}: its backend-path {path[:80]!r} leaves the source tree.")
    return tuple(paths)


def _pyproject(sdist: Path, label: str) -> str | None:
    """The text of the top folder's pyproject.toml, or None; the whole listing checked on the way."""
    try:
        data = _zip_pyproject(sdist, label) if sdist.name.endswith(".zip") else _tar_pyproject(sdist, label)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, RuntimeError,
            NotImplementedError) as exc:
        raise InstallFailed(f"{sdist.name[:100]} is not a readable source distribution: {str(exc)[:200]}.") \
            from None
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InstallFailed(f"{label}: its pyproject.toml is not valid TOML (not UTF-8).") from None


class _Listing:
    """The members seen so far: their count, declared bytes and top folders; refuses past the limits."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.count = 0
        self.total = 0
        self.tops: set[str] = set()

    def add(self, name: str, size: int, is_dir: bool) -> list[str]:
        """The member's path components, once its path and the running totals are checked."""
        self.count += 1
        self.total += max(size, 0)
        if self.count > MAX_MEMBERS:
            raise InstallFailed(f"{self.label}: its source distribution holds over {MAX_MEMBERS} files.")
        if self.total > MAX_BYTES:
            raise InstallFailed(f"{self.label}: its source distribution unpacks to over {MAX_BYTES >> 20} MB.")
        unified = name.replace("\\", "/")
        parts = [p for p in unified.split("/") if p not in ("", ".")]
        if unified.startswith("/") or _DRIVE.match(unified) or ".." in parts or "\0" in name:
            raise InstallFailed(f"{self.label}: its source distribution holds a path outside its folder "
                                f"({name[:80]!r}).")
        if parts:
            self.tops.add(parts[0] if len(parts) > 1 or is_dir else f"/{parts[0]}")
        return parts

    def top(self) -> str:
        """The one top folder every member lies in (a file at the top counts as another)."""
        if len(self.tops) != 1 or next(iter(self.tops)).startswith("/"):
            raise InstallFailed(f"{self.label}: its source distribution's files are not in one top folder.")
        return next(iter(self.tops))

    def refuse_special(self, name: str) -> None:
        raise InstallFailed(f"{self.label}: its source distribution holds a link or a device ({name[:80]!r}).")


def _is_pyproject(parts: list[str]) -> bool:
    return len(parts) == 2 and parts[1] == "pyproject.toml"


def _tar_pyproject(sdist: Path, label: str) -> bytes | None:
    """A .tar.gz read as a stream: the pyproject.toml is read when its header comes by."""
    listing = _Listing(label)
    found = None
    with tarfile.open(sdist, "r:gz") as archive:
        while (member := archive.next()) is not None:
            parts = listing.add(member.name, member.size, member.isdir())
            if not (member.isfile() or member.isdir()):
                listing.refuse_special(member.name)
            if member.isfile() and _is_pyproject(parts):
                found = _bounded(archive.extractfile(member), member.size, label)
    listing.top()  # one top folder, so the pyproject.toml found at depth two is in it
    return found


def _zip_pyproject(sdist: Path, label: str) -> bytes | None:
    listing = _Listing(label)
    found: zipfile.ZipInfo | None = None
    with zipfile.ZipFile(sdist) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise InstallFailed(f"{label}: its source distribution holds over {MAX_MEMBERS} files.")
        for info in infos:
            parts = listing.add(info.filename, info.file_size, info.is_dir())
            if stat.S_IFMT(info.external_attr >> 16) not in (0, stat.S_IFREG, stat.S_IFDIR):
                listing.refuse_special(info.filename)
            if not info.is_dir() and _is_pyproject(parts):
                found = info
        listing.top()
        if found is None:
            return None
        with archive.open(found) as member:
            return _bounded(member, found.file_size, label)


def _bounded(stream: Any, size: int, label: str) -> bytes:
    if stream is None:
        return b""
    if size > MAX_PYPROJECT:
        raise InstallFailed(f"{label}: its pyproject.toml is over {MAX_PYPROJECT >> 20} MB.")
    data: bytes = stream.read(MAX_PYPROJECT + 1)
    if len(data) > MAX_PYPROJECT:
        raise InstallFailed(f"{label}: its pyproject.toml is over {MAX_PYPROJECT >> 20} MB.")
    return data
