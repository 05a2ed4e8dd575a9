"""Source distributions built into pure wheels by a runtime worker, never in the provider.

With ``AllowSourceDistributions``, a resolution that fails because a project
has only a source distribution (docopt, say) asks for it here: the sdist is
fetched from the index (checked against the index's sha256), its build system
read statically (``sdists``: no code runs), the build backend's own
requirements resolved as wheels, and the whole handed to a runtime worker of
one of the layer's runtimes, which runs the backend (``pylayer.worker.sdist``)
with the worker's role (``staging/`` only) and no access to the provider's
process. Only a pure wheel (``py3-none-any``, no compiled file) comes back;
the provider checks that again, puts it in the wheel cache and in a
find-links folder, and the resolution runs again with it.

``plan_builds`` is pure: which release of which project to build.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

from . import failures, install, sdists, wheels
from .errors import InstallFailed
from .index import Index
from .simpleindex import IndexFile
from .target import Target

log = logging.getLogger(__name__)
MAX_SOURCE_BUILDS = 10  # per request: each is a worker invocation
COMPILED = (".so", ".pyd", ".dylib", ".dll")


@dataclass(frozen=True)
class Wanted:
    """A project uv found no usable wheel for: ``specifier`` as uv named it ("" for every version)."""

    package: str
    specifier: str = ""


def wanted(stderr: str) -> list[Wanted]:
    """The projects uv's failure says need building (no wheel at all, not wheels for another target)."""
    found = []
    for problem in failures.wheel_problems(failures.clean(stderr)):
        if problem.kind != "none":
            continue
        specifier = re.sub(r"^[A-Za-z0-9._-]+(\[[^\]]*\])?", "", problem.name).strip()
        found.append(Wanted(problem.package, specifier))
    return found


def choose(files: Sequence[IndexFile], want: Wanted) -> IndexFile | None:
    """The newest non-yanked, final release's sdist that the specifier allows."""
    try:
        allowed = SpecifierSet(want.specifier)
    except InvalidSpecifier:
        allowed = SpecifierSet()
    best: tuple[Version, IndexFile] | None = None
    for item in files:
        if item.yanked or not sdists.is_sdist(item.filename):
            continue
        try:
            name, version = parse_sdist_filename(item.filename)
        except InvalidSdistFilename:
            continue
        if canonicalize_name(name) != want.package or version.is_prerelease or version not in allowed:
            continue
        if best is None or version > best[0]:
            best = (version, item)
    return best[1] if best else None


@dataclass(frozen=True)
class SourceJob:
    """What a worker needs to build one sdist."""

    target: Target
    sdist: Path
    build_wheels: tuple[Path, ...]
    build_system: sdists.BuildSystem


# Builds one sdist in a runtime worker; returns the wheel it made (a local file).
Builder = Callable[[SourceJob, Path, Callable[[], float]], Path]


