"""Where each wheel's files go in a layer that serves several runtimes. Pure.

Lambda puts ``/opt/python/lib/pythonX.Y/site-packages`` and then
``/opt/python`` on a function's sys.path. A wheel every listed runtime chose,
as the very same file, goes under ``python/``; any other goes under the
``site-packages`` folder of each runtime that chose it. A layer of one runtime
keeps everything under ``python/``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from .archive import Entry
from .target import Target
from .wheels import Wheel

SHARED = "python"


def place_wheels(chosen: Mapping[Target, Sequence[Wheel]]) -> list[tuple[str, Wheel]]:
    """(prefix, wheel) for every copy a layer holds, sorted by prefix then wheel name."""
    targets = list(chosen)
    if len(targets) == 1:
        return sorted(((SHARED, w) for w in chosen[targets[0]]), key=lambda p: (p[0], p[1].name))
    choosers: dict[str, set[Target]] = defaultdict(set)
    by_digest: dict[str, Wheel] = {}
    for target, wheels in chosen.items():
        for wheel in wheels:
            choosers[wheel.sha256].add(target)
            by_digest[wheel.sha256] = wheel
    placed = []
    for digest, wheel in by_digest.items():
        if len(choosers[digest]) == len(targets):
            placed.append((SHARED, wheel))
        else:
            placed += [(t.site_packages, wheel) for t in choosers[digest]]
    return sorted(placed, key=lambda p: (p[0], p[1].name))


def arrange(placed: Iterable[tuple[str, Entry]]) -> list[Entry]:
    """Entries under their prefixes, sorted; a later one wins a path two share."""
    chosen: dict[str, Entry] = {}
    for prefix, entry in placed:
        name = f"{prefix}/{entry.arcname}"
        chosen[name] = Entry(name, entry.size, entry.executable, entry.path, entry.member, entry.data)
    return [chosen[name] for name in sorted(chosen)]
