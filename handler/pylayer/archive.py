"""A reproducible layer zip: sorted entries, fixed timestamps, normalised modes.

Identical trees give byte-identical zips, so the zip's digest (Lambda's
CodeSha256) is a real content identity.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import LayerTooLarge

# Lambda's limit for a function and all its layers, unzipped.
MAX_UNZIPPED_BYTES = 262_144_000
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 6
_SKIPPED_DIRS = frozenset({"__pycache__"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class Entry:
    arcname: str
    path: Path
    size: int
    executable: bool


@dataclass(frozen=True)
class Archive:
    path: Path
    sha256: str  # hex digest of the zip
    code_sha256: str  # base64 digest, as Lambda reports it
    size: int
    unzipped_size: int
    file_count: int


def collect(root: Path, prefix: str = "python") -> list[Entry]:
    """Every regular file under root as a zip entry under prefix/, sorted."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS)
        for name in filenames:
            if name.endswith(_SKIPPED_SUFFIXES):
                continue
            path = Path(dirpath, name)
            info = path.stat()  # follows symlinks: the zip holds their content
            if not stat.S_ISREG(info.st_mode):
                continue
            relative = path.relative_to(root).as_posix()
            entries.append(Entry(f"{prefix}/{relative}", path, info.st_size,
                                 bool(info.st_mode & stat.S_IXUSR)))
    entries.sort(key=lambda e: e.arcname)
    return entries


_DIST_INFO = re.compile(r"^(?P<name>[^/]+?)-[^-/]+\.(dist-info|data)$")


def package_sizes(entries: Iterable[Entry]) -> dict[str, int]:
    """Bytes per top-level name under python/ (a dist-info counts for its project)."""
    sizes: dict[str, int] = defaultdict(int)
    for entry in entries:
        parts = entry.arcname.split("/")
        top = parts[1] if len(parts) > 2 else parts[-1]
        match = _DIST_INFO.match(top)
        name = match.group("name") if match else top.removesuffix(".py")
        sizes[name.lower()] += entry.size
    return dict(sizes)


def installed_distributions(entries: Iterable[Entry]) -> list[str]:
    """name==version of every distribution in the layer, from its dist-info folder."""
    found = set()
    for entry in entries:
        parts = entry.arcname.split("/")
        if len(parts) == 3 and parts[1].endswith(".dist-info") and parts[2] == "METADATA":
            name, _, version = parts[1].removesuffix(".dist-info").partition("-")
            found.add(f"{name}=={version}")
    return sorted(found, key=str.lower)


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def check_size(entries: Sequence[Entry], limit: int | None = None) -> int:
    limit = MAX_UNZIPPED_BYTES if limit is None else limit
    total = sum(e.size for e in entries)
    if total > limit:
        largest = sorted(package_sizes(entries).items(), key=lambda kv: -kv[1])[:3]
        names = ", ".join(f"{name} {megabytes(size)}" for name, size in largest)
        raise LayerTooLarge(
            f"Layer is {megabytes(total)} unzipped; Lambda allows {megabytes(limit)}. "
            f"Largest: {names}."
        )
    return total


def write_zip(entries: Sequence[Entry], dest: Path, level: int = COMPRESS_LEVEL) -> Archive:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for entry in entries:
            info = zipfile.ZipInfo(entry.arcname, date_time=FIXED_DATE_TIME)
            info.create_system = 3  # unix, so the mode below is honoured
            mode = 0o755 if entry.executable else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info._compresslevel = level  # type: ignore[attr-defined]  # else open() uses zlib's default
            with entry.path.open("rb") as src, zf.open(info, "w") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
    digest = hashlib.sha256()
    with dest.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return Archive(
        path=dest,
        sha256=digest.hexdigest(),
        code_sha256=base64.b64encode(digest.digest()).decode(),
        size=dest.stat().st_size,
        unzipped_size=sum(e.size for e in entries),
        file_count=len(entries),
    )
