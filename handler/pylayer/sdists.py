"""A source distribution's build system, read from the archive without running anything.

PEP 517/518: ``[build-system]`` in ``pyproject.toml`` names the backend and
its requirements; without it, setuptools' legacy backend. The provider reads
it only to resolve the build requirements as wheels for the worker that will
build (``sources``); nothing of the sdist runs here. The archive is hostile
until built: one small member is read, and only after its path is checked.
"""

from __future__ import annotations

import re
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename

from .errors import InstallFailed

LEGACY = ("setuptools>=40.8.0",)
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
MAX_MEMBERS = 20_000
MAX_PYPROJECT = 1 << 20
_BACKEND = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_.]*)?")


@dataclass(frozen=True)
class BuildSystem:
    requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...] = ()


def is_sdist(filename: str) -> bool:
    return filename.endswith((".tar.gz", ".zip"))


def build_system(sdist: Path) -> BuildSystem:
    """The backend and its requirements; refuses what cannot be built from wheels alone."""
    name = sdist.name
    try:
        project, _ = parse_sdist_filename(name)
    except InvalidSdistFilename:
        raise InstallFailed(f"{name} is not a source distribution's file name.") from None
    text = _pyproject(sdist)
    try:
        table = tomllib.loads(text).get("build-system") if text is not None else None
    except tomllib.TOMLDecodeError:
        raise InstallFailed(f"{name}: its pyproject.toml is not valid TOML.") from None
    if not isinstance(table, dict):
        return _with_wheel(BuildSystem(LEGACY, LEGACY_BACKEND))
    requires = table.get("requires", list(LEGACY))
    backend = table.get("build-backend", LEGACY_BACKEND)
    paths = table.get("backend-path", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires) or \
            not isinstance(backend, str) or not isinstance(paths, list) or \
            not all(isinstance(p, str) for p in paths):
        raise InstallFailed(f"{project}: its pyproject.toml has a malformed [build-system] table.")
    for item in requires:
        try:
            if Requirement(item).url:
                raise InstallFailed(f"{project}: its build requires {item[:80]}, a direct URL; only packages "
                                    "from the index are allowed.")
        except InvalidRequirement:
            raise InstallFailed(f"{project}: its build requirement {item[:80]!r} is not valid.") from None
    if not _BACKEND.fullmatch(backend):
        raise InstallFailed(f"{project}: its build backend {backend[:80]!r} is not a module name.")
    for path in paths:
        if path.startswith("/") or ".." in path.replace("\\", "/").split("/"):
            raise InstallFailed(f"{project}: its backend-path {path[:80]!r} leaves the source tree.")
    return _with_wheel(BuildSystem(tuple(requires), backend, tuple(paths)))


def _with_wheel(system: BuildSystem) -> BuildSystem:
    """setuptools before 70.1 builds wheels through the ``wheel`` project, and legacy projects do not say
    so (their get_requires_for_build_wheel asks for it): it is added to every setuptools build."""
    names = {canonicalize_name(Requirement(r).name) for r in system.requires}
    if system.backend.startswith("setuptools") and "wheel" not in names:
        return BuildSystem((*system.requires, "wheel"), system.backend, system.backend_path)
    return system


def _pyproject(sdist: Path) -> str | None:
    """The top folder's pyproject.toml, or None."""
    try:
        if sdist.name.endswith(".zip"):
            with zipfile.ZipFile(sdist) as archive:
                infos = archive.infolist()
                _count(sdist, len(infos))
                found = next((i for i in infos if _is_pyproject(i.filename)), None)
                if found is None:
                    return None
                if found.file_size > MAX_PYPROJECT:
                    raise InstallFailed(f"{sdist.name}: its pyproject.toml is over 1 MB.")
                return archive.read(found).decode("utf-8", "replace")
        with tarfile.open(sdist, "r:gz") as archive:
            members = archive.getmembers()
            _count(sdist, len(members))
            member = next((m for m in members if m.isfile() and _is_pyproject(m.name)), None)
            if member is None:
                return None
            if member.size > MAX_PYPROJECT:
                raise InstallFailed(f"{sdist.name}: its pyproject.toml is over 1 MB.")
            extracted = archive.extractfile(member)
            return extracted.read(MAX_PYPROJECT).decode("utf-8", "replace") if extracted else None
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise InstallFailed(f"{sdist.name} is not a readable source distribution: {exc}.") from None


def _is_pyproject(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and parts[1] == "pyproject.toml" and parts[0] not in ("", ".", "..")


def _count(sdist: Path, count: int) -> None:
    if count > MAX_MEMBERS:
        raise InstallFailed(f"{sdist.name} holds {count} files; the limit is {MAX_MEMBERS}.")
