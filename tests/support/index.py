"""A package index on loopback (PEP 503 simple API), optionally demanding HTTP basic auth.

Like PyPI, it serves each wheel's metadata on its own (PEP 658/714: ``data-core-metadata`` and
``<wheel>.metadata``), so a resolver reads a few kilobytes per candidate, not the whole wheel.

Tests serve wheels built here (under names PyPI does not have, so a
successful install proves the files came from this index) or downloaded
copies of real ones (six, idna, attrs: the functional tests' local index); the
benchmark serves a local copy of real wheels, so the network does not decide
its result.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import zipfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.support import wheels
from tests.support.loopback import Loopback


def make_wheel(directory: Path, name: str, version: str, module_source: str) -> Path:
    """A minimal, valid pure-Python wheel whose package's __init__ is module_source."""
    return wheels.build(directory, name, version, files={f"{wheels.module_name(name)}/__init__.py":
                                                        module_source.encode()})


def _normalized(name: str) -> str:
    """PEP 503 name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


class LocalIndex(Loopback):
    def __init__(self, wheels: list[Path], username: str | None = None, password: str = "") -> None:
        self.wheels = {w.name: w for w in wheels}
        expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode() if username else None
        self.requests: list[tuple[str, bool]] = []  # (path, authorised)
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.answer(with_body=True)

            def do_HEAD(self) -> None:
                self.answer(with_body=False)

            def answer(self, with_body: bool) -> None:
                authorised = expected is None or self.headers.get("Authorization") == expected
                index.requests.append((self.path, authorised))
                if not authorised:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="private"')
                    self.end_headers()
                    return
                body, content_type = index.page(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                if with_body:
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # uv may stop reading early
                        self.wfile.write(body or b"")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        super().__init__(Handler)
        self.url = f"http://127.0.0.1:{self.port}/simple/"

    def page(self, path: str) -> tuple[bytes | None, str]:
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts[:1] == ["files"] and len(parts) == 2 and parts[1] in self.wheels:
            return self.wheels[parts[1]].read_bytes(), "application/octet-stream"
        if parts[:1] == ["files"] and len(parts) == 2 and parts[1].endswith(".whl.metadata") and \
                parts[1].removesuffix(".metadata") in self.wheels:
            return self.metadata(parts[1].removesuffix(".metadata")), "application/octet-stream"
        if parts[:1] == ["simple"] and len(parts) == 2:
            links = [
                f'<a href="/files/{name}#sha256={hashlib.sha256(path.read_bytes()).hexdigest()}"'
                f'{self.metadata_attribute(name)}>{name}</a>'
                for name, path in sorted(self.wheels.items())
                if _normalized(name.split("-")[0]) == _normalized(parts[1])]
            if links:
                return ("<html><body>" + "".join(links) + "</body></html>").encode(), "text/html"
        return None, "text/plain"

    def metadata_attribute(self, name: str) -> str:
        """PEP 714's attribute for a wheel (a source distribution has no metadata file of its own here)."""
        if not name.endswith(".whl"):
            return ""
        return f' data-core-metadata="sha256={hashlib.sha256(self.metadata(name)).hexdigest()}"'

    def metadata(self, name: str) -> bytes:
        """The wheel's own METADATA file, as PyPI serves it beside the wheel."""
        with zipfile.ZipFile(self.wheels[name]) as wheel:
            found = [n for n in wheel.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            return wheel.read(found[0]) if found else b""
