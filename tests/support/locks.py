"""Locks as `pylayer lock --write` writes them, made without an index (the wheels' hashes are made up)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pylayer import layerlock


@dataclass(frozen=True)
class Picked:
    """A wheel a resolution chose (what layerlock reads of wheels.Wheel)."""

    name: str
    version: str
    sha256: str
    filename: str = "w.whl"


def lock_lines(runtimes: Sequence[str], architecture: str, requirements: tuple[str, ...] = ("six==1.16.0",)
               ) -> list[str]:
    """A Lock for six alone (numpy too, when two requirements are given)."""
    chosen = {r: [Picked("six", "1.16.0", "a" * 64), Picked("numpy", "2.2.6", "b" * 64)][:len(requirements)]
              for r in runtimes}
    return layerlock.make(requirements, architecture, chosen).lines()
