"""Distributions that make uv fail: source-only packages, wheels for other targets.

``tests.support.index.make_wheel`` builds pure-Python ``py3-none-any`` wheels
without dependencies. uv's "no usable wheel" explanations need more: an sdist
(``.tar.gz``) as the only file, wheels tagged for another platform or Python
only, and wheels that depend on such packages. ``LocalIndex`` serves any file
it is given under ``/files/``, so these files are served by it unchanged;
``FailingIndex`` builds and serves a list of ``Dist``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.index import LocalIndex

PURE = "py3-none-any"


def _module(name: str) -> str:
    """The wheel/sdist file name form of a project name (PEP 427/625)."""
    return name.replace("-", "_").replace(".", "_").lower()


def _metadata(name: str, version: str, requires: Sequence[str]) -> str:
    return (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {requirement}\n" for requirement in requires))


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}\n"


def build_wheel(directory: Path, name: str, version: str, tag: str = PURE,
                requires: Sequence[str] = ()) -> Path:
    """A minimal, valid wheel with the given tag (``cp312-cp312-manylinux_2_17_aarch64``) and dependencies."""
    module = _module(name)
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist_info}/METADATA": _metadata(name, version, requires).encode(),
        f"{dist_info}/WHEEL": (f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: {str(tag == PURE).lower()}\n"
                               f"Tag: {tag}\n").encode(),
    }
    record = "".join(_record_line(path, data) for path, data in files.items())
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for arcname, data in files.items():
            zf.writestr(arcname, data)
    path = directory / f"{module}-{version}-{tag}.whl"
    path.write_bytes(buffer.getvalue())
    return path


def build_sdist(directory: Path, name: str, version: str, requires: Sequence[str] = ()) -> Path:
    """A minimal source distribution (``name-version.tar.gz``), as published for packages without wheels."""
    module = _module(name)
    root = f"{module}-{version}"
    dependencies = ", ".join(f'"{requirement}"' for requirement in requires)
    files = {
        f"{root}/PKG-INFO": _metadata(name, version, requires).encode(),
        f"{root}/pyproject.toml": (
            '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = [{dependencies}]\n').encode(),
        f"{root}/{module}/__init__.py": f"VERSION = {version!r}\n".encode(),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for arcname, data in files.items():
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            info.mtime = 0
            tf.addfile(info, io.BytesIO(data))
    path = directory / f"{root}.tar.gz"
    path.write_bytes(buffer.getvalue())
    return path


@dataclass(frozen=True)
class Dist:
    """One file to publish: a wheel with ``tag``, or the sdist when ``tag`` is None."""

    name: str
    version: str
    tag: str | None = PURE
    requires: tuple[str, ...] = ()

    def build(self, directory: Path) -> Path:
        if self.tag is None:
            return build_sdist(directory, self.name, self.version, self.requires)
        return build_wheel(directory, self.name, self.version, self.tag, self.requires)


def sdist(name: str, version: str, *requires: str) -> Dist:
    return Dist(name, version, None, requires)


def wheel(name: str, version: str, tag: str = PURE, *requires: str) -> Dist:
    return Dist(name, version, tag, requires)


class FailingIndex(LocalIndex):
    """``LocalIndex`` publishing ``dists``, built into ``directory``; optionally behind HTTP basic auth."""

    def __init__(self, directory: Path, dists: Sequence[Dist], username: str | None = None,
                 password: str = "") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.files = [dist.build(directory) for dist in dists]
        super().__init__(self.files, username, password)
