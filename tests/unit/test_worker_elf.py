"""pylayer.worker.elf on real objects: gcc-built ones and this interpreter's own extension modules."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pylayer.worker import elf
from tests.support.elf_fixtures import (
    E_MACHINE,
    HOST_MACHINE,
    OTHER_MACHINE,
    PLAIN_SOURCE,
    build_shared,
    extension,
    glibc_version,
    needs_gcc,
    with_machine,
)

# copy_file_range: GLIBC_2.27 on every architecture (newer than aarch64's 2.17 base, x86_64's 2.2.5).
NEEDS_2_27 = "#include <unistd.h>\nlong copy(int a, int b) { return copy_file_range(a, 0, b, 0, 1, 0); }\n"
UNDEFINED_PYINIT_BUG = ("BUG: elf._read sets extension from b'\\0PyInit_' anywhere in the dynamic string table, "
                        "so an object that only imports (references) a PyInit_ symbol reads as an extension")


@needs_gcc
def test_soname_runpath_and_needed_of_a_gcc_library(tmp_path: Path) -> None:
    built = build_shared(tmp_path / "libsample.so",
                         "#include <math.h>\ndouble wave(double x) { return cos(x) + 1.0; }\n",
                         soname="libsample.so.1", rpath=["$ORIGIN/../lib"], libraries=["-lm"])
    found = elf.read(str(built))

    assert found.machine == HOST_MACHINE
    assert found.soname == "libsample.so.1"
    assert found.search_path == ("$ORIGIN/../lib",)
    assert "libm.so.6" in found.needed
    assert "libc.so.6" in found.needed
    assert found.extension is False


@needs_gcc
def test_rpath_is_read_when_there_is_no_runpath(tmp_path: Path) -> None:
    built = build_shared(tmp_path / "librp.so", PLAIN_SOURCE.format(name="rp"),
                         rpath=["$ORIGIN", "$ORIGIN/deps", "/build/only"], new_dtags=False)

    assert elf.read(str(built)).search_path == ("$ORIGIN", "$ORIGIN/deps", "/build/only")


@needs_gcc
def test_no_soname_and_no_search_path(tmp_path: Path) -> None:
    found = elf.read(str(build_shared(tmp_path / "bare.so", PLAIN_SOURCE.format(name="bare"))))

    assert found.soname == ""
    assert found.search_path == ()


@needs_gcc
def test_an_object_exporting_pyinit_is_an_extension(tmp_path: Path) -> None:
    with_init = extension(tmp_path / "foo.so", "foo")
    without = build_shared(tmp_path / "plain.so", PLAIN_SOURCE.format(name="foo"))

    lookalike = build_shared(tmp_path / "lookalike.so", "int not_PyInit_foo(void) { return 0; }\n")

    assert elf.read(str(with_init)).extension is True
    assert elf.read(str(without)).extension is False
    assert elf.read(str(lookalike)).extension is False  # PyInit_ must start the name


@needs_gcc
def test_an_object_that_only_calls_a_pyinit_is_not_an_extension(tmp_path: Path) -> None:
    # Undefined symbols are allowed in a shared object: PyInit_other is imported, not exported.
    caller = build_shared(tmp_path / "libcaller.so",
                          "extern void *PyInit_other(void);\nvoid *call(void) { return PyInit_other(); }\n")

    assert elf.read(str(caller)).extension is False


@needs_gcc
def test_glibc_is_the_newest_glibc_version_needed(tmp_path: Path) -> None:
    host = glibc_version()
    if host is None or host < (2, 27):
        pytest.skip(f"needs glibc 2.27 or newer to link copy_file_range (this machine: {host})")
    older = build_shared(tmp_path / "libolder.so", PLAIN_SOURCE.format(name="older"))
    newer = build_shared(tmp_path / "libnewer.so", NEEDS_2_27)

    assert elf.read(str(newer)).glibc == (2, 27)
    assert (2, 0) < elf.read(str(older)).glibc < (2, 27)


@needs_gcc
def test_glibc_of_an_object_linked_against_libm_is_within_this_machines(tmp_path: Path) -> None:
    host = glibc_version()
    if host is None:
        pytest.skip("this machine's C library is not glibc")
    built = build_shared(tmp_path / "libm_user.so", "#include <math.h>\ndouble f(double x) { return pow(x, x); }\n",
                         libraries=["-lm"])

    assert (2, 0) < elf.read(str(built)).glibc <= host


def test_a_text_file_is_not_elf(tmp_path: Path) -> None:
    text = tmp_path / "notes.so"
    text.write_text("/* GNU ld script */\nGROUP ( libc.so.6 )\n")
    short = tmp_path / "short.so"
    short.write_bytes(b"\x7fELF\x02\x01\x01")

    assert elf.is_elf(str(text)) is False
    assert elf.is_elf(str(short)) is True
    for path in (text, short):
        with pytest.raises(elf.NotElf):
            elf.read(str(path))


def test_is_elf_is_false_for_what_cannot_be_read(tmp_path: Path) -> None:
    assert elf.is_elf(str(tmp_path / "absent.so")) is False
    assert elf.is_elf(str(tmp_path)) is False  # a folder


@needs_gcc
def test_is_elf_of_a_built_object(tmp_path: Path) -> None:
    assert elf.is_elf(str(build_shared(tmp_path / "lib.so", PLAIN_SOURCE.format(name="x")))) is True


@needs_gcc
def test_machine_is_read_from_e_machine(tmp_path: Path) -> None:
    real = build_shared(tmp_path / "real.so", PLAIN_SOURCE.format(name="m"))
    other = with_machine(real, tmp_path / "other.so", E_MACHINE[OTHER_MACHINE])
    unknown = with_machine(real, tmp_path / "unknown.so", 4242)

    assert elf.read(str(other)).machine == OTHER_MACHINE
    assert elf.read(str(unknown)).machine == "machine 4242"


@needs_gcc
def test_a_32_bit_object_says_so(tmp_path: Path) -> None:
    real = build_shared(tmp_path / "real.so", PLAIN_SOURCE.format(name="m"))
    data = bytearray(real.read_bytes())
    data[4] = 1  # ELFCLASS32
    narrow = tmp_path / "narrow.so"
    narrow.write_bytes(bytes(data))

    found = elf.read(str(narrow))
    assert found.machine == f"{HOST_MACHINE} (32-bit or big-endian)"
    assert found.needed == ()


TRUNCATED_BUG = ("BUG: elf._read unpacks program headers (and version records) from short reads: a truncated "
                 "object raises struct.error, which is not a ValueError, so libraries.check does not catch it")


@needs_gcc
def test_a_truncated_object_raises_not_elf(tmp_path: Path) -> None:
    """What the checker catches: NotElf (a ValueError), never a bare struct.error."""
    real = build_shared(tmp_path / "real.so", PLAIN_SOURCE.format(name="t"))
    cut = tmp_path / "cut.so"
    cut.write_bytes(real.read_bytes()[:100])  # the ELF header, then part of one program header

    with pytest.raises(ValueError):
        elf.read(str(cut))


def _lib_dynload(module: str) -> str:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".so"):
        pytest.skip(f"{module} is built into this interpreter, not a shared object")
    return spec.origin


@pytest.mark.parametrize(("module", "library"), [("_ssl", "libc.so.6"), ("_struct", "libc.so.6"),
                                                 ("zlib", "libz.so.1"), ("math", "libm.so.6")])
def test_this_interpreters_own_extension_module(module: str, library: str) -> None:
    found = elf.read(_lib_dynload(module))

    assert found.extension is True
    assert found.machine == HOST_MACHINE
    assert library in found.needed
    assert "libc.so.6" in found.needed
    host = glibc_version()
    if host is not None:
        assert (2, 0) < found.glibc <= host


@pytest.mark.parametrize("module", ["_json", "_ssl", "_ctypes", "zlib", "math", "_socket", "select"])
def test_needed_search_path_and_glibc_agree_with_readelf(module: str) -> None:
    readelf = shutil.which("readelf")
    if readelf is None:
        pytest.skip("readelf (binutils) is not installed")
    path = _lib_dynload(module)
    dump = subprocess.run([readelf, "-d", "-W", path], capture_output=True, text=True, check=True).stdout
    needed = tuple(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dump))
    paths = re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[([^\]]*)\]", dump)
    versions = subprocess.run([readelf, "-V", "-W", path], capture_output=True, text=True, check=True).stdout
    needs = versions.partition("Version needs section")[2]
    glibc = max([(int(a), int(b)) for a, b in re.findall(r"Name: GLIBC_(\d+)\.(\d+)", needs)], default=(0, 0))
    found = elf.read(path)

    assert found.needed == needed
    assert found.extension is True  # the module's own PyInit_
    assert found.search_path == tuple(d for value in paths[:1] for d in value.split(":") if d)
    assert found.glibc == glibc  # the newest, wherever it is in the records
