"""Distributions that make uv fail: source-only packages, wheels for other targets.

``tests.support.index.make_wheel`` builds pure-Python ``py3-none-any`` wheels
without dependencies. uv's "no usable wheel" explanations need more: an sdist
(``.tar.gz``) as the only file, wheels tagged for another platform or Python
only, and wheels that depend on such packages. ``LocalIndex`` serves any file
it is given under ``/files/``, so these files are served by it unchanged;
``FailingIndex`` builds and serves a list of ``Dist``.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support import wheels
from tests.support.index import LocalIndex
from tests.support.wheels import PURE


def build_wheel(directory: Path, name: str, version: str, tag: str = PURE,
                requires: Sequence[str] = ()) -> Path:
    """A minimal, valid wheel with the given tag (``cp312-cp312-manylinux_2_17_aarch64``) and dependencies."""
    return wheels.build(directory, name, version, tag, requires)


def build_sdist(directory: Path, name: str, version: str, requires: Sequence[str] = ()) -> Path:
    """A minimal source distribution (``name-version.tar.gz``), as published for packages without wheels."""
    module = wheels.module_name(name)
    root = f"{module}-{version}"
    dependencies = ", ".join(f'"{requirement}"' for requirement in requires)
    files = {
        f"{root}/PKG-INFO": wheels.metadata(name, version, requires).encode(),
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
