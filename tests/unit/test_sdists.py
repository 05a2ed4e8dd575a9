"""An sdist's build system, read statically from crafted .tar.gz and .zip archives: defaults, backends, refusals."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from pylayer import sdists
from pylayer.errors import InstallFailed
from tests.support.sdists import tar_gz, zip_file

LEGACY = sdists.BuildSystem(("setuptools>=40.8.0", "wheel"), "setuptools.build_meta:__legacy__", ())
FLIT = b'[build-system]\nrequires = ["flit_core>=3.2,<4"]\nbuild-backend = "flit_core.buildapi"\n'


def sdist_with(tmp_path: Path, pyproject: bytes | None, kind: str = "tar.gz") -> Path:
    members = {"x-1.0/setup.py": b"", "x-1.0/x.py": b""}
    if pyproject is not None:
        members["x-1.0/pyproject.toml"] = pyproject
    make = tar_gz if kind == "tar.gz" else zip_file
    return make(tmp_path / f"x-1.0.{kind}", members)


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_without_pyproject_the_setuptools_legacy_backend_with_wheel(tmp_path: Path, kind: str) -> None:
    assert sdists.build_system(sdist_with(tmp_path, None, kind)) == LEGACY


def test_a_pyproject_without_a_build_system_table_is_the_default_too(tmp_path: Path) -> None:
    assert sdists.build_system(sdist_with(tmp_path, b"[tool.black]\nline-length = 99\n")) == LEGACY


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_a_flit_core_backend(tmp_path: Path, kind: str) -> None:
    assert sdists.build_system(sdist_with(tmp_path, FLIT, kind)) == \
        sdists.BuildSystem(("flit_core>=3.2,<4",), "flit_core.buildapi", ())


def test_requires_without_a_backend_is_setuptools_legacy_and_gets_wheel(tmp_path: Path) -> None:
    system = sdists.build_system(sdist_with(tmp_path, b'[build-system]\nrequires = ["setuptools>=61", "cffi"]\n'))
    assert system == sdists.BuildSystem(("setuptools>=61", "cffi", "wheel"), "setuptools.build_meta:__legacy__")


@pytest.mark.parametrize(("requires", "backend", "expected"), [
    ('["setuptools>=64", "Wheel>=0.37"]', "setuptools.build_meta", ("setuptools>=64", "Wheel>=0.37")),
    ('["setuptools"]', "setuptools.build_meta", ("setuptools", "wheel")),
    ('["hatchling"]', "hatchling.build", ("hatchling",)),
    ('["setuptools-scm", "setuptools_rust_thing"]', "setuptools_rust_thing.build", ("setuptools-scm",
                                                                                   "setuptools_rust_thing")),
])
def test_wheel_is_added_to_setuptools_backends_only_when_not_named(tmp_path: Path, requires: str, backend: str,
                                                                   expected: tuple[str, ...]) -> None:
    toml = f'[build-system]\nrequires = {requires}\nbuild-backend = "{backend}"\n'.encode()
    assert sdists.build_system(sdist_with(tmp_path, toml)).requires == expected


@pytest.mark.parametrize("paths", [["."], ["backend"], ["./tools/build", "src"], ["a/../b"]])
def test_backend_paths_inside_the_tree(tmp_path: Path, paths: list[str]) -> None:
    listed = ", ".join(f'"{p}"' for p in paths)
    toml = f'[build-system]\nrequires = []\nbuild-backend = "tree:Backend.hooks"\nbackend-path = [{listed}]\n'
    system = sdists.build_system(sdist_with(tmp_path, toml.encode()))
    assert system == sdists.BuildSystem((), "tree:Backend.hooks", tuple(paths))


@pytest.mark.parametrize(("toml", "reason"), [
    (b'[build-system]\nrequires = ["evil @ https://example.com/e.whl"]\n', "a direct URL"),
    (b'[build-system]\nrequires = ["evil @ file:///etc/passwd"]\n', "a direct URL"),
    (b'[build-system]\nrequires = ["not a requirement!"]\n', "is not valid"),
    (b'[build-system]\nrequires = "setuptools"\n', "not a list of strings"),
    (b'[build-system]\nrequires = [1]\n', "not a list of strings"),
    (b'[build-system]\nbuild-backend = "flit_core.buildapi"\n', "has no requires"),
    (b'[build-system]\nrequires = []\nbuild-backend = "x; import os"\n', "is not a module name"),
    (b'[build-system]\nrequires = []\nbuild-backend = "os.system(\'id\')"\n', "is not a module name"),
    (b'[build-system]\nrequires = []\nbuild-backend = "a:b:c"\n', "is not a module name"),
    (b'[build-system]\nrequires = []\nbuild-backend = ""\n', "is not a module name"),
    (b'[build-system]\nrequires = []\nbuild-backend = 3\n', "is not a module name"),
    (b'[build-system]\nrequires = []\nbuild-backend = "b"\nbackend-path = ["../.."]\n', "leaves the source tree"),
    (b'[build-system]\nrequires = []\nbuild-backend = "b"\nbackend-path = ["/usr/lib"]\n', "leaves the source tree"),
    (b'[build-system]\nrequires = []\nbuild-backend = "b"\nbackend-path = ["a/../../b"]\n', "leaves the source tree"),
    (b'[build-system]\nrequires = []\nbuild-backend = "b"\nbackend-path = ["C:/x"]\n', "leaves the source tree"),
    (b'[build-system]\nrequires = []\nbuild-backend = "b"\nbackend-path = ["..\\\\x"]\n', "leaves the source tree"),
    (b'[build-system]\nrequires = []\nbuild-backend = "b"\nbackend-path = "."\n', "not a short list"),
    (b"build-system = 3\n", "malformed"),
    (b"[build-system\n", "not valid TOML"),
    (b'[build-system]\nrequires = ["\xff"]\n', "not valid TOML"),
])
def test_a_build_system_that_reaches_outside_is_refused_naming_the_package(tmp_path: Path, toml: bytes,
                                                                           reason: str) -> None:
    with pytest.raises(InstallFailed, match=reason) as refused:
        sdists.build_system(sdist_with(tmp_path, toml))
    assert refused.value.reason.startswith("x 1.0: ")


@pytest.mark.parametrize("member", ["../escape.py", "/etc/passwd", "x-1.0/../../escape.py", "C:/x.py",
                                    "x-1.0\\..\\..\\escape.py"])
@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_a_member_outside_the_folder_refuses_the_archive(tmp_path: Path, member: str, kind: str) -> None:
    make = tar_gz if kind == "tar.gz" else zip_file
    sdist = make(tmp_path / f"x-1.0.{kind}", {"x-1.0/pyproject.toml": FLIT, member: b"print('hi')"})
    with pytest.raises(InstallFailed, match="a path outside its folder"):
        sdists.build_system(sdist)


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE])
def test_links_and_devices_refuse_a_tar(tmp_path: Path, kind: bytes) -> None:
    path = tar_gz(tmp_path / "x-1.0.tar.gz", {"x-1.0/setup.py": b""})
    with tarfile.open(path, "w:gz") as archive:
        special = tarfile.TarInfo("x-1.0/pyproject.toml")
        special.type, special.linkname = kind, "/proc/self/environ"
        archive.addfile(special)
    with pytest.raises(InstallFailed, match="a link or a device"):
        sdists.build_system(path)


def test_a_symlink_refuses_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "x-1.0.zip"
    with zipfile.ZipFile(path, "w") as archive:
        link = zipfile.ZipInfo("x-1.0/pyproject.toml")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(InstallFailed, match="a link or a device"):
        sdists.build_system(path)


def test_the_member_count_and_the_declared_size_are_limited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdists, "MAX_MEMBERS", 3)
    many = tar_gz(tmp_path / "x-1.0.tar.gz", {f"x-1.0/m{i}.py": b"" for i in range(4)})
    with pytest.raises(InstallFailed, match="over 3 files"):
        sdists.build_system(many)
    monkeypatch.setattr(sdists, "MAX_MEMBERS", 20_000)
    monkeypatch.setattr(sdists, "MAX_BYTES", 1000)
    large = zip_file(tmp_path / "x-1.0.zip", {"x-1.0/a.py": b"#" * 600, "x-1.0/b.py": b"#" * 600})
    with pytest.raises(InstallFailed, match="unpacks to over"):
        sdists.build_system(large)


def test_a_large_pyproject_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdists, "MAX_PYPROJECT", 100)
    with pytest.raises(InstallFailed, match=r"pyproject\.toml is over"):
        sdists.build_system(sdist_with(tmp_path, FLIT + b"#" * 100))


def test_a_tar_bomb_is_not_inflated_past_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stream stops at the member whose declared size passes the limit: its data is never read."""
    monkeypatch.setattr(sdists, "MAX_BYTES", 1 << 20)
    path = tmp_path / "x-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        bomb = tarfile.TarInfo("x-1.0/zeros")
        bomb.size = 64 << 20
        archive.addfile(bomb, io.BytesIO(bytes(bomb.size)))
        tail = tarfile.TarInfo("x-1.0/pyproject.toml")
        tail.size = len(FLIT)
        archive.addfile(tail, io.BytesIO(FLIT))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(InstallFailed, match="unpacks to over 1 MB"):
        sdists.build_system(path)


