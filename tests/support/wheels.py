"""Wheels built here, for local indexes: any name, version, tag, files and dependencies.

A wheel is a zip with a dist-info folder (METADATA, WHEEL, RECORD); nothing
more is needed for uv to resolve it and for the provider to place it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

PURE = "py3-none-any"


def module_name(name: str) -> str:
    """The wheel file name form of a project name (PEP 427/625)."""
    return name.replace("-", "_").replace(".", "_").lower()


def metadata(name: str, version: str, requires: Sequence[str] = ()) -> str:
    return (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {requirement}\n" for requirement in requires))


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}\n"


def build(directory: Path, name: str, version: str, tag: str = PURE, requires: Sequence[str] = (),
          files: Mapping[str, bytes] | None = None) -> Path:
    """A valid wheel; ``files`` defaults to a package whose __init__ records its version."""
    module = module_name(name)
    dist_info = f"{module}-{version}.dist-info"
    content = dict(files) if files is not None else {f"{module}/__init__.py": f"VERSION = {version!r}\n".encode()}
    content[f"{dist_info}/METADATA"] = metadata(name, version, requires).encode()
    content[f"{dist_info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: tests\n"
                                     f"Root-Is-Purelib: {str(tag == PURE).lower()}\nTag: {tag}\n").encode()
    record = "".join(_record_line(path, data) for path, data in content.items())
    content[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in content.items():
            zf.writestr(arcname, data)
    path = directory / f"{module}-{version}-{tag}.whl"
    path.write_bytes(buffer.getvalue())
    return path


def lying(body: bytes, name: str, size: int | None = None, crc: int | None = None) -> bytes:
    """The zip with one member's declared size or CRC-32 changed, in its local and central headers."""
    data = bytearray(body)
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        info = zf.getinfo(name)
    central = next(i for i in range(len(data)) if data[i:i + 4] == b"PK\x01\x02"
                   and int.from_bytes(data[i + 42:i + 46], "little") == info.header_offset)
    for offset, at_crc, at_size in ((info.header_offset, 14, 22), (central, 16, 24)):
        if crc is not None:
            data[offset + at_crc:offset + at_crc + 4] = crc.to_bytes(4, "little")
        if size is not None:
            data[offset + at_size:offset + at_size + 4] = size.to_bytes(4, "little")
    return bytes(data)
