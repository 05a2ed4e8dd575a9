"""From wheels to layer entries, without unpacking them.

uv resolves the requirements for the target (``uv pip compile --format
pylock.toml``, with environment markers evaluated for the target's Python and
platform); the chosen wheels are fetched into a content-addressed cache (kept
in a warm container) and their members become layer entries whose compressed
bytes are copied as they are. Installing a wheel into ``--target`` means
placing its files at the root, and its ``.data/purelib``, ``.data/platlib``
and ``.data/data`` trees there too; that mapping is all done here.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import shutil
import stat
import tomllib
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name

from .archive import DEFLATED, STORED, Entry, WheelMember, raw_member, skipped
from .errors import InstallFailed
from .index import Index
from .target import Target


@dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    url: str
    sha256: str
    size: int = 0  # as the index gave it (0: unknown), for progress only

    @property
    def filename(self) -> str:
        return urlsplit(self.url).path.rsplit("/", 1)[-1]


def parse_lock(text: str, target: Target, held: Mapping[str, frozenset[str]] | None = None) -> list[Wheel]:
    """The wheels a pylock.toml (PEP 751) made for one platform names, one per package: of the files uv lists
    for a release, the first, or with ``held`` (a Lock's sha256 per canonical name) the one the lock holds."""
    lock = tomllib.loads(text)
    wheels = []
    for package in lock.get("packages", []):
        candidates = package.get("wheels") or []
        if not candidates:
            raise InstallFailed(f"No wheel of {package.get('name')}=={package.get('version')} for "
                                f"{target.describe()}; source distributions are not allowed.")
        wanted = (held or {}).get(canonicalize_name(str(package.get("name", ""))), frozenset())
        locked = [c for c in candidates if c.get("hashes", {}).get("sha256") in wanted]
        chosen = (locked or candidates)[0]
        size = chosen.get("size")
        wheels.append(Wheel(package["name"], str(package.get("version", "")), chosen["url"],
                            chosen.get("hashes", {}).get("sha256", ""), size if isinstance(size, int) else 0))
    return sorted(wheels, key=lambda w: w.name)


class DeferredChecks(Protocol):
    """Member checks run later (``memberchecks.MemberChecks``): a new wheel waits in ``folder``."""

    folder: Path

    def add(self, held: Path, cached: Path, name: str) -> None: ...


def fetch_all(wheels: Sequence[Wheel], cache: Path, index: Index, timeout: float,
              on_bytes: Callable[[int], None] | None = None, checks: DeferredChecks | None = None) -> list[Path]:
    """Each wheel in the cache (downloaded once, verified by its sha256), in the given order. ``on_bytes``
    hears of every chunk downloaded (and of a cached wheel's whole size). With ``checks``, a new wheel's
    members are checked later, and its path is where it waits for that."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda w: fetch(w, cache, index, timeout, on_bytes=on_bytes, checks=checks), wheels))


def fetch(wheel: Wheel, cache: Path, index: Index, timeout: float,
          opener: Callable[..., object] = urllib.request.urlopen, sdist: bool = False,
          on_bytes: Callable[[int], None] | None = None, checks: DeferredChecks | None = None) -> Path:
    """The file in the cache, downloaded once and checked: its sha256, and a wheel's members
    (``sdist``: a source distribution, whose members are never copied into a layer). With ``checks`` the
    members are checked later: the wheel waits in ``checks.folder`` and enters the cache once it passed."""
    if not wheel.sha256:
        raise InstallFailed(f"The index gave no sha256 for {wheel.filename}; it cannot be verified.")
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{wheel.sha256}.whl"
    if path.exists():
        if on_bytes is not None:
            on_bytes(path.stat().st_size)
        return path
    request = urllib.request.Request(wheel.url)  # noqa: S310 - https/http from the index only
    if urlsplit(wheel.url).scheme not in ("https", "http"):
        raise InstallFailed(f"The index gave a non-HTTP location for {wheel.filename}.")
    if index.url and (index.username or index.password) and \
            urlsplit(wheel.url).hostname == urlsplit(index.url).hostname:
        token = base64.b64encode(f"{index.username}:{index.password}".encode()).decode()
        request.add_unredirected_header("Authorization", f"Basic {token}")  # never to where it redirects
    partial = path.with_suffix(".part")
    digest = hashlib.sha256()
    try:
        with opener(request, timeout=timeout) as response, partial.open("wb") as out:  # type: ignore[attr-defined]
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if getattr(exc, "errno", None) == 28:
            raise
        raise InstallFailed(f"Downloading {wheel.filename} failed: {exc}.", str(exc)) from None
    if digest.hexdigest() != wheel.sha256:
        partial.unlink(missing_ok=True)
        raise InstallFailed(f"{wheel.filename} does not match the sha256 the index gave; refusing it.")
    if checks is not None and not sdist:
        held = checks.folder / path.name
        shutil.move(partial, held)
        checks.add(held, path, wheel.filename)
        return held
    try:
        if not sdist:
            verify_members(partial, wheel.filename)
    except InstallFailed:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    return path


def verify_members(path: Path, name: str = "") -> None:
    """Each member's data is what its headers say: inflated, it has the declared size and CRC-32.

    Members are copied into the layer as they are (never inflated there), so a size or CRC that lies
    would reach Lambda unseen: a member that declares 1 KB and inflates to 600 MB passes every size
    limit. Checked once, when the wheel enters the cache."""
    label = name or path.name
    handles: dict[Path, BinaryIO] = {}
    try:
        with zipfile.ZipFile(path) as wheel:
            for info in wheel.infolist():
                if info.is_dir() or info.compress_type not in (STORED, DEFLATED):
                    continue  # members() refuses other compressions
                data = raw_member(WheelMember(path, info.header_offset, info.compress_type, info.CRC,
                                              info.compress_size), handles)
                size, crc, whole = _inflated(data, info.compress_type, info.file_size)
                if not whole or size != info.file_size or crc != info.CRC:
                    raise InstallFailed(f"{label} is corrupt or lies about {info.filename[:80]}: it declares "
                                        f"{info.file_size} bytes, and its data is not that; refusing the wheel.")
    except (zipfile.BadZipFile, ValueError, OSError, zlib.error) as exc:
        raise InstallFailed(f"{label} is not a readable wheel: {str(exc)[:120]}.") from None
    finally:
        for handle in handles.values():
            handle.close()


def _inflated(data: bytes, method: int, declared: int) -> tuple[int, int, bool]:
    """Size and CRC-32 of a member's data, reading no further than one byte past the declared size, and
    whether its compressed stream ended exactly where the zip says."""
    if method == STORED:
        return len(data), zlib.crc32(data), True
    stream = zlib.decompressobj(-15)
    size = crc = 0
    pending = data
    while pending and size <= declared:
        out = stream.decompress(pending, 1 << 20)
        size += len(out)
        crc = zlib.crc32(out, crc)
        pending = stream.unconsumed_tail
        if stream.eof:
            break
    return size, crc, stream.eof and not stream.unused_data and not pending


def _placed(name: str, data_dir: str) -> str | None:
    """Where a wheel member lands under --target, or None when it is not installed there."""
    if not name.startswith(data_dir + "/"):
        return name
    scheme, _, rest = name[len(data_dir) + 1:].partition("/")
    if scheme in ("purelib", "platlib", "data") and rest:
        return rest
    return None  # scripts carry the builder's shebang; headers are for compiling


def _safe(name: str) -> bool:
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and ".." not in parts and "\\" not in name


def members(path: Path) -> list[Entry]:
    """A wheel's files as entries named inside their folder on sys.path (as ``--target`` places them)."""
    chosen: dict[str, Entry] = {}
    with zipfile.ZipFile(path) as wheel:
        data_dir = _data_dir(wheel)
        for info in wheel.infolist():
            if info.is_dir():
                continue
            if not _safe(info.filename):
                raise InstallFailed(f"{path.name} holds an unsafe path: {info.filename[:80]}")
            if info.flag_bits & 0x1:
                raise InstallFailed(f"{path.name} holds an encrypted member.")
            if info.compress_type not in (STORED, DEFLATED):
                raise InstallFailed(f"{path.name} uses a compression Lambda cannot read.")
            placed = _placed(info.filename, data_dir)
            if placed is None or skipped(placed):
                continue
            member = WheelMember(path, info.header_offset, info.compress_type, info.CRC, info.compress_size)
            executable = bool((info.external_attr >> 16) & stat.S_IXUSR)
            chosen[placed] = Entry(placed, info.file_size, executable, member=member)
    return [chosen[name] for name in sorted(chosen)]


def entries(wheel_paths: Sequence[Path], prefix: str = "python") -> list[Entry]:
    """Layer entries for the wheels' members under one prefix, sorted; a later wheel wins a shared path."""
    chosen: dict[str, Entry] = {}
    for path in wheel_paths:
        for entry in members(path):
            chosen[entry.arcname] = dataclasses.replace(entry, arcname=f"{prefix}/{entry.arcname}")
    return [chosen[name] for name in sorted(chosen)]


def _data_dir(wheel: zipfile.ZipFile) -> str:
    for name in wheel.namelist():
        top = name.split("/", 1)[0]
        if top.endswith(".dist-info"):
            return top.removesuffix(".dist-info") + ".data"
    return "\0"  # no dist-info: not a real wheel, but nothing maps either


def prune(cache: Path, keep_bytes: int) -> None:
    """Keep the wheel cache under keep_bytes, oldest first out (it lives in /tmp)."""
    if not cache.is_dir():
        return
    files = sorted(cache.glob("*.whl"), key=lambda p: p.stat().st_mtime)
    total = sum(p.stat().st_size for p in files)
    for path in files:
        if total <= keep_bytes:
            break
        total -= path.stat().st_size
        path.unlink(missing_ok=True)
    for leftover in cache.glob("*.part"):
        leftover.unlink(missing_ok=True)