@pytest.mark.parametrize("members", [
    {"x-1.0/pyproject.toml": FLIT, "y-1.0/setup.py": b""},
    {"x-1.0/pyproject.toml": FLIT, "setup.py": b""},
    {"pyproject.toml": FLIT},
])
def test_files_outside_one_top_folder_refuse_the_archive(tmp_path: Path, members: dict[str, bytes]) -> None:
    with pytest.raises(InstallFailed, match="not in one top folder"):
        sdists.build_system(tar_gz(tmp_path / "x-1.0.tar.gz", members))


def test_only_the_top_folders_pyproject_counts(tmp_path: Path) -> None:
    nested = tar_gz(tmp_path / "x-1.0.tar.gz", {"x-1.0/setup.py": b"", "x-1.0/sub/pyproject.toml": FLIT})
    assert sdists.build_system(nested) == LEGACY


def test_a_tar_with_directory_entries_and_dot_prefixes(tmp_path: Path) -> None:
    path = tmp_path / "x-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        top = tarfile.TarInfo("./x-1.0")
        top.type = tarfile.DIRTYPE
        archive.addfile(top)
        member = tarfile.TarInfo("./x-1.0/pyproject.toml")
        member.size = len(FLIT)
        archive.addfile(member, io.BytesIO(FLIT))
    assert sdists.build_system(path).backend == "flit_core.buildapi"


