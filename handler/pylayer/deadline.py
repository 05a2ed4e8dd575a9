"""The Lambda deadline, as the core sees it: time left, and the last safe moments to start a step.

With the reaper, the provider's only timeout mechanism: a step that would run past the deadline is not
started, and an invocation that dies anyway is answered by the reaper (no timer thread answers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import OutOfTime

# Seconds kept back from the Lambda deadline for zip, upload, publish and the answer.
RESERVE_SECONDS = 60.0
# Below this, publishing is not started: a version published by an invocation that then times out is
# named by the reaper's answer at best, and an Update's is left for a later request to delete.
PUBLISH_MARGIN_SECONDS = 20.0


@dataclass(frozen=True)
class Deadline:
    remaining: Callable[[], float] = lambda: 900.0

    def for_work(self) -> float:
        """Seconds an install or a worker may still take."""
        return self.remaining() - RESERVE_SECONDS

    def check(self, step: str) -> None:
        left = self.remaining()
        if left < PUBLISH_MARGIN_SECONDS:
            raise OutOfTime(f"Stopped before {step}: only {int(left)} s were left before the Lambda timeout. "
                            "Nothing was published; retry, or make the layer smaller.")
