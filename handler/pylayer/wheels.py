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
import stat
import tomllib
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .archive import DEFLATED, STORED, Entry, WheelMember, skipped
from .errors import InstallFailed
from .index import Index
from .target import Target


@dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    url: str
    sha256: str

    @property
    def filename(self) -> str:
        return urlsplit(self.url).path.rsplit("/", 1)[-1]


def parse_lock(text: str, target: Target) -> list[Wheel]:
    """The wheels a pylock.toml (PEP 751) made for one platform names, one per package."""
    lock = tomllib.loads(text)
    wheels = []
    for package in lock.get("packages", []):
        candidates = package.get("wheels") or []
        if not candidates:
            raise InstallFailed(f"No wheel of {package.get('name')}=={package.get('version')} for "
                                f"{target.describe()}; source distributions are not allowed.")
        chosen = candidates[0]  # resolved for a single platform: uv lists the one it chose
        wheels.append(Wheel(package["name"], str(package.get("version", "")), chosen["url"],
                            chosen.get("hashes", {}).get("sha256", "")))
    return sorted(wheels, key=lambda w: w.name)


def fetch_all(wheels: Sequence[Wheel], cache: Path, index: Index, timeout: float) -> list[Path]:
    """Each wheel in the cache (downloaded once, verified by its sha256), in the given order."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda w: fetch(w, cache, index, timeout), wheels))


def fetch(wheel: Wheel, cache: Path, index: Index, timeout: float,
          opener: Callable[..., object] = urllib.request.urlopen) -> Path:
    if not wheel.sha256:
        raise InstallFailed(f"The index gave no sha256 for {wheel.filename}; it cannot be verified.")
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{wheel.sha256}.whl"
    if path.exists():
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
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if getattr(exc, "errno", None) == 28:
            raise
        raise InstallFailed(f"Downloading {wheel.filename} failed: {exc}.", str(exc)) from None
    if digest.hexdigest() != wheel.sha256:
        partial.unlink(missing_ok=True)
        raise InstallFailed(f"{wheel.filename} does not match the sha256 the index gave; refusing it.")
    partial.replace(path)
    return path


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
