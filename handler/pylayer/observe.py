"""What the core reports while it works: phases (traced) and measurements (metrics).

The core calls an Observer; app.py supplies one backed by Powertools Tracer
and Metrics. Tests and local tools use Quiet, or a recorder of their own.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Protocol


class Observer(Protocol):
    def phase(self, name: str) -> AbstractContextManager[object]:
        """A span around one step: install, zip, upload, publish."""
        ...

    def measure(self, name: str, value: float, unit: str) -> None:
        """One measurement; unit is a CloudWatch unit name (Seconds, Bytes, Count)."""
        ...


class Quiet:
    def phase(self, name: str) -> AbstractContextManager[object]:
        return nullcontext()

    def measure(self, name: str, value: float, unit: str) -> None:
        pass
