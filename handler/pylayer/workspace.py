"""/tmp as the provider uses it: a fresh work directory per build, caches kept between builds, ENOSPC explained."""

from __future__ import annotations

import errno
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .archive import megabytes
from .errors import StorageFull


@dataclass(frozen=True)
class Workspace:
    root: Path  # PYLAYER_WORK_ROOT
    cache: Path  # the installer's and the wheels' cache, kept by a warm container

    @property
    def builds(self) -> Path:
        """Parent of every build's work directory; emptied at the start of each invocation."""
        return self.root / "builds"

    @contextmanager
    def workdir(self) -> Iterator[Path]:
        """A fresh directory, removed whatever happens: a warm Lambda container keeps /tmp."""
        self.builds.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="build-", dir=self.builds))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    @contextmanager
    def guard(self, needed: int = 0) -> Iterator[None]:
        """Turn ENOSPC into a reason that names /tmp's size and what the layer needs."""
        try:
            yield
        except StorageFull:
            shutil.rmtree(self.cache, ignore_errors=True)  # only a cache: make room for the next build
            raise
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            total = shutil.disk_usage(self.root).total if self.root.exists() else 0
            shutil.rmtree(self.cache, ignore_errors=True)
            need = f"; the layer needs about {megabytes(needed * 2)} (files and zip)" if needed else ""
            raise StorageFull(f"/tmp is full ({megabytes(total)} of ephemeral storage){need}: "
                              "raise the provider's EphemeralStorageSize.", str(exc)) from None

    def cache_budget(self) -> int:
        """The wheel cache may keep a quarter of /tmp between builds."""
        try:
            return shutil.disk_usage(self.root).total // 4
        except OSError:
            return 0

    def clean(self) -> None:
        """Remove work directories a killed invocation left behind in this container."""
        if self.builds.is_dir():
            for child in self.builds.iterdir():
                shutil.rmtree(child, ignore_errors=True)
