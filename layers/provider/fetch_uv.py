#!/usr/bin/env python3
"""Fetch the pinned uv executable out of its wheel, verified against uv-wheels.txt.

Used by this folder's Makefile, which runs it with whatever python3 is on PATH (standard
library only, Python 3.9+):

    python3 fetch_uv.py --platform host --output DIR/uv             # uv for the build machine
    python3 fetch_uv.py --platform linux-aarch64 --output DIR/uv    # uv shipped in the layer
    python3 fetch_uv.py --pin > uv-wheels.txt.new                   # after bumping uv-version.txt

The wheel of uv-version.txt's version for the platform is downloaded over HTTPS, its sha256
compared with the one pinned in uv-wheels.txt (the index's own digest is never trusted), and
only then kept in the cache and unpacked (uv-VERSION.data/scripts/uv, mode 755). A cached wheel
is checked again on every use, so a second build downloads nothing.

Environment:
    PYLAYER_UV_CACHE_DIR     the cache (default $XDG_CACHE_HOME/pylayer-uv, else ~/.cache/pylayer-uv)
    PYLAYER_UV_INDEX_URL     simple index that locates the wheels, PEP 691 JSON or PEP 503 HTML
                             (default https://pypi.org/simple/)
    PYLAYER_UV_DOWNLOAD_URL  take each wheel from <this URL>/<wheel file name> instead, without an
                             index (a mirror folder; file: URLs too)
Only https:// is fetched, and http:// from 127.0.0.1/localhost (a local mirror, the tests).
TLS uses the default SSL context: SSL_CERT_FILE / SSL_CERT_DIR select the CA certificates.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import platform
import re
import shutil
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable
    from email.message import Message

HERE = Path(__file__).resolve().parent
DEFAULT_INDEX_URL = "https://pypi.org/simple/"
TIMEOUT = 60.0  # seconds: connecting, and each read of a download (a stalled transfer fails)
ATTEMPTS = 3  # for connection errors, timeouts, truncated transfers and HTTP 5xx
MAX_WHEEL_BYTES = 256 * 1024 * 1024
MAX_INDEX_BYTES = 64 * 1024 * 1024
CHUNK = 1024 * 1024
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
SHA256 = re.compile(r"[0-9a-f]{64}")
# Platforms the build may ask for ("host" picks one of them for this machine).
PLATFORMS = ("linux-x86_64", "linux-aarch64", "linux-x86_64-musl", "linux-aarch64-musl",
             "macos-x86_64", "macos-arm64")
HEADER = """\
# sha256 of the uv wheels fetch_uv.py may use: the trust anchor, checked on every use (a download,
# a cached copy), never taken from the package index. One line per wheel:
#     <platform>  <sha256>  <wheel file name>
# The version in the file names must be uv-version.txt's. After bumping it:
#     python3 layers/provider/fetch_uv.py --pin > layers/provider/uv-wheels.txt.new
# (downloads each wheel, hashes it locally), review, and replace this file.
# linux-x86_64 and linux-aarch64 are also the executables shipped in the layer (uv/<arch>/uv).
"""

T = TypeVar("T")


class FetchError(Exception):
    """A failure, with the message for the build log."""


class _Retryable(OSError):
    """A transfer that may work the next time (truncated)."""


class Pin(NamedTuple):
    platform: str
    sha256: str
    filename: str


# Progress goes to stdout, which `sam build` shows (it shows make's stderr only when the build
# fails); with --pin, stdout is the new uv-wheels.txt, so progress goes to stderr.
_progress_to_stderr = False


def log(message: str) -> None:
    print(f"fetch_uv: {message}", file=sys.stderr if _progress_to_stderr else sys.stdout, flush=True)


def log_error(message: str) -> None:
    print(f"fetch_uv: error: {message}", file=sys.stderr, flush=True)


# --- pins -------------------------------------------------------------------------------------

def read_pins(path: Path) -> dict[str, Pin]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise FetchError(f"cannot read the pinned hashes: {error}") from error
    pins: dict[str, Pin] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if (len(fields) != 3 or not SHA256.fullmatch(fields[1]) or not fields[2].endswith(".whl")
                or "/" in fields[2] or fields[2].startswith(".")):
            raise FetchError(f"{path}:{number}: expected '<platform> <sha256> <wheel file name>', got {line!r}")
        if fields[0] in pins:
            raise FetchError(f"{path}:{number}: platform {fields[0]} is pinned twice")
        pins[fields[0]] = Pin(*fields)
    return pins


def pin_for(pins: dict[str, Pin], platform_name: str, version: str, hashes: Path) -> Pin:
    pin = pins.get(platform_name)
    if pin is None:
        raise FetchError(f"{hashes} pins no uv wheel for {platform_name} (it has: {', '.join(pins) or 'none'})")
    if not pin.filename.startswith(f"uv-{version}-"):
        raise FetchError(f"{hashes} pins {pin.filename} for {platform_name}, not a wheel of uv {version} "
                         f"(uv-version.txt): run `python3 {Path(__file__).name} --pin` to pin the new version's wheels")
    return pin


def host_platform() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(machine)
    if arch and sys.platform == "darwin":
        return "macos-arm64" if arch == "aarch64" else "macos-x86_64"
    if arch and sys.platform.startswith("linux"):
        libc, libc_version = platform.libc_ver()
        if libc != "glibc":
            return f"linux-{arch}-musl"  # statically linked builds
        glibc = tuple(int(part) for part in re.findall(r"\d+", libc_version)[:2])
        if arch == "aarch64" and glibc < (2, 28):
            return "linux-aarch64-musl"  # the manylinux_2_28 build needs glibc 2.28
        return f"linux-{arch}"
    raise FetchError(f"no uv wheel is pinned for this machine ({sys.platform}, {platform.machine()}): "
                     "put uv on PATH, or pass UV=/path/to/uv to make")


# --- network ----------------------------------------------------------------------------------

def check_url(url: str, allow_file: bool = False) -> str:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "https" or (scheme == "http" and parts.hostname in LOOPBACK) or (scheme == "file" and allow_file):
        return url
    raise FetchError(f"refusing to fetch {url}: only https:// URLs are used (http:// only from 127.0.0.1 or localhost)")


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to a URL check_url accepts (no downgrade to http://)."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: Message, newurl: str) -> urllib.request.Request | None:
        check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)  # type: ignore[arg-type]


def _opener() -> urllib.request.OpenerDirector:
    # The default context verifies certificates and honours SSL_CERT_FILE / SSL_CERT_DIR;
    # the default ProxyHandler honours https_proxy / no_proxy.
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=ssl.create_default_context()),
                                       _SafeRedirects())


def _open(url: str, accept: str = "*/*") -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": "pylayer-fetch-uv/1"})  # noqa: S310 (check_url: https, loopback http, or an explicit file: mirror)
    response: http.client.HTTPResponse = _opener().open(request, timeout=TIMEOUT)
    return response


def _retrying(what: str, action: Callable[[], T]) -> T:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return action()
        except urllib.error.HTTPError as error:
            if error.code < 500 or attempt == ATTEMPTS:
                raise FetchError(f"{what}: HTTP {error.code} {error.reason}") from error
            reason = f"HTTP {error.code}"
        except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, resets, truncation
            if attempt == ATTEMPTS:
                raise FetchError(f"{what}: {error}") from error
            reason = str(error) or type(error).__name__
        log(f"{what}: attempt {attempt} of {ATTEMPTS} failed ({reason}); trying again")
        time.sleep(2 * attempt)
    raise AssertionError("unreachable")


def _read_limited(response: IO[bytes], limit: int, what: str) -> bytes:
    body = response.read(limit + 1)
    if len(body) > limit:
        raise FetchError(f"{what}: larger than {limit} bytes")
    return body


class _Links(HTMLParser):
    """<a href> targets and texts of a PEP 503 page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def locate(filename: str) -> tuple[str, str | None, bool]:
    """URL of the wheel, the digest the index claims (only compared by --pin), whether file: is allowed."""
    base = os.environ.get("PYLAYER_UV_DOWNLOAD_URL")
    if base:
        url = urllib.parse.urljoin(base.rstrip("/") + "/", urllib.parse.quote(filename))
        return check_url(url, allow_file=True), None, True
    index = os.environ.get("PYLAYER_UV_INDEX_URL") or DEFAULT_INDEX_URL
    page = check_url(urllib.parse.urljoin(index.rstrip("/") + "/", "uv/"))

    def fetch() -> tuple[str, str, bytes]:
        with _open(page, "application/vnd.pypi.simple.v1+json, text/html;q=0.1") as response:
            body = _read_limited(response, MAX_INDEX_BYTES, page)
            return response.geturl(), response.headers.get_content_type(), body

    final, content_type, body = _retrying(f"reading {page}", fetch)
    found: list[tuple[str, str | None]] = []
    if content_type.endswith("json"):
        try:
            files = json.loads(body)["files"]
            found = [(entry["url"], (entry.get("hashes") or {}).get("sha256")) for entry in files
                     if entry.get("filename") == filename]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise FetchError(f"{page}: not a PEP 691 project page ({error!r})") from error
    else:
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        for href, text in parser.links:
            path = urllib.parse.urlsplit(href).path
            if text == filename or urllib.parse.unquote(path.rsplit("/", 1)[-1]) == filename:
                fragment = urllib.parse.urlsplit(href).fragment
                found.append((href, fragment[len("sha256="):] if fragment.startswith("sha256=") else None))
    if not found:
        raise FetchError(f"{page} lists no {filename}")
    href, claimed = found[0]
    url = urllib.parse.urljoin(final, href).split("#", 1)[0]
    return check_url(url), claimed, False


