"""A reproducible layer zip: entries in a fixed order, fixed timestamps, normalised modes.

Identical inputs give byte-identical zips, so the zip's digest (Lambda's
CodeSha256) is a real content identity.

Entries come from two kinds of source. A wheel member is already deflated:
its compressed bytes are copied into the layer zip as they are, with no
decompression and no recompression (the slowest part of building a layer
otherwise). A file on disk (a folder of `pylayer build`'s own files) is compressed, in
parallel: zlib releases the GIL.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import struct
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .errors import LayerTooLarge

# Lambda's limit for a function and all its layers, unzipped.
MAX_UNZIPPED_BYTES = 262_144_000
MAX_ENTRIES = 0xFFFF  # beyond this a zip needs zip64 records; no real layer gets near it
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 6
STORED, DEFLATED = 0, 8
_SKIPPED_DIRS = frozenset({"__pycache__"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class WheelMember:
    """A member of a wheel, located for a raw copy of its compressed bytes."""

    wheel: Path
    header_offset: int
    method: int
    crc: int
    compressed_size: int


@dataclass(frozen=True)
class Entry:
    arcname: str
    size: int
    executable: bool
    path: Path | None = None  # a file to compress ...
    member: WheelMember | None = None  # ... or compressed bytes to copy ...
    data: bytes | None = None  # ... or bytes made here (a lock file)


@dataclass(frozen=True)
class Archive:
    path: Path
    sha256: str  # hex digest of the zip
    code_sha256: str  # base64 digest, as Lambda reports it
    size: int
    unzipped_size: int
    file_count: int
    # What ``append`` needs to extend this zip without reading it again: where its entries end (its
    # central directory starts), that directory's records, and the digest of the bytes before it.
    body_size: int = field(default=0, compare=False)
    directory: tuple[bytes, ...] = field(default=(), compare=False, repr=False)
    body_digest: Any = field(default=None, compare=False, repr=False)  # a hashlib sha256 object, copied before use


def skipped(relative: str) -> bool:
    """Bytecode never goes into a layer: it is the builder's, not the target's."""
    parts = relative.split("/")
    return any(p in _SKIPPED_DIRS for p in parts[:-1]) or parts[-1].endswith(_SKIPPED_SUFFIXES)


def collect(root: Path, prefix: str = "python") -> list[Entry]:
    """Every regular file under root as a zip entry under prefix/, sorted."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS)
        for name in filenames:
            path = Path(dirpath, name)
            relative = path.relative_to(root).as_posix()
            if skipped(relative):
                continue
            info = path.stat()  # follows symlinks: the zip holds their content
            if not stat.S_ISREG(info.st_mode):
                continue
            entries.append(Entry(f"{prefix}/{relative}" if prefix else relative, info.st_size,
                                 bool(info.st_mode & stat.S_IXUSR),
                                 path=path))
    entries.sort(key=lambda e: e.arcname)
    return entries


_DIST_INFO = re.compile(r"^(?P<name>[^/]+?)-[^-/]+\.(dist-info|data)$")


def package_sizes(entries: Iterable[Entry]) -> dict[str, int]:
    """Bytes per top-level name of the layer's folders (a dist-info counts for its project)."""
    sizes: dict[str, int] = defaultdict(int)
    for entry in entries:
        if not entry.arcname.startswith("python/"):
            continue  # the locks under pylayer/: not a package
        parts = in_folder(entry.arcname).split("/")
        top = parts[0]
        match = _DIST_INFO.match(top)
        name = match.group("name") if match else top.removesuffix(".py")
        sizes[name.lower()] += entry.size
    return dict(sizes)


def installed_distributions(entries: Iterable[Entry]) -> list[str]:
    """name==version of every distribution in the layer, from its dist-info folder."""
    found = set()
    for entry in entries:
        parts = in_folder(entry.arcname).split("/")
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
            name, _, version = parts[0].removesuffix(".dist-info").partition("-")
            found.add(f"{name}=={version}")
    return sorted(found, key=str.lower)


