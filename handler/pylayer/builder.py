"""The build engine: a spec's layer files, the same in Lambda and on a laptop. No AWS.

With uv (the one installer), each runtime the layer serves is resolved on its own
(markers, Requires-Python and wheels differ), the chosen wheels are fetched
once each, and their members become the entries, placed by ``layout`` and
copied later without recompression. A project with only a source
distribution is built into a wheel by a runtime worker (``sources``), never
here. Slimming applies per wheel; a PEP 751 lock per runtime is added outside
``python/`` (``lockfile``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from . import archive, failures, fitting, install, layerlock, layout, lockfile, slim, wheels
from .errors import InstallFailed, ProviderError
from .index import Index
from .progress import Progress, Silent
from .properties import LayerSpec
from .simpleindex import IndexFile, project_files
from .sources import SourceBuilds, wanted
from .target import Target

log = logging.getLogger(__name__)
FETCH_STALL_SECONDS = 60.0
# Resolve, look for fitting wheels, constrain, resolve again: at most this many times.
MAX_FITTING_ROUNDS = 4
Lister = Callable[[Index, str, float], list[IndexFile]]


@dataclass(frozen=True)
class Built:
    """A layer's files before bytecode: what each runtime got, and who owns each file."""

    entries: list[archive.Entry]
    chosen: dict[Target, list[wheels.Wheel]]
    owners: dict[str, str] = field(default_factory=dict)  # arcname -> distribution name
    folders: dict[Target, dict[str, str]] = field(default_factory=dict)  # wheel sha256 -> its folder there

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(archive.installed_distributions(self.entries))