def download(url: str, directory: Path, filename: str, allow_file: bool) -> tuple[Path, str]:
    """The file at url in a temporary file of directory, and its sha256."""
    check_url(url, allow_file)

    def attempt() -> tuple[Path, str]:
        fd, name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=directory)
        part = Path(name)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out, _open(url) as response:
                expected_size = response.headers.get("Content-Length")
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > MAX_WHEEL_BYTES:
                        raise FetchError(f"{url}: larger than {MAX_WHEEL_BYTES} bytes")
                    digest.update(chunk)
                    out.write(chunk)
            if expected_size is not None and expected_size.isdigit() and int(expected_size) != size:
                raise _Retryable(f"truncated transfer ({size} of {expected_size} bytes)")
            return part, digest.hexdigest()
        except BaseException:
            part.unlink(missing_ok=True)
            raise

    return _retrying(f"downloading {url}", attempt)


# --- wheels -----------------------------------------------------------------------------------

def cache_dir() -> Path:
    configured = os.environ.get("PYLAYER_UV_CACHE_DIR")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache") / "pylayer-uv"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified_wheel(pin: Pin, cache: Path, hashes: Path) -> Path:
    """The pinned wheel, from the cache or downloaded; its sha256 is the pinned one."""
    cached = cache / pin.filename
    if cached.is_file():
        actual = sha256_of(cached)
        if actual == pin.sha256:
            log(f"{pin.filename}: sha256 {actual} matches {hashes.name} (cached in {cache})")
            return cached
        log(f"warning: the cached {cached} has sha256 {actual}, not the pinned {pin.sha256}: downloading it again")
        cached.unlink()
    cache.mkdir(parents=True, exist_ok=True)
    url, _claimed, allow_file = locate(pin.filename)
    log(f"downloading {url}")
    part, actual = download(url, cache, pin.filename, allow_file)
    if actual != pin.sha256:
        part.unlink(missing_ok=True)
        raise FetchError(f"sha256 mismatch for {pin.filename} (from {url}): expected {pin.sha256} "
                         f"(pinned in {hashes}), got {actual}; refusing it, nothing was cached or installed")
    part.chmod(0o644)
    os.replace(part, cached)
    log(f"{pin.filename}: sha256 {actual} matches {hashes.name} (now cached in {cache})")
    return cached


