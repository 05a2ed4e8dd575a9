"""Real ELF shared objects built with gcc, for the runtime worker's elf and libraries tests.

Every builder takes C source text and returns the path of the object it wrote; tests that use them
skip when gcc is absent (``needs_gcc``). ``--no-as-needed`` keeps every ``-l``/library argument as a
DT_NEEDED entry, whatever the toolchain's default.
"""

from __future__ import annotations

import platform
import shutil
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(GCC is None, reason="gcc is not installed: the ELF fixtures are built with it")

# e_machine of this host and of the other Lambda architecture.
E_MACHINE = {"x86_64": 62, "aarch64": 183}
HOST_MACHINE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(
    platform.machine().lower(), platform.machine())
OTHER_MACHINE = "aarch64" if HOST_MACHINE == "x86_64" else "x86_64"

EXTENSION_SOURCE = "void *PyInit_{name}(void) {{ return 0; }}\n"
PLAIN_SOURCE = "int plain_{name}(int x) {{ return x + 1; }}\n"


def build_shared(target: Path, source: str, *, soname: str = "", rpath: Sequence[str] = (),
                 libraries: Sequence[str | Path] = (), new_dtags: bool = True,
                 extra: Sequence[str] = ()) -> Path:
    """gcc -shared: ``source`` compiled into ``target``, with its soname, search path and libraries."""
    if GCC is None:
        pytest.skip("gcc is not installed")
    target.parent.mkdir(parents=True, exist_ok=True)
    source_file = target.parent / f".{target.name}.c"
    source_file.write_text(source, encoding="utf-8")
    command = [GCC, "-shared", "-fPIC", "-O0", "-o", str(target), str(source_file)]
    if soname:
        command.append(f"-Wl,-soname,{soname}")
    if rpath:
        command.append(f"-Wl,-rpath,{':'.join(rpath)}")
    command.append("-Wl,--enable-new-dtags" if new_dtags else "-Wl,--disable-new-dtags")
    command.append("-Wl,--no-as-needed")
    command += [str(library) for library in libraries]
    command += list(extra)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    source_file.unlink()
    if done.returncode != 0:
        raise RuntimeError(f"gcc failed: {' '.join(command)}\n{done.stderr}")
    return target


def stub_library(directory: Path, soname: str, symbol: str) -> Path:
    """A throwaway library with that soname exporting ``int symbol(void)``, to link against."""
    return build_shared(directory / soname, f"int {symbol}(void) {{ return 7; }}\n", soname=soname)


def extension(target: Path, name: str, *, body: str = "", rpath: Sequence[str] = (),
              libraries: Sequence[str | Path] = ()) -> Path:
    """An extension module: exports ``PyInit_<name>`` (and whatever ``body`` adds)."""
    return build_shared(target, EXTENSION_SOURCE.format(name=name) + body, rpath=rpath, libraries=libraries)


def with_machine(source: Path, target: Path, machine_code: int) -> Path:
    """A copy of an ELF file claiming another e_machine (bytes 18-19)."""
    data = bytearray(source.read_bytes())
    struct.pack_into("<H", data, 18, machine_code)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(bytes(data))
    return target


def glibc_version() -> tuple[int, int] | None:
    """This machine's glibc, or None when it has another C library."""
    name, version = platform.libc_ver()
    parts = version.split(".")
    if name != "glibc" or len(parts) < 2 or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return int(parts[0]), int(parts[1])
