from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from pylayer import archive
from pylayer.errors import LayerTooLarge


def make_tree(root: Path, mode: int = 0o644, mtime: int = 1_600_000_000) -> Path:
    files = {
        "pkg/__init__.py": b"VALUE = 1\n",
        "pkg/_speedups.so": b"\x7fELF" + b"\0" * 200,
        "pkg/__pycache__/__init__.cpython-312.pyc": b"junk",
        "pkg/stale.pyc": b"junk",
        "pkg/tests/test_x.py": b"def test(): pass\n",
        "pkg-1.0.dist-info/METADATA": b"Name: pkg\nVersion: 1.0\n",
        "bin/tool": b"#!/bin/sh\necho hi\n",
        "single.py": b"x = 1\n",
        "Other_Dist-2.3.dist-info/METADATA": b"Name: Other-Dist\n",
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode)
        os.utime(path, (mtime, mtime))
    (root / "bin/tool").chmod(0o755)
    return root


def build(root: Path, dest: Path) -> archive.Archive:
    return archive.write_zip(archive.collect(root), dest)


def test_entries_live_under_python_sorted_without_bytecode(tmp_path: Path) -> None:
    entries = archive.collect(make_tree(tmp_path / "t"))
    names = [e.arcname for e in entries]

    assert names == sorted(names)
    assert all(n.startswith("python/") for n in names)
    assert "python/pkg/__init__.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_zip_has_fixed_dates_and_normalised_modes(tmp_path: Path) -> None:
    built = build(make_tree(tmp_path / "t", mode=0o600), tmp_path / "a.zip")

    with zipfile.ZipFile(built.path) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        assert zf.testzip() is None
        assert zf.read("python/pkg/__init__.py") == b"VALUE = 1\n"
    assert {i.date_time for i in infos.values()} == {archive.FIXED_DATE_TIME}
    assert infos["python/bin/tool"].external_attr >> 16 == 0o100755
    assert infos["python/pkg/__init__.py"].external_attr >> 16 == 0o100644
    assert built.file_count == len(infos)
    assert built.unzipped_size == sum(i.file_size for i in infos.values())
    assert built.size == built.path.stat().st_size


def test_identical_trees_give_byte_identical_zips(tmp_path: Path) -> None:
    first = build(make_tree(tmp_path / "one", mode=0o644, mtime=1_000_000_000), tmp_path / "1.zip")
    second = build(make_tree(tmp_path / "two", mode=0o664, mtime=1_700_000_000), tmp_path / "2.zip")

    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256
    assert first.code_sha256 == second.code_sha256


def test_different_content_gives_a_different_digest(tmp_path: Path) -> None:
    first = build(make_tree(tmp_path / "one"), tmp_path / "1.zip")
    tree = make_tree(tmp_path / "two")
    (tree / "single.py").write_text("x = 2\n")
    assert build(tree, tmp_path / "2.zip").sha256 != first.sha256


def test_sizes_per_package_and_installed_distributions(tmp_path: Path) -> None:
    entries = archive.collect(make_tree(tmp_path / "t"))

    sizes = archive.package_sizes(entries)
    assert sizes["pkg"] == sum(e.size for e in entries if e.arcname.startswith(("python/pkg/",
                                                                                 "python/pkg-1.0")))
    assert "single" in sizes and "other_dist" in sizes
    assert archive.installed_distributions(entries) == ["Other_Dist==2.3", "pkg==1.0"]


def test_an_oversized_layer_names_its_largest_packages(tmp_path: Path) -> None:
    entries = archive.collect(make_tree(tmp_path / "t"))
    total = sum(e.size for e in entries)

    assert archive.check_size(entries, limit=total) == total
    with pytest.raises(LayerTooLarge) as caught:
        archive.check_size(entries, limit=100)
    assert caught.value.reason.startswith("Layer is 0.0 MB unzipped; Lambda allows 0.0 MB. Largest: pkg ")


def test_the_default_limit_is_lambdas() -> None:
    assert archive.MAX_UNZIPPED_BYTES == 262_144_000


def test_appending_to_a_zip_gives_the_bytes_of_writing_them_all(tmp_path: Path) -> None:
    first = archive.collect(make_tree(tmp_path / "t"))
    more = [archive.Entry("python/pkg/__pycache__/__init__.cpython-312.pyc", 30, False, data=b"\xcb\r\r\n" + b"7" * 26),
            archive.Entry("python/zzz.txt", 4, True, data=b"last")]
    staged = archive.write_zip(first, tmp_path / "staged.zip")

    appended = archive.append(staged, more, tmp_path / "appended.zip")
    whole = archive.write_zip([*first, *more], tmp_path / "whole.zip")

    assert (tmp_path / "appended.zip").read_bytes() == (tmp_path / "whole.zip").read_bytes()
    assert (appended.sha256, appended.size, appended.unzipped_size, appended.file_count) == \
        (whole.sha256, whole.size, whole.unzipped_size, whole.file_count)
    with zipfile.ZipFile(tmp_path / "appended.zip") as made:
        assert made.testzip() is None
        assert made.read("python/zzz.txt") == b"last"
    # And again on top of that: what a second append needs is kept too.
    again = archive.append(appended, [archive.Entry("python/zz2.txt", 1, False, data=b"!")], tmp_path / "2.zip")
    assert again.sha256 == archive.write_zip([*first, *more, archive.Entry("python/zz2.txt", 1, False, data=b"!")],
                                             tmp_path / "3.zip").sha256