def extract_uv(wheel: Path, version: str, output: Path) -> None:
    member = f"uv-{version}.data/scripts/uv"
    try:
        with zipfile.ZipFile(wheel) as archive:
            try:
                info = archive.getinfo(member)
            except KeyError:
                raise FetchError(f"{wheel.name} holds no {member}") from None
            output.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
            part = Path(name)
            try:
                with os.fdopen(fd, "wb") as out, archive.open(info) as source:
                    shutil.copyfileobj(source, out, CHUNK)
                part.chmod(0o755)
                os.replace(part, output)
            except BaseException:
                part.unlink(missing_ok=True)
                raise
    except zipfile.BadZipFile as error:
        raise FetchError(f"{wheel}: {error}") from error


def install(platform_name: str, output: Path, version: str, hashes: Path, cache: Path) -> None:
    if platform_name == "host":
        platform_name = host_platform()
    pin = pin_for(read_pins(hashes), platform_name, version, hashes)
    wheel = verified_wheel(pin, cache, hashes)
    extract_uv(wheel, version, output)
    log(f"uv {version} for {platform_name} -> {output}")


def pin_wheels(version: str, hashes: Path) -> str:
    """uv-wheels.txt for version: the current file's wheels, renamed to version, downloaded and hashed here."""
    lines = [HEADER]
    with tempfile.TemporaryDirectory(prefix="fetch-uv-pin-") as scratch:
        for pin in read_pins(hashes).values():
            old_version = pin.filename.split("-")[1]
            filename = pin.filename.replace(f"uv-{old_version}-", f"uv-{version}-", 1)
            url, claimed, allow_file = locate(filename)
            log(f"downloading {url}")
            part, actual = download(url, Path(scratch), filename, allow_file)
            part.unlink()
            if claimed is not None and claimed != actual:
                raise FetchError(f"{filename}: the index claims sha256 {claimed}, the download has {actual}")
            lines.append(f"{pin.platform}  {actual}  {filename}\n")
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", choices=("host", *PLATFORMS), help="whose uv (host: this machine's)")
    parser.add_argument("--output", type=Path, help="where to write the uv executable")
    parser.add_argument("--version", help="uv version (default: uv-version.txt beside this script)")
    parser.add_argument("--hashes", type=Path, default=HERE / "uv-wheels.txt",
                        help="pinned wheel hashes (default: uv-wheels.txt beside this script)")
    parser.add_argument("--pin", action="store_true",
                        help="print uv-wheels.txt for --version, hashing the downloaded wheels")
    args = parser.parse_args(argv)
    global _progress_to_stderr
    _progress_to_stderr = args.pin
    try:
        version = args.version or (HERE / "uv-version.txt").read_text(encoding="utf-8").strip()
        if not re.fullmatch(r"[0-9A-Za-z.+!-]+", version):
            raise FetchError(f"not a uv version: {version!r}")
        if args.pin:
            sys.stdout.write(pin_wheels(version, args.hashes))
            return 0
        if not args.platform or not args.output:
            parser.error("--platform and --output are required (or --pin)")
        install(args.platform, args.output, version, args.hashes, cache_dir())
    except (FetchError, OSError) as error:
        log_error(str(error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
