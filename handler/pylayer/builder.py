"""The build engine: a spec's layer entries, the same in Lambda and on a laptop.

With uv (the default), uv resolves for the target and the wheels' members
become the entries, copied later without recompression; with pip, or when
source distributions are allowed, the packages are installed into a folder
whose files become the entries. Slimming applies last.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import archive, install, slim, wheels
from .index import Index
from .properties import LayerSpec

log = logging.getLogger(__name__)
FETCH_STALL_SECONDS = 60.0


@dataclass(frozen=True)
class Engine:
    cache_root: Path
    installer: str = "uv"
    allow_sdist: bool = False
    index: Index = field(default_factory=Index)
    # Seconds the installer may still take (the Lambda deadline less a reserve).
    time_left: Callable[[], float] = lambda: 900.0

    def cache(self, name: str) -> Path:
        path = self.cache_root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def resolve(self, spec: LayerSpec, workdir: Path) -> list[wheels.Wheel]:
        """One wheel per package, chosen by uv for the spec's target."""
        requirements = workdir / "requirements.in"
        requirements.write_text("".join(f"{r}\n" for r in spec.requirements))
        lock = workdir / "pylock.toml"
        command = install.plan_uv_lock(install.find_uv(), requirements, spec.target, lock, self.cache("uv"),
                                       self.index)
        log.info("Resolving %s for %s", " ".join(spec.requirements), spec.target.describe())
        install.run(command, spec.target, self.time_left())
        return wheels.parse_lock(lock.read_text(), spec.target)

    def fetch(self, chosen: list[wheels.Wheel]) -> list[Path]:
        # A socket timeout bounds each read, not the download: a stalled connection fails within a
        # minute instead of holding the build until the Lambda deadline.
        timeout = min(max(self.time_left(), 1.0), FETCH_STALL_SECONDS)
        return wheels.fetch_all(chosen, self.cache("wheels"), self.index, timeout=timeout)

    def entries(self, spec: LayerSpec, workdir: Path) -> list[archive.Entry]:
        """The layer's files, sorted, slimmed as the spec asks."""
        if self.installer == "pip" or self.allow_sdist:
            found = self._installed(spec, workdir / "python")
        else:
            found = wheels.entries(self.fetch(self.resolve(spec, workdir)))
        return slim.select(found, spec.slim, spec.exclude_runtime_packages)

    def _installed(self, spec: LayerSpec, dest: Path) -> list[archive.Entry]:
        cache = self.cache(self.installer)
        if self.installer == "pip":
            command = install.plan_pip(spec.requirements, spec.target, dest, cache, self.index)
        else:
            command = install.plan_uv(install.find_uv(), spec.requirements, spec.target, dest, cache,
                                      self.index, self.allow_sdist)
        log.info("Installing %s for %s", " ".join(spec.requirements), spec.target.describe())
        output = install.run(command, spec.target, self.time_left())
        log.debug("Installer output: %s", output[-4000:])
        dest.mkdir(parents=True, exist_ok=True)
        return archive.collect(dest)