@pytest.mark.parametrize(("name", "content"), [
    ("x-1.0.tar.gz", b"not a gzip"), ("x-1.0.zip", b"PK not a zip"),
])
def test_an_unreadable_archive_is_refused(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InstallFailed, match="is not a readable source distribution"):
        sdists.build_system(tmp_path / name)


def test_a_file_name_that_is_not_an_sdists_is_refused(tmp_path: Path) -> None:
    path = tar_gz(tmp_path / "noversion.tar.gz", {"noversion/setup.py": b""})
    with pytest.raises(InstallFailed, match="is not a source distribution's file name"):
        sdists.build_system(path)


@pytest.mark.parametrize(("filename", "expected"), [
    ("docopt-0.6.2.tar.gz", ("docopt", "0.6.2")),
    ("sgmllib3k-1.0.0.tar.gz", ("sgmllib3k", "1.0.0")),
    ("Zope.Interface-5.0.zip", ("zope-interface", "5.0")),
    ("python_dateutil-2.8.2.tar.gz", ("python-dateutil", "2.8.2")),
    ("x-1.0-1.tar.gz", ("x-1-0", "1")),  # a hyphen in the version: the last one splits, as packaging has it
])
def test_sdist_names_and_versions(filename: str, expected: tuple[str, str]) -> None:
    assert sdists.is_sdist(filename)
    assert sdists.sdist_name_version(filename) == expected


@pytest.mark.parametrize("filename", ["docopt-0.6.2-py3-none-any.whl", "docopt-0.6.2.tar.bz2", "docopt.tar.gz",
                                      "docopt-not_a_version.tar.gz"])
def test_what_is_not_an_sdist(filename: str) -> None:
    assert not sdists.is_sdist(filename)
    with pytest.raises(InstallFailed, match="is not a source distribution's file name"):
        sdists.sdist_name_version(filename)
