"""Source builds: which sdist to build, its build system read statically, and what comes back checked."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from pylayer import sdists, sources
from pylayer.errors import InstallFailed
from pylayer.simpleindex import IndexFile
from pylayer.worker import sdist as worker_sdist
from tests.support.sdists import tar_gz, zip_file

DATA = Path(__file__).resolve().parents[1] / "data" / "uv-failures"


def test_the_projects_uv_could_not_find_wheels_for_are_the_ones_to_build() -> None:
    assert sources.wanted((DATA / "sdist-pinned.txt").read_text())[0].package
    assert sources.wanted((DATA / "sdist-range.txt").read_text()) == [sources.Wanted("mysqlclient", "==2.2.4")]
    assert sources.wanted((DATA / "sdist-unpinned-all-versions.txt").read_text()) == [sources.Wanted("mysqlclient")]
    assert [w.package for w in sources.wanted((DATA / "sdist-dependency.txt").read_text())] == ["bar"]
    assert sources.wanted((DATA / "platform-pinned.txt").read_text()) == []  # wheels for other targets: no build


def test_the_newest_final_release_the_specifier_allows_is_chosen() -> None:
    files = [IndexFile("docopt-0.6.1.tar.gz", "u1", "a"), IndexFile("docopt-0.6.2.tar.gz", "u2", "b"),
             IndexFile("docopt-0.7.0rc1.tar.gz", "u3", "c"), IndexFile("docopt-0.6.3.tar.gz", "u4", "d", yanked=True),
             IndexFile("docopt-0.6.2-py3-none-any.whl", "u5", "e"), IndexFile("other-9.0.tar.gz", "u6", "f")]
    assert sources.choose(files, sources.Wanted("docopt")) == files[1]
    assert sources.choose(files, sources.Wanted("docopt", "<0.6.2")) == files[0]
    assert sources.choose(files, sources.Wanted("docopt", "==1.0")) is None


def test_without_pyproject_setuptools_legacy_with_zip_file(tmp_path: Path) -> None:
    sdist = tar_gz(tmp_path / "docopt-0.6.2.tar.gz", {"docopt-0.6.2/setup.py": b"", "docopt-0.6.2/docopt.py": b""})
    assert sdists.build_system(sdist) == sdists.BuildSystem(("setuptools>=40.8.0", "wheel"),
                                                            "setuptools.build_meta:__legacy__")


def test_a_declared_backend_and_its_path(tmp_path: Path) -> None:
    toml = b'[build-system]\nrequires = ["flit_core>=3.2"]\nbuild-backend = "flit_core.buildapi"\n'
    sdist = tar_gz(tmp_path / "x-1.0.tar.gz", {"x-1.0/pyproject.toml": toml})
    assert sdists.build_system(sdist) == sdists.BuildSystem(("flit_core>=3.2",), "flit_core.buildapi")


@pytest.mark.parametrize(("toml", "reason"), [
    (b'[build-system]\nrequires = ["evil @ https://example.com/e.whl"]\n', "a direct URL"),
    (b'[build-system]\nrequires = []\nbuild-backend = "x; import os"\n', "is not a module name"),
    (b'[build-system]\nrequires = []\nbuild-backend = "b"\nbackend-path = ["../.."]\n', "leaves the source tree"),
    (b'[build-system\n', "not valid TOML"),
])
def test_a_build_system_that_reaches_outside_is_refused(tmp_path: Path, toml: bytes, reason: str) -> None:
    sdist = tar_gz(tmp_path / "x-1.0.tar.gz", {"x-1.0/pyproject.toml": toml})
    with pytest.raises(InstallFailed, match=reason):
        sdists.build_system(sdist)


@pytest.mark.parametrize("member", ["../escape.py", "/etc/passwd", "x-1.0/../../escape.py"])
def test_the_worker_refuses_an_sdist_whose_paths_leave_its_folder(tmp_path: Path, member: str) -> None:
    sdist = tar_gz(tmp_path / "x-1.0.tar.gz", {member: b"print('hi')"})
    with pytest.raises(worker_sdist.SdistRefused, match="outside its folder"):
        worker_sdist.unpack(str(sdist), str(tmp_path / "out"), "x 1.0")


def test_the_worker_refuses_links_in_an_sdist(tmp_path: Path) -> None:
    path = tmp_path / "x-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        link = tarfile.TarInfo("x-1.0/secret")
        link.type, link.linkname = tarfile.SYMTYPE, "/proc/1/environ"
        archive.addfile(link)
    with pytest.raises(worker_sdist.SdistRefused, match="a link or a device"):
        worker_sdist.unpack(str(path), str(tmp_path / "out"), "x 1.0")


def test_what_a_worker_built_is_checked_again_by_the_provider(tmp_path: Path) -> None:
    builds = sources.SourceBuilds(lambda job, workdir, left: tmp_path, None, tmp_path / "w",  # type: ignore[arg-type]
                                  tmp_path / "cache", lambda index, name, timeout: [])
    pure = zip_file(tmp_path / "x-1.0-py3-none-any.whl", {"x/__init__.py": b""})
    assert builds.accept(pure, "x", "1.0").name == "x-1.0-py3-none-any.whl"
    assert list((tmp_path / "cache").glob("*.whl"))  # placed where fetch finds it by its sha256
    with pytest.raises(InstallFailed, match="compiled code"):
        builds.accept(zip_file(tmp_path / "x-1.0-py2.py3-none-any.whl", {"x/_s.so": b""}), "x", "1.0")
    with pytest.raises(InstallFailed, match="compiled code"):
        builds.accept(zip_file(tmp_path / "x-1.0-py3-none-any.whl", {"x/data.txt": b"\x7fELF\x02"}), "x", "1.0")
    with pytest.raises(InstallFailed, match="for one platform"):
        builds.accept(zip_file(tmp_path / "x-1.0-cp312-cp312-linux_x86_64.whl", {}), "x", "1.0")
    with pytest.raises(InstallFailed, match=r"a wheel of y 1\.0"):
        builds.accept(zip_file(tmp_path / "y-1.0-py3-none-any.whl", {}), "x", "1.0")