@dataclass
class SourceBuilds:
    """The sdists one request built, shared by its runtimes' resolutions (one build per release)."""

    build: Builder
    target: Target  # the runtime whose worker builds (one of the layer's)
    workdir: Path
    wheel_cache: Path
    lister: Callable[[Index, str, float], list[IndexFile]]
    count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _done: dict[str, Path] = field(default_factory=dict)

    @property
    def find_links(self) -> Path:
        folder = self.workdir / "built-wheels"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def provide(self, needed: Sequence[Wanted], index: Index, time_left: Callable[[], float]) -> bool:
        """Build what is needed and not built yet; False when nothing new could be built."""
        with self._lock:  # the runtimes resolve in parallel: one build per release
            made = False
            for want in needed:
                made = self._one(want, index, time_left) or made
            return made

    def _one(self, want: Wanted, index: Index, time_left: Callable[[], float]) -> bool:
        timeout = min(max(time_left(), 1.0), 60.0)
        chosen = choose(self.lister(index, want.package, timeout), want)
        if chosen is None:
            raise InstallFailed(f"{want.package}{want.specifier} has neither a wheel nor a source distribution "
                                "on the index.")
        if chosen.filename in self._done:
            return False
        if self.count >= MAX_SOURCE_BUILDS:
            raise InstallFailed(f"More than {MAX_SOURCE_BUILDS} source distributions to build; pin packages "
                                "that have wheels.")
        self.count += 1
        name, version = parse_sdist_filename(chosen.filename)
        log.info("Building %s %s from its source distribution in the %s worker", name, version,
                 self.target.describe())
        sdist = self._fetch(chosen, index, timeout)
        system = sdists.build_system(sdist)
        build_wheels = self._build_environment(system, index, time_left)
        built = self.build(SourceJob(self.target, sdist, tuple(build_wheels), system), self.workdir, time_left)
        self._done[chosen.filename] = self.accept(built, canonicalize_name(name), str(version))
        return True

    def _fetch(self, chosen: IndexFile, index: Index, timeout: float) -> Path:
        if not chosen.sha256:
            raise InstallFailed(f"The index gave no sha256 for {chosen.filename}; it cannot be verified.")
        cached = wheels.fetch(wheels.Wheel("sdist", "", chosen.url, chosen.sha256), self.workdir / "sdists", index,
                              timeout, sdist=True)
        path = self.workdir / "sources" / chosen.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, path)
        return path

    def _build_environment(self, system: sdists.BuildSystem, index: Index, time_left: Callable[[], float]
                           ) -> list[Path]:
        """The build backend's requirements, as verified wheels for the building runtime."""
        folder = self.workdir / "build-env"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "requirements.in").write_text("".join(f"{r}\n" for r in system.requires))
        lock = folder / "pylock.toml"
        command = install.plan_uv_lock(install.find_uv(), folder / "requirements.in", self.target, lock,
                                       self.wheel_cache.parent / "uv", index)
        try:
            install.run(command, self.target, time_left())
        except InstallFailed as failed:
            raise InstallFailed(f"The build requirements of a source distribution could not be resolved: "
                                f"{failed.reason}", failed.detail) from None
        chosen = wheels.parse_lock(lock.read_text(), self.target)
        return wheels.fetch_all(chosen, self.wheel_cache, index, min(max(time_left(), 1.0), 60.0))

    def accept(self, built: Path, name: str, version: str) -> Path:
        """The worker's wheel, checked here too (the worker ran package code): pure, and the right project."""
        try:
            wheel_name, wheel_version, _, tags = parse_wheel_filename(built.name)
        except ValueError:
            raise InstallFailed(f"Building {name} {version} gave {built.name}, which is not a wheel.") from None
        if canonicalize_name(wheel_name) != name or str(wheel_version) != str(Version(version)):
            raise InstallFailed(f"Building {name} {version} gave a wheel of {wheel_name} {wheel_version}.")
        if any(t.abi != "none" or t.platform != "any" or not t.interpreter.startswith("py") for t in tags):
            raise InstallFailed(f"Building {name} {version} gave a wheel for one platform ({built.name}); only "
                                "pure-Python source distributions are built.")
        try:
            with zipfile.ZipFile(built) as made:
                # By name, and by content: an ELF object under an innocent name is compiled code too.
                compiled = [n for n in made.namelist() if n.lower().endswith(COMPILED) or ".so." in n
                            or (not n.endswith("/") and made.open(n).read(4) == b"\x7fELF")]
        except zipfile.BadZipFile:
            raise InstallFailed(f"Building {name} {version} gave a damaged wheel.") from None
        if compiled:
            raise InstallFailed(f"{name} {version} built a wheel with compiled code ({compiled[0]}); only "
                                "pure-Python source distributions are built.")
        wheels.verify_members(built)  # sizes and CRCs too: its members are copied as they are
        digest = hashlib.sha256(built.read_bytes()).hexdigest()
        self.wheel_cache.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, self.wheel_cache / f"{digest}.whl")  # where fetch finds it by its sha256
        placed = self.find_links / built.name
        shutil.copyfile(built, placed)
        log.info("Built %s (sha256 %s)", built.name, digest)
        return placed