@dataclass(frozen=True)
class Engine:
    cache_root: Path
    lister: Lister = project_files
    progress: Progress = field(default_factory=Silent)  # where the build is: the CLI shows it, the provider logs it

    def cache(self, name: str) -> Path:
        path = self.cache_root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    # ------------------------------------------------------------------ resolve

    def resolve(self, spec: LayerSpec, target: Target, workdir: Path, index: Index,
                time_left: Callable[[], float], sources: SourceBuilds | None = None) -> list[wheels.Wheel]:
        """One wheel per package, chosen for this target, each one the target can load. With ``sources``
        (AllowSourceDistributions), a project that has only a source distribution is built into a pure
        wheel by a runtime worker, and the resolution runs again with it."""
        folder = workdir / target.runtime
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "requirements.in").write_text("".join(f"{r}\n" for r in spec.requirements))
        log.info("Resolving %s for %s%s", " ".join(spec.requirements), target.describe(),
                 " held to its Lock" if spec.lock is not None else "")
        # With a Lock, the installer may choose nothing but the locked versions, and what it chose is checked.
        held = layerlock.constraints(spec.lock, target.runtime) if spec.lock is not None else {}
        locked = layerlock.hashes(spec.lock, target.runtime) if spec.lock is not None else {}
        if spec.lock is not None:
            sources = None  # a locked layer installs reviewed wheels only: no build from source at deploy time
        while True:
            links = sources.find_links if sources is not None else None
            try:
                if target.wide_uv_platform == target.uv_platform:
                    chosen = self._compile(target, folder, index, time_left, target.uv_platform, dict(held), links,
                                           locked)
                else:
                    chosen = self._resolve_fitting(target, folder, index, time_left, links, held, locked)
                if spec.lock is not None:
                    layerlock.check(spec.lock, target.runtime, chosen)
                return chosen
            except InstallFailed as failed:
                needed = wanted(failed.detail) if sources is not None else []
                if sources is None or not needed or not sources.provide(needed, index, time_left):
                    raise

    def _resolve_fitting(self, target: Target, folder: Path, index: Index, time_left: Callable[[], float],
                         links: Path | None, held: dict[str, str], locked: Mapping[str, frozenset[str]]
                         ) -> list[wheels.Wheel]:
        """Amazon Linux 2: resolve at manylinux_2_28, keep what fits glibc 2.26, constrain the rest."""
        constraints: dict[str, str] = dict(held)
        for _ in range(MAX_FITTING_ROUNDS):
            chosen = self._compile(target, folder, index, time_left, target.wide_uv_platform, constraints, links,
                                   locked)
            fitted: list[wheels.Wheel] = []
            for wheel in chosen:
                if fitting.fits(wheel.filename, target):
                    fitted.append(wheel)
                    continue
                files = self.lister(index, wheel.name, min(max(time_left(), 1.0), FETCH_STALL_SECONDS))
                same = fitting.same_release(files, wheel.version, target,
                                            locked.get(canonicalize_name(wheel.name), frozenset()))
                if same is not None:
                    log.info("%s: %s fits %s better than %s", wheel.name, same.filename, target.describe(),
                             wheel.filename)
                    fitted.append(wheels.Wheel(wheel.name, wheel.version, same.url, same.sha256))
                    continue
                older = fitting.newest_fitting(files, target, below=wheel.version)
                if older is None:
                    raise InstallFailed(f"No wheel of {wheel.name} loads on {target.describe()} (glibc "
                                        f"{target.glibc[0]}.{target.glibc[1]}): every release on the index needs "
                                        "a newer glibc. Use python3.12 or newer.")
                log.info("%s==%s needs a newer glibc than %s has; constraining to <=%s", wheel.name,
                         wheel.version, target.describe(), older)
                constraints[canonicalize_name(wheel.name)] = f"{wheel.name}<={older}"
            if len(fitted) == len(chosen):
                return fitted
        raise InstallFailed(f"No set of wheels that loads on {target.describe()} was found in "
                            f"{MAX_FITTING_ROUNDS} resolutions; pin the packages with compiled wheels.")

    def _compile(self, target: Target, folder: Path, index: Index, time_left: Callable[[], float],
                 uv_platform: str, constraints: dict[str, str], links: Path | None = None,
                 locked: Mapping[str, frozenset[str]] | None = None) -> list[wheels.Wheel]:
        constraint_file = None
        if constraints:
            constraint_file = folder / "constraints.txt"
            constraint_file.write_text("".join(f"{c}\n" for _, c in sorted(constraints.items())))
        lock = folder / "pylock.toml"
        command = install.plan_uv_lock(install.find_uv(), folder / "requirements.in", target, lock,
                                       self.cache("uv"), index, uv_platform=uv_platform,
                                       constraints=constraint_file, find_links=links)
        try:
            install.run(command, target, time_left())
        except InstallFailed as failed:
            raise self._explained(failed, index, target, time_left) from None
        return wheels.parse_lock(lock.read_text(), target, locked)

    def _explained(self, failed: InstallFailed, index: Index, target: Target,
                   time_left: Callable[[], float]) -> InstallFailed:
        """uv's "no usable wheels" of a pinned release, told apart: source only, or wheels for other targets."""
        pinned = failures.pinned_unusable(failed.detail)[:5]
        if not pinned:
            return failed
        releases: dict[str, list[str]] = {}
        for package, version in pinned:
            try:
                files = self.lister(index, package, min(max(time_left(), 1.0), FETCH_STALL_SECONDS))
            except ProviderError:
                return failed  # uv's own account, then
            wanted = _version(version)
            releases[package] = [f.filename for f in files if wanted and _release_of(f.filename) == wanted]
        return InstallFailed(failures.summarize_failure(failed.detail, target, releases), failed.detail)

    def resolve_all(self, spec: LayerSpec, workdir: Path, index: Index, time_left: Callable[[], float],
                    sources: SourceBuilds | None = None) -> dict[Target, list[wheels.Wheel]]:
        """Every runtime's resolution, in parallel (uv runs in its own process)."""
        targets = spec.targets
        self.progress.start("resolve", len(targets), "runtimes")
        with ThreadPoolExecutor(max_workers=len(targets)) as pool:
            futures = [pool.submit(self.resolve, spec, t, workdir, index, time_left, sources) for t in targets]
            for future in futures:
                future.add_done_callback(lambda _: self.progress.advance("resolve", 1))
            chosen = {t: f.result() for t, f in zip(targets, futures, strict=True)}
        self.progress.finish("resolve", ", ".join(f"{t.runtime}: {len(ws)} packages" for t, ws in chosen.items()))
        return chosen

    def fetch(self, chosen: Sequence[wheels.Wheel], index: Index, time_left: Callable[[], float],
              checks: wheels.DeferredChecks | None = None) -> list[Path]:
        # A socket timeout bounds each read, not the download: a stalled connection fails within a
        # minute instead of holding the build until the Lambda deadline.
        timeout = min(max(time_left(), 1.0), FETCH_STALL_SECONDS)
        self.progress.start("download", sum(w.size for w in chosen), "B")
        fetched = wheels.fetch_all(chosen, self.cache("wheels"), index, timeout=timeout,
                                   on_bytes=lambda n: self.progress.advance("download", n), checks=checks)
        self.progress.finish("download", f"{len(fetched)} wheels, {sum(p.stat().st_size for p in fetched):,} bytes")
        return fetched

    # ------------------------------------------------------------------ build

    def build(self, spec: LayerSpec, workdir: Path, index: Index, time_left: Callable[[], float],
              content_key: str, sources: SourceBuilds | None = None,
              checks: wheels.DeferredChecks | None = None) -> Built:
        """The layer's files, sorted, slimmed as the spec asks, with a lock per runtime. Source
        distributions are built only through ``sources`` (a runtime worker), never here. With ``checks``,
        new wheels' members are checked in the background: the caller waits for them before it records
        or publishes anything."""
        built = self.layer_entries(spec, workdir, index, time_left, sources, checks)
        if not any(e.arcname.startswith("python/") for e in built.entries):
            # Lambda refuses an empty zip; say why it would be empty instead.
            raise InstallFailed(f"Nothing to install for {spec.describe()}: the environment markers "
                                "of the requirements exclude this target.")
        locks = [_lock_entry(content_key, t, built, index) for t in spec.targets]
        return Built(sorted([*built.entries, *locks], key=lambda e: e.arcname), built.chosen, built.owners,
                     built.folders)

    def layer_entries(self, spec: LayerSpec, workdir: Path, index: Index,
                      time_left: Callable[[], float], sources: SourceBuilds | None = None,
                      checks: wheels.DeferredChecks | None = None) -> Built:
        """Resolve, fetch, place, slim, arrange: the layer's files under python/, before its locks (``build``
        adds them) and bytecode (the workers). What ``pylayer diff`` sizes, too."""
        chosen = self.resolve_all(spec, workdir, index, time_left, sources)
        distinct = {w.sha256: w for ws in chosen.values() for w in ws}
        paths = dict(zip(distinct, self.fetch(list(distinct.values()), index, time_left, checks), strict=True))
        placed: list[tuple[str, archive.Entry]] = []
        owners: dict[str, str] = {}
        folders: dict[Target, dict[str, str]] = {t: {} for t in chosen}
        for prefix, wheel in layout.place_wheels(chosen):
            kept = slim.select(wheels.members(paths[wheel.sha256]), spec.slim, spec.exclude_runtime_packages)
            placed += [(prefix, e) for e in kept]
            owners.update((f"{prefix}/{e.arcname}", canonicalize_name(wheel.name)) for e in kept)
            for target, picked in chosen.items():
                if prefix in (layout.SHARED, target.site_packages) and wheel in picked:
                    folders[target][wheel.sha256] = prefix
        return Built(layout.arrange(placed), chosen, owners, folders)

def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _release_of(filename: str) -> Version | None:
    """The version of a wheel file name; None for anything else (a source distribution)."""
    try:
        return parse_wheel_filename(filename)[1] if filename.endswith(".whl") else None
    except InvalidWheelFilename:
        return None


def _lock_entry(content_key: str, target: Target, built: Built, index: Index) -> archive.Entry:
    text = lockfile.render(target, built.chosen.get(target, []), built.folders.get(target, {}), index.url).encode()
    return archive.Entry(lockfile.path(content_key, target.runtime), len(text), False, data=text)