_SITE_PACKAGES = re.compile(r"^python/lib/python3\.\d+/site-packages/")


def folder_sizes(entries: Iterable[Entry]) -> dict[str, int]:
    """Bytes per folder on sys.path: 'shared' (python/) and each runtime's own; the runtimes' shares."""
    sizes: dict[str, int] = defaultdict(int)
    for entry in entries:
        match = _SITE_PACKAGES.match(entry.arcname)
        if match:
            sizes[entry.arcname.split("/")[2]] += entry.size
        elif entry.arcname.startswith("python/"):
            sizes["shared"] += entry.size
    return dict(sorted(sizes.items(), key=lambda kv: (kv[0] != "shared", _version(kv[0]))))


def _version(runtime: str) -> tuple[int, ...]:
    """'python3.10' -> (3, 10), so 3.9 sorts before 3.10."""
    return tuple(int(p) for p in runtime.removeprefix("python").split(".") if p.isdigit())


def in_folder(arcname: str) -> str:
    """An entry's path inside its folder on sys.path (python/, or a runtime's site-packages)."""
    match = _SITE_PACKAGES.match(arcname)
    if match:
        return arcname[match.end():]
    return arcname.partition("/")[2] or arcname


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def check_size(entries: Sequence[Entry], limit: int | None = None) -> int:
    limit = MAX_UNZIPPED_BYTES if limit is None else limit
    total = sum(e.size for e in entries)
    if total > limit:
        largest = sorted(package_sizes(entries).items(), key=lambda kv: -kv[1])[:3]
        names = ", ".join(f"{name} {megabytes(size)}" for name, size in largest)
        places = folder_sizes(entries)
        split = f" ({', '.join(f'{p} {megabytes(s)}' for p, s in places.items())})" if len(places) > 1 else ""
        raise LayerTooLarge(
            f"Layer is {megabytes(total)} unzipped{split}; Lambda allows {megabytes(limit)}. "
            f"Largest: {names}."
        )
    if len(entries) > MAX_ENTRIES:
        raise LayerTooLarge(f"Layer has {len(entries)} files; the provider writes at most {MAX_ENTRIES}.")
    return total


@dataclass(frozen=True)
class _Compressed:
    method: int
    crc: int
    data: bytes


def _compress(entry: Entry, level: int) -> _Compressed:
    raw = entry.data if entry.data is not None else entry.path.read_bytes() if entry.path else b""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)  # raw deflate, as zip stores it
    data = compressor.compress(raw) + compressor.flush()
    if len(data) >= len(raw):
        return _Compressed(STORED, zlib.crc32(raw), raw)
    return _Compressed(DEFLATED, zlib.crc32(raw), data)


def _compressed_files(entries: Sequence[Entry], level: int) -> Iterator[_Compressed | None]:
    """Compression of the on-disk entries, in parallel, yielded in entry order."""
    if not any(e.path is not None for e in entries):  # wheel members and small data: no pool needed
        yield from (_compress(e, level) if e.data is not None else None for e in entries)
        return
    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_compress, e, level) if e.member is None else None for e in entries]
        for future in futures:
            yield future.result() if future is not None else None


def raw_member(member: WheelMember, handles: dict[Path, BinaryIO]) -> bytes:
    """A wheel member's compressed bytes, as its local header places them."""
    handle = handles.get(member.wheel)
    if handle is None:
        handle = handles[member.wheel] = member.wheel.open("rb")
    handle.seek(member.header_offset)
    header = handle.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":  # a crafted offset: past the end, or not a header
        raise ValueError(f"{member.wheel.name}: bad local header at {member.header_offset}")
    name_length, extra_length = struct.unpack("<2H", header[26:30])
    handle.seek(member.header_offset + 30 + name_length + extra_length)
    data = handle.read(member.compressed_size)
    if len(data) != member.compressed_size:
        raise ValueError(f"{member.wheel.name}: a member at {member.header_offset} runs past the end of the file")
    return data


