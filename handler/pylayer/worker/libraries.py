"""Will every shared object of a layer load on its Lambda image? A static check, no code runs.

For each ELF object under the layer's tree: the machine must be the target's,
the glibc symbol versions it needs must be in the image's glibc, and each
library it needs (DT_NEEDED) must resolve through its own RPATH/RUNPATH
inside the layer, or in the image's library directories, or be a library
another object of the layer provides under that soname.

What matters is what an import loads: extension modules (they export
``PyInit_*``) and the libraries they reach. A problem there is an error; a
problem in an object no extension module reaches (a Qt plugin, say) is only a
warning, since no import loads it.
"""

from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass
from typing import Any

from . import elf

RECORDED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lambda_libraries.json")
# Lambda's LD_LIBRARY_PATH, less the function's and the layers' own folders.
SYSTEM_DIRECTORIES = ("/var/lang/lib", "/lib64", "/usr/lib64", "/var/runtime", "/var/runtime/lib", "/usr/lib")
GLIBC = {"al2": (2, 26), "al2023": (2, 34)}
AL2_RUNTIMES = ("python3.8", "python3.9", "python3.10", "python3.11")


def image_of(runtime: str, architecture: str) -> str:
    """The recorded image a runtime runs on: al2-x86_64, al2023-arm64 ..."""
    base = "al2" if runtime in AL2_RUNTIMES else "al2023"
    return f"{base}-{architecture}"


@dataclass(frozen=True)
class System:
    """The libraries an image has, and where that list came from."""

    names: frozenset[str]
    glibc: tuple[int, int]
    source: str

    @classmethod
    def recorded(cls, runtime: str, architecture: str, path: str = RECORDED) -> System:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        image = image_of(runtime, architecture)
        entry = data["images"][image]
        return cls(frozenset(entry["libraries"]), GLIBC[image.split("-")[0]],
                   f"recorded list for {image} (lambda_libraries.json)")

    @classmethod
    def scanned(cls, runtime: str, directories: tuple[str, ...] = SYSTEM_DIRECTORIES) -> System:
        """What this machine's library directories hold: the real list, inside Lambda."""
        names: set[str] = set()
        for directory in directories:
            try:
                names.update(os.listdir(directory))
            except OSError:
                continue
        import platform

        glibc = tuple(int(p) for p in platform.libc_ver()[1].split(".")[:2] if p.isdigit())
        version = (glibc[0], glibc[1]) if len(glibc) == 2 else GLIBC["al2" if runtime in AL2_RUNTIMES else "al2023"]
        return cls(frozenset(names), version, "scanned " + ":".join(directories))


@dataclass(frozen=True)
class Problem:
    path: str  # the object with the problem, relative to the layer root (python/...)
    what: str  # "missing" | "machine" | "glibc"
    detail: str  # the missing library, the wrong machine, the glibc version needed
    loaded_by: str = ""  # the extension module whose import loads it; "" when no import does

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "what": self.what, "detail": self.detail, "loaded_by": self.loaded_by}


def check(root: str, machine: str, system: System) -> dict[str, Any]:
    """Every ELF object under root, checked; problems split into errors (loaded by an import) and warnings."""
    objects: dict[str, elf.ElfObject] = {}
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(directory, name)
            if os.path.islink(path) or not elf.is_elf(path):
                continue
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            try:
                objects[relative] = elf.read(path)
            except (elf.NotElf, OSError, ValueError) as exc:
                objects[relative] = elf.ElfObject(machine=f"unreadable ({exc})")
    sonames = {o.soname or posixpath.basename(p): p for p, o in objects.items()}
    problems: dict[str, list[Problem]] = {}
    edges: dict[str, list[str]] = {}
    for path, found in objects.items():
        problems[path], edges[path] = _own_problems(path, found, objects, sonames, machine, system)
    loaded_by = _reach(objects, edges)
    errors: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []
    for path in objects:
        for problem in problems[path]:
            origin = loaded_by.get(path, "")
            placed = Problem(problem.path, problem.what, problem.detail, origin)
            (errors if origin else warnings).append(placed.as_dict())
    return {"objects": len(objects), "extensions": sum(o.extension for o in objects.values()),
            "errors": errors, "warnings": warnings, "source": system.source}


def _own_problems(path: str, found: elf.ElfObject, objects: dict[str, elf.ElfObject], sonames: dict[str, str],
                  machine: str, system: System) -> tuple[list[Problem], list[str]]:
    if found.machine != machine:
        return [Problem(path, "machine", found.machine)], []
    problems = []
    if found.glibc > system.glibc:
        needs, has = found.glibc, system.glibc
        problems.append(Problem(path, "glibc", f"GLIBC_{needs[0]}.{needs[1]} (the image has {has[0]}.{has[1]})"))
    edges = []
    for library in found.needed:
        inside = _in_layer(path, found, library, objects) or sonames.get(library)
        if inside and inside != path:
            edges.append(inside)
        elif not inside and library not in system.names:
            problems.append(Problem(path, "missing", library))
    return problems, edges


def _in_layer(path: str, found: elf.ElfObject, library: str, objects: dict[str, elf.ElfObject]) -> str | None:
    """The layer file the object's own search path finds for a library ($ORIGIN is its folder)."""
    origin = posixpath.dirname(path)
    for entry in found.search_path:
        directory = entry.replace("${ORIGIN}", origin).replace("$ORIGIN", origin)
        if directory.startswith("/"):
            continue  # a build machine's folder: not in the layer
        candidate = posixpath.normpath(posixpath.join(directory, library))
        if candidate in objects:
            return candidate
    return None


def _reach(objects: dict[str, elf.ElfObject], edges: dict[str, list[str]]) -> dict[str, str]:
    """Each object an import loads -> the extension module that loads it (the first, in path order)."""
    loaded_by: dict[str, str] = {}
    for start in (p for p, o in objects.items() if o.extension):
        stack = [start]
        while stack:
            path = stack.pop()
            if path in loaded_by:
                continue
            loaded_by[path] = start
            stack.extend(edges.get(path, ()))
    return loaded_by
