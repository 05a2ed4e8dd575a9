"""A stand-in for the presigned URLs of the staging prefix: a folder served on loopback, GET and PUT, with
the requests recorded in order (what a worker did, and when)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class StagingServer:
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StagingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
