"""A layer directory: its files go under python/, a requirements.txt is installed. No network."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

from .. import archive
from ..errors import InvalidProperties
from ..properties import LAYER_NAME, parse_requirements

REQUIREMENTS_FILE = "requirements.txt"


def ignored(relative: str) -> bool:
    """Dot-names at any depth, __pycache__ and bytecode never go into the layer."""
    return any(part.startswith(".") for part in relative.split("/")) or archive.skipped(relative)


def layer_files(root: Path) -> list[archive.Entry]:
    """The directory's files as entries under python/, sorted; the top requirements.txt is installed, not copied.

    Symbolic links to files are copied as their content; folders behind symbolic links are not followed.
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not ignored(Path(dirpath, d).relative_to(root).as_posix()))
        for name in filenames:
            path = Path(dirpath, name)
            relative = path.relative_to(root).as_posix()
            if relative == REQUIREMENTS_FILE or ignored(relative):
                continue
            info = path.stat()
            if stat.S_ISREG(info.st_mode):
                found.append(archive.Entry(f"python/{relative}", info.st_size, bool(info.st_mode & stat.S_IXUSR),
                                           path=path))
    found.sort(key=lambda e: e.arcname)
    return found


def read_layer_requirements(root: Path) -> tuple[str, ...] | None:
    """The top requirements.txt, as strictly as the resource's Requirements; None without one."""
    path = root / REQUIREMENTS_FILE
    if not path.is_file():
        return None
    try:
        return parse_requirements(path.read_text(encoding="utf-8"))
    except InvalidProperties as exc:
        raise InvalidProperties(f"{path}: {exc.reason}") from None


def merge(installed: Sequence[archive.Entry], local: Sequence[archive.Entry]) -> tuple[list[archive.Entry], list[str]]:
    """One sorted list: a file of the layer directory wins over an installed file at the same path.

    Returns the entries and the installed paths the directory replaced (reported, never silent).
    """
    chosen = {e.arcname: e for e in installed}
    overridden = sorted(e.arcname for e in local if e.arcname in chosen)
    chosen.update((e.arcname, e) for e in local)
    return [chosen[name] for name in sorted(chosen)], overridden


def layer_name_for(directory: Path) -> str:
    """A LayerName for a folder's name (the zip's default file name too)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", directory.resolve().name).strip("-")[:64]
    return name if LAYER_NAME.fullmatch(name) else "layer"
