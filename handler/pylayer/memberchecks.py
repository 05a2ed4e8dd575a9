"""Wheel member checks run beside the build, not before it.

Every member of a new wheel is inflated once to check its declared size and
CRC-32 (``wheels.verify_members``): for pandas and numpy that is 98 MB and
0.16 s of a cold build. The provider need not wait for it to stage the
layer and start its workers: nothing reads a member's data before the check
could refuse it except the workers (whose own zip reads check every CRC), and
nothing is recorded or published before ``wait`` returned. A wheel enters
the cache only once its check passed.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .wheels import verify_members

log = logging.getLogger(__name__)


class MemberChecks:
    """``add`` from ``wheels.fetch``; ``wait`` before anything is recorded or published; ``close`` always."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder  # where new wheels wait for their check (the build's work folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="member-check")
        self._checks: list[Future[None]] = []

    def add(self, held: Path, cached: Path, name: str) -> None:
        self._checks.append(self._pool.submit(_check_and_keep, held, cached, name))

    def wait(self) -> None:
        """Every check done; the first that failed is raised: an ``InstallFailed`` that names the wheel (the
        only thing a check raises)."""
        for check in self._checks:
            check.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)  # each check is bounded: it inflates no more than a member declares


def _check_and_keep(held: Path, cached: Path, name: str) -> None:
    """Raises only the check's ``InstallFailed``: keeping the wheel is the cache's business, and a cache
    that cannot take it (cleared while /tmp ran full, say) fails nothing."""
    verify_members(held, name)
    # A name of its own: a download of the same wheel writes <sha256>.part (leftovers are pruned as *.part).
    partial = cached.with_suffix(f".{uuid.uuid4().hex[:12]}.part")
    try:
        try:
            os.link(held, partial)  # the build goes on reading ``held``; the cache gets the same file
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EEXIST):
                raise
            partial.unlink(missing_ok=True)
            shutil.copyfile(held, partial)
        partial.replace(cached)
    except OSError:
        partial.unlink(missing_ok=True)
        log.warning("Could not keep %s in the wheel cache", name, exc_info=True)
