"""Which wheels a runtime loads (glibc 2.26 on Amazon Linux 2, 2.34 on AL2023), and what to pick instead."""

from __future__ import annotations

import pytest
from packaging.tags import Tag
from packaging.version import Version

from pylayer import fitting
from pylayer.simpleindex import IndexFile
from pylayer.target import Target

PY311 = Target("python3.11", "x86_64")
PY312_ARM = Target("python3.12", "arm64")


@pytest.mark.parametrize(("filename", "loads"), [
    ("pandas-3.1.1-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl", True),
    ("numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", False),
    ("numpy-2.2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", True),
    ("numpy-2.2.0-cp311-cp311-manylinux_2_26_x86_64.whl", True),
    ("numpy-1.21.0-cp311-cp311-manylinux1_x86_64.whl", True),
    ("numpy-2.2.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", False),
    ("numpy-2.2.0-cp310-cp310-manylinux_2_17_x86_64.whl", False),
    ("numpy-2.2.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", False),
    ("numpy-2.2.0-cp311-cp311-musllinux_1_2_x86_64.whl", False),
    ("numpy-2.2.0-cp311-cp311-linux_x86_64.whl", False),
    ("numpy-2.2.0-cp311-cp311-macosx_11_0_arm64.whl", False),
    ("six-1.17.0-py2.py3-none-any.whl", True),
    ("attrs-25.1.0-py3-none-any.whl", True),
    ("cryptography-44.0.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", True),
    ("cryptography-44.0.0-cp37-abi3-manylinux_2_28_x86_64.whl", False),
    ("cryptography-44.0.0-cp312-abi3-manylinux_2_17_x86_64.whl", False),  # abi3 from a newer Python
    ("not-a-wheel.whl", False),
    ("pkg-1.0.tar.gz", False),
])
def test_fits_python311_x86_64(filename: str, loads: bool) -> None:
    assert fitting.fits(filename, PY311) is loads


@pytest.mark.parametrize(("filename", "loads"), [
    ("pkg-1.0-cp312-cp312-manylinux_2_34_aarch64.whl", True),
    ("pkg-1.0-cp312-cp312-manylinux_2_35_aarch64.whl", False),
    ("pkg-1.0-cp312-cp312-manylinux_2_28_aarch64.whl", True),
    ("pkg-1.0-cp312-cp312-manylinux2014_aarch64.whl", True),
    ("pkg-1.0-cp312-cp312-manylinux_2_34_x86_64.whl", False),
    ("pkg-1.0-cp311-cp311-manylinux_2_34_aarch64.whl", False),
    ("pkg-1.0-py3-none-any.whl", True),
])
def test_fits_python312_arm64(filename: str, loads: bool) -> None:
    assert fitting.fits(filename, PY312_ARM) is loads


def test_a_free_threaded_wheel_does_not_fit_a_lambda_runtime() -> None:
    assert not fitting.fits("pkg-1.0-cp313-cp313t-manylinux_2_17_x86_64.whl", Target("python3.13", "x86_64"))
    assert fitting.fits("pkg-1.0-cp313-cp313-manylinux_2_17_x86_64.whl", Target("python3.13", "x86_64"))


def test_supported_tags_stop_at_the_target_glibc() -> None:
    tags = fitting.supported_tags(PY311)

    assert Tag("cp311", "cp311", "manylinux_2_26_x86_64") in tags
    assert Tag("cp311", "cp311", "manylinux_2_24_x86_64") in tags
    assert Tag("cp311", "cp311", "manylinux2014_x86_64") in tags
    assert Tag("cp311", "cp311", "manylinux_2_27_x86_64") not in tags
    assert Tag("cp311", "abi3", "manylinux_2_17_x86_64") in tags
    assert Tag("cp39", "abi3", "manylinux_2_17_x86_64") in tags
    assert Tag("py3", "none", "any") in tags
    assert Tag("cp311", "none", "any") in tags
    assert not [t for t in tags if "aarch64" in t.platform]
    assert not [t for t in tags if t.interpreter == "cp312"]


def test_supported_tags_of_al2023_reach_glibc_2_34() -> None:
    tags = fitting.supported_tags(PY312_ARM)

    assert Tag("cp312", "cp312", "manylinux_2_34_aarch64") in tags
    assert Tag("cp312", "cp312", "manylinux_2_35_aarch64") not in tags
    assert not [t for t in tags if "x86_64" in t.platform]


def file(filename: str, requires_python: str = "", yanked: bool = False) -> IndexFile:
    return IndexFile(filename, f"https://files.example/{filename}", "ab" * 32, requires_python, yanked)


