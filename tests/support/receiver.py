"""An HTTPS server on loopback that stands in for CloudFormation's presigned ResponseURL.

crhelper PUTs over HTTPS with Python's default SSL context, so the receiver
serves a throw-away certificate and ``trust_bundle`` writes a CA bundle (the
system roots plus that certificate) for SSL_CERT_FILE.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "receiver.pem", directory / "receiver.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def trust_bundle(cert_path: Path, directory: Path) -> Path:
    """System roots plus our certificate: pip and uv still need the real index's roots."""
    bundle = directory / "ca-bundle.pem"
    bundle.write_text(Path(certifi.where()).read_text() + "\n" + cert_path.read_text())
    return bundle


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.raw)
        return parsed


class ResponseReceiver:
    """Records every PUT; ``url()`` makes a fresh ResponseURL for one request."""

    def __init__(self, directory: Path) -> None:
        self.cert_path, key_path = make_certificate(directory)
        self.ca_bundle = trust_bundle(self.cert_path, directory)
        self.received: list[Received] = []
        self.status = 200  # what it answers each PUT with (CloudFormation's S3 answers 403 to an expired URL)
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers), raw))
                    receiver._lock.notify_all()
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, key_path)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> ResponseReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self) -> str:
        # Shaped like a presigned S3 URL, secret-looking query included, so
        # tests can check it never reaches a log.
        token = uuid.uuid4().hex
        return (f"https://localhost:{self.port}/cloudformation-custom-resource-response/{token}"
                f"?X-Amz-Signature=sig{token}")

    def response_for(self, url: str, timeout: float = 30.0) -> Received:
        path = url.split(f":{self.port}", 1)[1]
        with self._lock:
            found = self._lock.wait_for(lambda: self._find(path), timeout=timeout)
        if not found:
            raise AssertionError(f"no response was PUT to {path}")
        return found

    def responses_for(self, url: str) -> list[Received]:
        path = url.split(f":{self.port}", 1)[1]
        with self._lock:
            return [r for r in self.received if r.path == path]

    def _find(self, path: str) -> Received | None:
        return next((r for r in self.received if r.path == path), None)
