"""Where a build is: its stages (resolve, download, compile and import, zip), reported as they go.

The engine and the provider report to a ``Progress``; the ``pylayer`` command shows it on a terminal
(devtools/cli.py), the provider logs one line per stage with its seconds (``Logged``). Standard library
only.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

log = logging.getLogger(__name__)


class Progress(Protocol):
    def start(self, stage: str, total: int = 0, unit: str = "") -> None:
        """A stage begins; ``total`` in ``unit`` (bytes: "B") when it is known, else 0."""
        ...

    def advance(self, stage: str, amount: int) -> None: ...

    def finish(self, stage: str, note: str = "") -> None: ...


class Silent:
    def start(self, stage: str, total: int = 0, unit: str = "") -> None:
        pass

    def advance(self, stage: str, amount: int) -> None:
        pass

    def finish(self, stage: str, note: str = "") -> None:
        pass


class Logged:
    """One log line per stage, when it ends, with its seconds: where a slow build's time went."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self.logger = logger
        self.started: dict[str, float] = {}
        self.done: dict[str, int] = {}
        self.lock = threading.Lock()  # downloads advance from several threads

    def start(self, stage: str, total: int = 0, unit: str = "") -> None:
        with self.lock:
            self.started[stage] = time.monotonic()
            self.done[stage] = 0

    def advance(self, stage: str, amount: int) -> None:
        with self.lock:
            self.done[stage] = self.done.get(stage, 0) + amount

    def finish(self, stage: str, note: str = "") -> None:
        with self.lock:
            seconds = time.monotonic() - self.started.pop(stage, time.monotonic())
            self.done.pop(stage, None)
        self.logger.info("Stage %s: %.2f s%s", stage, seconds, f" ({note})" if note else "",
                         extra={"stage": stage, "seconds": round(seconds, 3)})
