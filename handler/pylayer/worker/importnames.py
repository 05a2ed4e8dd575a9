"""The modules a distribution gives its users: what ``ImportCheck: auto`` imports.

Read from the installed distribution in the layer, never guessed from its
name (``pillow`` is ``PIL``, ``protobuf`` is ``google.protobuf``):
``top_level.txt`` where the wheel has one, else the top-level packages and
modules its RECORD lists. A namespace package (no ``__init__.py``: ``google``)
proves nothing by importing, so the search goes down to the regular packages
inside it that this distribution installed. Test suites, ``.pth`` hooks and
private helpers (``_yaml`` beside ``yaml``) are left out.

Standard library only, Python 3.9+: it runs in the worker.
"""

from __future__ import annotations

import csv
import io
import os
import re

MAX_PER_DISTRIBUTION = 5
SKIPPED = frozenset({"tests", "test", "testing", "__pycache__", "bin", "include", "share", "etc"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DIST_INFO = re.compile(r"(?P<name>[^/-]+)-[^/-]+\.dist-info\Z")


def canonical(name: str) -> str:
    """PEP 503's normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def find(root: str, folders: list[str], distributions: list[str]) -> dict[str, list[str]]:
    """distribution -> its importable modules, for each wanted distribution installed in the folders
    (searched in order: the first folder holding a distribution wins, as on sys.path)."""
    wanted = {canonical(d) for d in distributions}
    found: dict[str, list[str]] = {}
    for folder in folders:
        base = os.path.join(root, *folder.split("/"))
        if not os.path.isdir(base):
            continue
        for entry in sorted(os.listdir(base)):
            match = _DIST_INFO.match(entry)
            if not match or canonical(match["name"]) not in wanted or canonical(match["name"]) in found:
                continue
            dist_info = os.path.join(base, entry)
            found[canonical(match["name"])] = modules(_read(dist_info, "RECORD"), _read(dist_info, "top_level.txt"),
                                                      base)
    return found


def _read(folder: str, name: str) -> str | None:
    try:
        with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def record_paths(record: str | None) -> list[str]:
    """The installed paths a RECORD lists (relative to the folder it was installed in)."""
    if not record:
        return []
    return [row[0] for row in csv.reader(io.StringIO(record)) if row and row[0] and ".." not in row[0].split("/")]


def modules(record: str | None, top_level: str | None, base: str = "") -> list[str]:
    """The modules worth importing, from a RECORD and an optional top_level.txt."""
    paths = record_paths(record)
    tops = _tops(paths)
    if top_level is not None:
        listed = {line.strip().replace("/", ".") for line in top_level.splitlines() if line.strip()}
        # top_level.txt may name what RECORD does not hold (an older build's leftovers): keep what is there,
        # or trust the list where RECORD is missing.
        tops = (tops & listed) if paths else {t for t in listed if "." not in t}
    names: set[str] = set()
    for top in tops:
        names.update(_regular(top, paths, base))
    kept = sorted(n for n in names if all(_IDENTIFIER.match(p) for p in n.split("."))
                  and not SKIPPED.intersection(n.split(".")))
    public = [n for n in kept if not any(p.startswith("_") for p in n.split("."))]
    return (public or kept)[:MAX_PER_DISTRIBUTION]


def _tops(paths: list[str]) -> set[str]:
    tops: set[str] = set()
    for path in paths:
        parts = path.split("/")
        first = parts[0]
        if first.endswith((".dist-info", ".data")) or first in SKIPPED:
            continue
        if len(parts) > 1:
            name = first  # a package; not numpy.libs (auditwheel's vendored libraries), not a .data folder
        elif first.endswith(".py"):
            name = first[:-3]
        elif ".so" in first or first.endswith(".pyd"):
            name = first.split(".", 1)[0]  # name.cpython-312-x86_64-linux-gnu.so
        else:
            continue
        if _IDENTIFIER.match(name):
            tops.add(name)
    return tops


def _regular(top: str, paths: list[str], base: str, depth: int = 0) -> list[str]:
    """``top`` if it is a module or a regular package; inside a namespace package, the regular ones below."""
    prefix = top.replace(".", "/")
    inside = [p[len(prefix) + 1:] for p in paths if p.startswith(prefix + "/")]
    if not inside:
        return [top]  # a module file (or a package RECORD does not list: let the import say)
    if "__init__.py" in inside or any(p.startswith("__init__.") for p in inside if "/" not in p):
        return [top]
    if base and os.path.isfile(os.path.join(base, prefix, "__init__.py")):
        return [top]  # another distribution made it a regular package
    if depth >= 3:
        return []
    below = _tops(inside)
    return [name for sub in sorted(below) for name in _regular(f"{top}.{sub}", paths, base, depth + 1)]
