"""pylayer.worker.libraries: the static loadability check on layer trees built with gcc, and the recorded images."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pylayer.worker import libraries
from tests.support.elf_fixtures import (
    E_MACHINE,
    HOST_MACHINE,
    OTHER_MACHINE,
    PLAIN_SOURCE,
    build_shared,
    extension,
    glibc_version,
    needs_gcc,
    stub_library,
    with_machine,
)

ARCHITECTURE = {"x86_64": "x86_64", "aarch64": "arm64"}.get(HOST_MACHINE, HOST_MACHINE)
IMAGES = {("python3.11", "x86_64"): "al2-x86_64", ("python3.11", "arm64"): "al2-arm64",
          ("python3.12", "x86_64"): "al2023-x86_64", ("python3.12", "arm64"): "al2023-arm64"}
NEEDS_2_27 = "#include <unistd.h>\nlong copy(int a, int b) { return copy_file_range(a, 0, b, 0, 1, 0); }\n"
TRUNCATED_BUG = ("BUG: elf._read raises struct.error on a truncated ELF object and libraries.check only catches "
                 "NotElf/OSError/ValueError, so one damaged .so crashes the whole check instead of being reported")


@pytest.fixture(scope="module")
def system() -> libraries.System:
    if ARCHITECTURE not in ("x86_64", "arm64"):
        pytest.skip(f"no Lambda architecture for {HOST_MACHINE}")
    return libraries.System.recorded("python3.11", ARCHITECTURE)


def missing(path: str, library: str, loaded_by: str = "") -> dict[str, str]:
    return {"path": path, "what": "missing", "detail": library, "loaded_by": loaded_by}


def check(root: Path, system: libraries.System) -> dict[str, Any]:
    return libraries.check(str(root), HOST_MACHINE, system)


def gl_stub(tmp_path: Path) -> Path:
    """libGL.so.1, outside the layer, to link against; the caller deletes it, as the image lacks it."""
    return stub_library(tmp_path / "stubs", "libGL.so.1", "glFinish")


# --- the recorded images --------------------------------------------------------------------------


@pytest.mark.parametrize(("runtime", "architecture", "image", "glibc"), [
    ("python3.11", "x86_64", "al2-x86_64", (2, 26)),
    ("python3.12", "arm64", "al2023-arm64", (2, 34)),
    ("python3.9", "arm64", "al2-arm64", (2, 26)),
    ("python3.13", "x86_64", "al2023-x86_64", (2, 34)),
])
def test_recorded_reads_the_runtimes_image(runtime: str, architecture: str, image: str,
                                           glibc: tuple[int, int]) -> None:
    system = libraries.System.recorded(runtime, architecture)

    assert system.glibc == glibc
    assert image in system.source
    with open(libraries.RECORDED, encoding="utf-8") as handle:
        assert system.names == frozenset(json.load(handle)["images"][image]["libraries"])


@pytest.mark.parametrize(("runtime", "architecture"), sorted(IMAGES))
def test_what_every_image_has_and_has_not(runtime: str, architecture: str) -> None:
    names = libraries.System.recorded(runtime, architecture).names

    assert {"libc.so.6", "libstdc++.so.6", "libz.so.1", "libm.so.6"} <= names
    assert not {"libGL.so.1", "libX11.so.6", "libxcb.so.1"} & names


def test_the_four_images_are_different_lists() -> None:
    lists = {image: libraries.System.recorded(*key).names for key, image in IMAGES.items()}
    assert len(set(lists.values())) == 4


@pytest.mark.parametrize(("runtime", "image"), [
    ("python3.8", "al2"), ("python3.9", "al2"), ("python3.10", "al2"), ("python3.11", "al2"),
    ("python3.12", "al2023"), ("python3.13", "al2023"), ("python3.14", "al2023"),
])
@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_image_of(runtime: str, image: str, architecture: str) -> None:
    assert libraries.image_of(runtime, architecture) == f"{image}-{architecture}"


def test_image_of_agrees_with_the_recorded_file() -> None:
    with open(libraries.RECORDED, encoding="utf-8") as handle:
        images = json.load(handle)["images"]
    for image, entry in images.items():
        for runtime in entry["runtimes"]:
            assert libraries.image_of(runtime, entry["architecture"]) == image
        major, minor = (int(p) for p in str(entry["glibc"]).split("."))
        assert libraries.GLIBC[image.split("-")[0]] == (major, minor)


def test_scanned_lists_the_directories_given(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "libfoo.so.1").write_bytes(b"")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "libbar.so.2").write_bytes(b"")

    found = libraries.System.scanned("python3.12", (str(tmp_path / "a"), str(tmp_path / "absent"),
                                                    str(tmp_path / "b")))
    assert found.names == frozenset({"libfoo.so.1", "libbar.so.2"})
    assert found.glibc == (glibc_version() or (2, 34))


# --- the check on real objects ---------------------------------------------------------------------


@needs_gcc
def test_a_library_found_through_runpath_origin(tmp_path: Path, system: libraries.System) -> None:
    root = tmp_path / "layer"
    dep = build_shared(root / "python" / "x.libs" / "libdep.so.1", PLAIN_SOURCE.format(name="dep"),
                       soname="libdep.so.1")
    extension(root / "python" / "x.so", "x", rpath=["$ORIGIN/x.libs"], libraries=[dep, "-lm"])
    os.symlink("libdep.so.1", root / "python" / "x.libs" / "libdep.so")  # a link is no object of its own

    found = check(root, system)

    assert found["errors"] == []
    assert found["warnings"] == []
    assert found["objects"] == 2
    assert found["extensions"] == 1
    assert found["source"] == system.source


@needs_gcc
@pytest.mark.parametrize(("rpath", "found_inside"), [
    ("$ORIGIN/../pkg.libs", True),
    ("${ORIGIN}/../pkg.libs", True),
    ("/nonexistent:$ORIGIN/../pkg.libs", True),
    ("$ORIGIN/elsewhere", False),
    ("/build/python/pkg.libs", False),  # the build machine's folder, not the layer's
])
def test_the_search_path_is_resolved_inside_the_layer(tmp_path: Path, system: libraries.System, rpath: str,
                                                      found_inside: bool) -> None:
    # The layer's copy has another soname, so only the search path can find it by its file name.
    link = tmp_path / "link"
    build_shared(link / "libdep.so.1", PLAIN_SOURCE.format(name="dep"))  # no soname: DT_NEEDED is the name
    root = tmp_path / "layer"
    build_shared(root / "python" / "pkg.libs" / "libdep.so.1", PLAIN_SOURCE.format(name="dep"),
                 soname="libdep-renamed.so.1")
    extension(root / "python" / "pkg" / "_ext.so", "_ext", rpath=rpath.split(":"),
              libraries=[f"-L{link}", "-l:libdep.so.1"])

    found = check(root, system)

    expected = [] if found_inside else [missing("python/pkg/_ext.so", "libdep.so.1", "python/pkg/_ext.so")]
    assert found["errors"] == expected
    assert found["warnings"] == []


@needs_gcc
def test_a_library_another_layer_object_provides_by_soname(tmp_path: Path, system: libraries.System) -> None:
    root = tmp_path / "layer"
    dep = build_shared(root / "python" / "shared" / "libdep-1a2b.so", PLAIN_SOURCE.format(name="dep"),
                       soname="libdep.so.1")
    extension(root / "python" / "x.so", "x", libraries=[dep])

    found = check(root, system)
    assert found["errors"] == []
    assert found["warnings"] == []


@needs_gcc
def test_an_extension_needing_a_library_absent_everywhere_is_an_error(tmp_path: Path,
                                                                      system: libraries.System) -> None:
    stub = gl_stub(tmp_path)
    root = tmp_path / "layer"
    extension(root / "python" / "gl.so", "gl", body="int glFinish(void);\nint draw(void) { return glFinish(); }\n",
              libraries=[stub])
    stub.unlink()

    found = check(root, system)

    assert found["errors"] == [missing("python/gl.so", "libGL.so.1", "python/gl.so")]
    assert found["warnings"] == []


@needs_gcc
def test_the_same_library_missing_for_an_object_no_import_loads_is_a_warning(tmp_path: Path,
                                                                            system: libraries.System) -> None:
    stub = gl_stub(tmp_path)
    root = tmp_path / "layer"
    build_shared(root / "python" / "plugins" / "libglplugin.so", PLAIN_SOURCE.format(name="plugin"),
                 libraries=[stub])
    extension(root / "python" / "fine.so", "fine", libraries=["-lm"])  # an extension that does not reach it
    stub.unlink()

    found = check(root, system)

    assert found["errors"] == []
    assert found["warnings"] == [missing("python/plugins/libglplugin.so", "libGL.so.1")]
    assert found["extensions"] == 1


@needs_gcc
def test_a_missing_library_reached_through_a_layer_library(tmp_path: Path, system: libraries.System) -> None:
    stub = gl_stub(tmp_path)
    root = tmp_path / "layer"
    middle = build_shared(root / "python" / "ext.libs" / "libmid.so.1", PLAIN_SOURCE.format(name="mid"),
                          soname="libmid.so.1", libraries=[stub])
    extension(root / "python" / "ext.so", "ext", rpath=["$ORIGIN/ext.libs"], libraries=[middle])
    stub.unlink()

    found = check(root, system)

    assert found["errors"] == [missing("python/ext.libs/libmid.so.1", "libGL.so.1", "python/ext.so")]
    assert found["warnings"] == []


@needs_gcc
def test_a_library_two_extensions_reach_is_loaded_by_the_first(tmp_path: Path, system: libraries.System) -> None:
    stub = gl_stub(tmp_path)
    root = tmp_path / "layer"
    middle = build_shared(root / "python" / "common" / "libmid.so.1", PLAIN_SOURCE.format(name="mid"),
                          soname="libmid.so.1", libraries=[stub])
    extension(root / "python" / "b_ext.so", "b_ext", libraries=[middle])
    extension(root / "python" / "a_ext.so", "a_ext", libraries=[middle])
    stub.unlink()

    found = check(root, system)
    assert found["errors"] == [missing("python/common/libmid.so.1", "libGL.so.1", "python/a_ext.so")]
    assert found["extensions"] == 2


@needs_gcc
def test_libraries_the_image_has_are_not_problems_and_the_list_decides(tmp_path: Path,
                                                                       system: libraries.System) -> None:
    root = tmp_path / "layer"
    extension(root / "python" / "m.so", "m", libraries=["-lm"])

    assert check(root, system)["errors"] == []
    bare = libraries.System(frozenset(), (99, 0), "an empty image")
    errors = check(root, bare)["errors"]
    assert sorted(e["detail"] for e in errors) == ["libc.so.6", "libm.so.6"]
    assert {e["loaded_by"] for e in errors} == {"python/m.so"}


@needs_gcc
def test_an_object_for_another_machine(tmp_path: Path, system: libraries.System) -> None:
    built = tmp_path / "built"
    real_extension = extension(built / "ext.so", "ext")
    real_plain = build_shared(built / "libplain.so", PLAIN_SOURCE.format(name="plain"))
    root = tmp_path / "layer"
    with_machine(real_extension, root / "python" / "foreign.so", E_MACHINE[OTHER_MACHINE])
    with_machine(real_plain, root / "python" / "libs" / "libforeign.so", E_MACHINE[OTHER_MACHINE])

    found = check(root, system)

    assert found["errors"] == [{"path": "python/foreign.so", "what": "machine", "detail": OTHER_MACHINE,
                                "loaded_by": "python/foreign.so"}]
    assert found["warnings"] == [{"path": "python/libs/libforeign.so", "what": "machine", "detail": OTHER_MACHINE,
                                  "loaded_by": ""}]


@needs_gcc
def test_an_object_needing_a_newer_glibc(tmp_path: Path) -> None:
    host = glibc_version()
    if host is None or host < (2, 27):
        pytest.skip(f"needs glibc 2.27 or newer to link copy_file_range (this machine: {host})")
    root = tmp_path / "layer"
    extension(root / "python" / "new.so", "new", body=NEEDS_2_27)
    names = frozenset({"libc.so.6"})

    old = check(root, libraries.System(names, (2, 5), "old"))
    assert old["errors"] == [{"path": "python/new.so", "what": "glibc", "detail": "GLIBC_2.27 (the image has 2.5)",
                              "loaded_by": "python/new.so"}]
    # Amazon Linux 2 (python3.9-3.11) has glibc 2.26; Amazon Linux 2023 has 2.34.
    assert [e["what"] for e in check(root, libraries.System.recorded("python3.11", ARCHITECTURE))["errors"]] \
        == ["glibc"]
    assert check(root, libraries.System.recorded("python3.12", ARCHITECTURE))["errors"] == []


def test_non_elf_files_are_not_objects(tmp_path: Path, system: libraries.System) -> None:
    root = tmp_path / "layer"
    (root / "python" / "pkg").mkdir(parents=True)
    (root / "python" / "pkg" / "__init__.py").write_text("x = 1\n")
    (root / "python" / "pkg" / "libfake.so").write_text("/* GNU ld script */\n")

    assert check(root, system) == {"objects": 0, "extensions": 0, "errors": [], "warnings": [],
                                   "source": system.source}


@needs_gcc
def test_a_truncated_object_is_reported_not_raised(tmp_path: Path, system: libraries.System) -> None:
    real = build_shared(tmp_path / "built" / "libreal.so", PLAIN_SOURCE.format(name="real"))
    root = tmp_path / "layer"
    (root / "python").mkdir(parents=True)
    (root / "python" / "libcut.so").write_bytes(real.read_bytes()[:100])

    found = check(root, system)

    assert found["objects"] == 1
    assert [w["path"] for w in found["warnings"]] == ["python/libcut.so"]