def write_zip(entries: Sequence[Entry], dest: Path, level: int = COMPRESS_LEVEL) -> Archive:
    """Write the entries, in the order given (``arrange`` sorts them), with fixed metadata; return digest
    and sizes."""
    with dest.open("wb") as out:
        return _write(out, dest, entries, level, hashlib.sha256(), 0, (), 0)


def append(base: Archive, entries: Sequence[Entry], dest: Path, level: int = COMPRESS_LEVEL) -> Archive:
    """``base``'s zip with these entries after its own: byte for byte what ``write_zip`` gives for
    [*base's entries, *entries], made by copying base's entries as they are and hashing only what is new."""
    if base.body_digest is None:
        raise ValueError(f"{base.path.name} was not written by write_zip")
    with dest.open("wb") as out, base.path.open("rb") as source:
        left = base.body_size
        while left:
            copied = os.sendfile(out.fileno(), source.fileno(), None, left)
            if copied == 0:
                raise ValueError(f"{base.path.name} is shorter than it was")
            left -= copied
        out.seek(base.body_size)
        return _write(out, dest, entries, level, base.body_digest.copy(), base.body_size, base.directory,
                      base.unzipped_size)


def _write(out: BinaryIO, dest: Path, entries: Sequence[Entry], level: int, digest: Any, offset: int,
           records: tuple[bytes, ...], unzipped: int) -> Archive:
    """Entries from ``offset`` on (the bytes before it hashed into ``digest``, their directory records in
    ``records``), then the central directory."""
    central: list[bytes] = list(records)
    handles: dict[Path, BinaryIO] = {}
    if len(central) + len(entries) > MAX_ENTRIES:
        raise LayerTooLarge(f"Layer has {len(central) + len(entries)} files; the provider writes at most "
                            f"{MAX_ENTRIES}.")

    def emit(chunk: bytes) -> None:
        nonlocal offset
        out.write(chunk)
        digest.update(chunk)
        offset += len(chunk)

    try:
        for entry, compressed in zip(entries, _compressed_files(entries, level), strict=True):
            if compressed is not None:
                method, crc, data = compressed.method, compressed.crc, compressed.data
            elif entry.member is not None:
                member = entry.member
                method, crc, data = member.method, member.crc, raw_member(member, handles)
            else:
                raise ValueError(f"{entry.arcname}: no source")
            local, record = _headers(entry, method, crc, len(data), offset)
            emit(local)
            emit(data)
            central.append(record)
    finally:
        for handle in handles.values():
            handle.close()
    body_size, body_digest = offset, digest.copy()
    for record in central:
        emit(record)
    emit(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), offset - body_size, body_size, 0))
    return Archive(
        path=dest,
        sha256=digest.hexdigest(),
        code_sha256=base64.b64encode(digest.digest()).decode(),
        size=offset,
        unzipped_size=unzipped + sum(e.size for e in entries),
        file_count=len(central),
        body_size=body_size,
        directory=tuple(central),
        body_digest=body_digest,
    )


_DOS_TIME = 0  # 00:00:00
_DOS_DATE = (FIXED_DATE_TIME[0] - 1980) << 9 | FIXED_DATE_TIME[1] << 5 | FIXED_DATE_TIME[2]


def _headers(entry: Entry, method: int, crc: int, compressed_size: int, header_offset: int) -> tuple[bytes, bytes]:
    name = entry.arcname.encode("utf-8")
    flags = 0x800 if not entry.arcname.isascii() else 0  # bit 11: the name is UTF-8
    mode = stat.S_IFREG | (0o755 if entry.executable else 0o644)
    local = struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, flags, method, _DOS_TIME, _DOS_DATE,
                        crc, compressed_size, entry.size, len(name), 0) + name
    record = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, flags, method, _DOS_TIME, _DOS_DATE,
                         crc, compressed_size, entry.size, len(name), 0, 0, 0, 0, mode << 16,
                         header_offset) + name
    return local, record
