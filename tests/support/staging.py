"""A stand-in for the presigned URLs of the staging prefix: a folder served on loopback, GET and PUT, with
the requests recorded in order (what a worker did, and when)."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.support.loopback import Loopback


class StagingServer(Loopback):
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.events: list[str] = []
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = served.folder / self.path.split("?")[0].lstrip("/")
                served.events.append(f"GET {self.path.split('?')[0]}")
                body = path.read_bytes() if path.is_file() else None
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def do_PUT(self) -> None:
                path = served.folder / self.path.split("?")[0].lstrip("/")
                served.events.append(f"PUT {self.path.split('?')[0]}")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        super().__init__(Handler)
        self.url = f"http://127.0.0.1:{self.port}"
