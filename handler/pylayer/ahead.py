"""The layer's zip, written and uploaded while the runtime workers still import.

A worker writes its bytecode before it imports anything (the import proof is
the last quarter of its time on a large layer). Once every compiling runtime's
bytecode is in, the provider writes the layer's zip and uploads it meanwhile,
instead of after the workers' answers. The archive is used only if the layer
then passes, with exactly these entries. One uploaded for a layer that then
failed stays in the bucket until its lifecycle rule expires it: no spec pointer
names it, no version is published from it, and its key is the digest of its
bytes, so a later build that makes the same bytes may use it. (Deleting it
would need a delete grant on ``layers/*``, which the provider's role does not
have.)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass

from .archive import Archive, Entry

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The layer failed before the zip made ahead was uploaded: it is not uploaded."""


@dataclass(frozen=True)
class Made:
    archive: Archive
    key: str  # where it is in the bucket
    uploaded: bool  # False: an identical archive was there already


class ArchiveAhead:
    """``start(entries)`` once (from a worker's thread); then ``take(entries)`` or ``discard()``.

    ``make`` is given ``cancelled``: set by ``discard``, it tells a make still running not to upload."""

    def __init__(self, make: Callable[[Archive, list[Entry], threading.Event], Made]) -> None:
        self._make = make
        self.cancelled = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-ahead")
        self._lock = threading.Lock()
        self._entries: list[Entry] | None = None
        self._future: Future[Made] | None = None

    def start(self, staged: Archive, entries: list[Entry]) -> None:
        """Make the zip of ``entries``, the staged archive's with bytecode after them."""
        with self._lock:
            if self._future is None:
                log.info("Writing the layer's zip while the workers import")
                self._entries = list(entries)
                self._future = self._pool.submit(self._make, staged, self._entries, self.cancelled)

    def take(self, entries: list[Entry]) -> Made | None:
        """The archive made ahead, if it holds exactly these entries; None: make it now."""
        made = self._wait()
        if made is not None and self._entries != entries:
            self._unused(made)
            return None
        return made

    def discard(self, seconds: float) -> None:
        """The layer failed: say what is left of what was made ahead, waiting no more than ``seconds``
        for it (the failure's answer comes first). A make not yet uploading then uploads nothing."""
        self.cancelled.set()
        made = self._wait(max(seconds, 0.0))
        if made is not None:
            self._unused(made)

    def close(self) -> None:
        self._pool.shutdown(wait=False)  # take() and discard() have waited as long as they should

    def _wait(self, seconds: float | None = None) -> Made | None:
        with self._lock:
            future = self._future
        if future is None:
            return None
        try:
            return future.result(timeout=seconds)
        except FuturesTimeout:
            log.warning("The layer's zip made ahead was not done in %.0f s; not waiting for it", seconds or 0)
            return None
        except Cancelled:
            return None
        except Exception:
            # Made again the usual way, where a failure gets its reason (a full /tmp, a denied upload).
            log.warning("Making the layer's archive ahead failed; making it now", exc_info=True)
            return None

    def _unused(self, made: Made) -> None:
        if made.uploaded:
            log.info("%s was uploaded ahead for a layer that is not published: the bucket's lifecycle rule "
                     "expires it", made.key)