def test_fitting_files_groups_by_release_and_leaves_out_what_cannot_load() -> None:
    files = [
        file("pkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
        file("pkg-2.0-py3-none-any.whl"),
        file("pkg-2.0-cp311-cp311-manylinux_2_28_x86_64.whl"),  # glibc too new
        file("pkg-2.0.tar.gz"),  # not a wheel
        file("pkg-1.0-py3-none-any.whl", yanked=True),
        file("pkg-1.5-py3-none-any.whl", requires_python=">=3.12"),
        file("pkg-1.6-py3-none-any.whl", requires_python="not a specifier"),
        file("pkg-1.7-py3-none-any.whl", requires_python=">=3.8, <4"),
    ]

    found = fitting.fitting_files(files, PY311)

    assert sorted(found) == [Version("1.7"), Version("2.0")]
    assert [f.filename for f in found[Version("2.0")]] == ["pkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
                                                            "pkg-2.0-py3-none-any.whl"]


RELEASE = [
    file("numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"),
    file("numpy-2.4.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
    file("numpy-2.4.6-cp311-cp311-manylinux_2_24_x86_64.whl"),
    file("numpy-2.4.6-cp311-cp311-musllinux_1_2_x86_64.whl"),
    file("numpy-2.4.6-cp312-cp312-manylinux_2_24_x86_64.whl"),
    file("numpy-2.4.5-cp311-cp311-manylinux_2_26_x86_64.whl"),  # another release
]


def test_same_release_picks_the_fitting_file_with_the_newest_glibc() -> None:
    chosen = fitting.same_release(RELEASE, "2.4.6", PY311)

    assert chosen is not None
    assert chosen.filename == "numpy-2.4.6-cp311-cp311-manylinux_2_24_x86_64.whl"
    assert chosen.url == "https://files.example/numpy-2.4.6-cp311-cp311-manylinux_2_24_x86_64.whl"


def test_same_release_prefers_a_manylinux_wheel_to_a_pure_one() -> None:
    files = [file("pkg-1.0-py3-none-any.whl"), file("pkg-1.0-cp311-cp311-manylinux2014_x86_64.whl")]

    chosen = fitting.same_release(files, "1.0", PY311)

    assert chosen is not None
    assert chosen.filename == "pkg-1.0-cp311-cp311-manylinux2014_x86_64.whl"


def test_same_release_matches_equal_versions_written_differently() -> None:
    chosen = fitting.same_release([file("pkg-1.0.0-py3-none-any.whl")], "1.0", PY311)

    assert chosen is not None
    assert chosen.filename == "pkg-1.0.0-py3-none-any.whl"


def test_same_release_is_none_when_no_file_of_that_release_fits() -> None:
    only_new_glibc = [f for f in RELEASE if "2_27" in f.filename or "2_26" in f.filename]

    assert fitting.same_release(only_new_glibc, "2.4.6", PY311) is None
    assert fitting.same_release(RELEASE, "9.9", PY311) is None


def test_same_release_skips_a_yanked_file() -> None:
    files = [file("pkg-1.0-cp311-cp311-manylinux_2_24_x86_64.whl", yanked=True),
             file("pkg-1.0-cp311-cp311-manylinux2014_x86_64.whl")]

    chosen = fitting.same_release(files, "1.0", PY311)

    assert chosen is not None
    assert chosen.filename == "pkg-1.0-cp311-cp311-manylinux2014_x86_64.whl"


def test_same_release_ranks_by_the_newest_tag_the_target_loads() -> None:
    files = [file("pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl"),
             file("pkg-1.0-cp311-cp311-manylinux_2_24_x86_64.whl")]

    chosen = fitting.same_release(files, "1.0", PY311)

    assert chosen is not None
    assert chosen.filename == "pkg-1.0-cp311-cp311-manylinux_2_24_x86_64.whl"


HISTORY = [
    file("pkg-3.0-cp311-cp311-manylinux_2_17_x86_64.whl"),  # the release uv chose: not older than below
    file("pkg-2.6-cp311-cp311-manylinux_2_17_x86_64.whl", yanked=True),
    file("pkg-2.5-cp311-cp311-manylinux_2_17_x86_64.whl", requires_python=">=3.12"),
    file("pkg-2.4-cp311-cp311-manylinux_2_28_x86_64.whl"),  # needs a newer glibc
    file("pkg-2.3rc1-cp311-cp311-manylinux_2_17_x86_64.whl"),  # a prerelease
    file("pkg-2.2-cp311-cp311-manylinux_2_17_x86_64.whl"),
    file("pkg-1.0-py3-none-any.whl"),
]


def test_newest_fitting_skips_yanked_other_pythons_prereleases_and_newer() -> None:
    assert fitting.newest_fitting(HISTORY, PY311, below="3.0") == Version("2.2")


def test_newest_fitting_looks_below_the_given_release_only() -> None:
    assert fitting.newest_fitting(HISTORY, PY311, below="2.2") == Version("1.0")
    assert fitting.newest_fitting(HISTORY, PY311, below="4.0") == Version("3.0")


def test_newest_fitting_takes_a_prerelease_only_when_no_final_fits() -> None:
    prereleases = [file("pkg-2.0b1-py3-none-any.whl"), file("pkg-2.0rc1-py3-none-any.whl"),
                   file("pkg-3.0-cp311-cp311-manylinux_2_28_x86_64.whl")]

    assert fitting.newest_fitting(prereleases, PY311, below="3.0") == Version("2.0rc1")


def test_newest_fitting_is_none_when_nothing_fits() -> None:
    files = [file("pkg-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"),
             file("pkg-0.9-cp312-cp312-manylinux2014_x86_64.whl"),
             file("pkg-0.8-py3-none-any.whl", yanked=True), file("pkg-0.7.tar.gz")]

    assert fitting.newest_fitting(files, PY311, below="2.0") is None
    assert fitting.newest_fitting([], PY311, below="2.0") is None


def test_python312_arm64_release_with_a_2_35_wheel_falls_back() -> None:
    files = [file("pkg-2.0-cp312-cp312-manylinux_2_35_aarch64.whl"),
             file("pkg-1.9-cp312-cp312-manylinux_2_34_aarch64.whl")]

    assert fitting.same_release(files, "2.0", PY312_ARM) is None
    assert fitting.newest_fitting(files, PY312_ARM, below="2.0") == Version("1.9")
