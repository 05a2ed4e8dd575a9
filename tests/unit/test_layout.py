"""Where each wheel's (or installed folder's) files go in a layer serving one or several runtimes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pylayer import archive, layout
from pylayer.archive import Entry
from pylayer.errors import LayerTooLarge
from pylayer.target import Target
from pylayer.wheels import Wheel

PY311 = Target("python3.11", "x86_64")
PY312 = Target("python3.12", "x86_64")
PY313 = Target("python3.13", "x86_64")


def wheel(name: str, version: str, tag: str) -> Wheel:
    filename = f"{name}-{version}-{tag}.whl"
    digest = hashlib.sha256(filename.encode()).hexdigest()
    return Wheel(name, version, f"https://files.example/{filename}", digest)


SIX = wheel("six", "1.17.0", "py2.py3-none-any")
NUMPY = {t: wheel("numpy", "2.2.0", f"cp{t.python_version.replace('.', '')}-cp{t.python_version.replace('.', '')}"
                  "-manylinux_2_17_x86_64") for t in (PY311, PY312, PY313)}
ATTRS = wheel("attrs", "25.1.0", "py3-none-any")


def prefixes(placed: list[tuple[str, Wheel]], of: Wheel) -> list[str]:
    return [prefix for prefix, w in placed if w == of]


# --------------------------------------------------------------------------- place_wheels

def test_one_runtime_keeps_every_wheel_under_python() -> None:
    placed = layout.place_wheels({PY312: [SIX, NUMPY[PY312], ATTRS]})

    assert placed == [("python", ATTRS), ("python", NUMPY[PY312]), ("python", SIX)]


def test_one_runtime_keeps_python_even_for_a_wheel_only_it_could_choose() -> None:
    # With one runtime there is no site-packages folder at all, whatever the wheel.
    placed = layout.place_wheels({PY311: [NUMPY[PY311]]})

    assert {prefix for prefix, _ in placed} == {"python"}


def test_three_runtimes_share_the_same_file_and_split_the_rest() -> None:
    chosen = {t: [NUMPY[t], SIX] for t in (PY311, PY312, PY313)}

    placed = layout.place_wheels(chosen)

    assert prefixes(placed, SIX) == ["python"]
    for target in (PY311, PY312, PY313):
        assert prefixes(placed, NUMPY[target]) == [f"python/lib/{target.runtime}/site-packages"]
    assert len(placed) == 4  # six once, numpy three times
    assert placed == sorted(placed, key=lambda p: (p[0], p[1].name))
    assert placed[0] == ("python", SIX)


def test_a_wheel_two_of_three_runtimes_chose_goes_to_both_folders_not_python() -> None:
    chosen = {PY311: [SIX], PY312: [SIX, ATTRS], PY313: [SIX, ATTRS]}

    placed = layout.place_wheels(chosen)

    assert sorted(prefixes(placed, ATTRS)) == ["python/lib/python3.12/site-packages",
                                               "python/lib/python3.13/site-packages"]
    assert prefixes(placed, SIX) == ["python"]


def test_the_same_name_and_version_as_different_files_is_not_shared() -> None:
    # Same project and release, but the bytes differ (another build): not the very same file.
    other_six = Wheel(SIX.name, SIX.version, SIX.url.replace("files.", "mirror."), "f" * 64)
    placed = layout.place_wheels({PY311: [SIX], PY312: [other_six]})

    assert ("python", SIX) not in placed
    assert ("python/lib/python3.11/site-packages", SIX) in placed
    assert ("python/lib/python3.12/site-packages", other_six) in placed


# --------------------------------------------------------------------------- arrange

def entry(name: str, size: int = 1, data: bytes | None = None) -> Entry:
    return Entry(name, size, False, data=data if data is not None else b"x" * size)


def test_arrange_prefixes_and_sorts_the_entries() -> None:
    arranged = layout.arrange([("python/lib/python3.12/site-packages", entry("b.py")),
                               ("python", entry("z.py")), ("python", entry("a/x.py"))])

    assert [e.arcname for e in arranged] == ["python/a/x.py", "python/lib/python3.12/site-packages/b.py",
                                             "python/z.py"]


def test_arrange_lets_a_later_entry_win_a_shared_path() -> None:
    first, second = entry("pkg/__init__.py", data=b"first"), entry("pkg/__init__.py", data=b"second")

    arranged = layout.arrange([("python", first), ("python", entry("other.py")), ("python", second)])

    assert [e.arcname for e in arranged] == ["python/other.py", "python/pkg/__init__.py"]
    assert arranged[1].data == b"second"


def test_arrange_keeps_size_mode_and_source() -> None:
    original = Entry("bin/tool", 7, True, path=Path("/somewhere/tool"))

    (arranged,) = layout.arrange([("python", original)])

    assert arranged == Entry("python/bin/tool", 7, True, path=Path("/somewhere/tool"))


# --------------------------------------------------------------------------- sizes

def sized(name: str, size: int) -> Entry:
    return Entry(name, size, False, data=b"")


LAYER = [
    sized("python/six.py", 1_000_000),
    sized("python/six-1.17.0.dist-info/METADATA", 500_000),
    sized("python/lib/python3.11/site-packages/numpy/core/_multiarray_umath.so", 4_000_000),
    sized("python/lib/python3.11/site-packages/numpy-2.2.0.dist-info/RECORD", 100_000),
    sized("python/lib/python3.12/site-packages/numpy/core/_multiarray_umath.so", 3_000_000),
    sized("python/lib/python3.12/site-packages/scipy/linalg.so", 2_000_000),
    sized("python/attrs/__init__.py", 200_000),
]


def test_folder_sizes_gives_shared_first_then_each_runtime() -> None:
    sizes = archive.folder_sizes(LAYER)

    assert list(sizes.items()) == [("shared", 1_700_000), ("python3.11", 4_100_000), ("python3.12", 5_000_000)]


def test_folder_sizes_of_a_single_runtime_layer_is_only_shared() -> None:
    assert archive.folder_sizes([sized("python/a.py", 3), sized("pylayer/k/pylock.python312.toml", 5)]) == {
        "shared": 3}


def test_folder_sizes_orders_runtimes_oldest_first() -> None:
    sizes = archive.folder_sizes([sized("python/lib/python3.10/site-packages/a.py", 1),
                                  sized("python/lib/python3.9/site-packages/a.py", 1),
                                  sized("python/a.py", 1)])

    assert list(sizes) == ["shared", "python3.9", "python3.10"]


def test_check_size_of_a_multi_runtime_layer_names_each_folder_and_the_largest() -> None:
    with pytest.raises(LayerTooLarge) as raised:
        archive.check_size(LAYER, limit=5_000_000)

    reason = raised.value.reason
    assert reason.startswith("Layer is 10.8 MB unzipped (shared 1.7 MB, python3.11 4.1 MB, python3.12 5.0 MB); "
                             "Lambda allows 5.0 MB.")
    assert reason.endswith("Largest: numpy 7.1 MB, scipy 2.0 MB, six 1.5 MB.")
    assert reason.index("shared") < reason.index("python3.11") < reason.index("python3.12")


def test_check_size_of_a_single_folder_layer_gives_no_split() -> None:
    with pytest.raises(LayerTooLarge) as raised:
        archive.check_size([sized("python/big/x.so", 2_000)], limit=1_000)

    assert "shared" not in raised.value.reason
    assert "Largest: big 0.0 MB." in raised.value.reason


def test_check_size_under_the_limit_returns_the_total() -> None:
    assert archive.check_size(LAYER, limit=10_800_000) == 10_800_000


def test_check_size_never_names_the_lock_folder_as_a_package() -> None:
    key = "0123456789abcdef"
    layer = [sized("python/numpy/core/_multiarray_umath.so", 2_000_000),
             sized(f"pylayer/{key}/pylock.python312.toml", 2_000)]

    with pytest.raises(LayerTooLarge) as raised:
        archive.check_size(layer, limit=1_000_000)

    assert key not in raised.value.reason


@pytest.mark.parametrize(("arcname", "inside"), [
    ("python/numpy/__init__.py", "numpy/__init__.py"),
    ("python/lib/python3.12/site-packages/numpy/__init__.py", "numpy/__init__.py"),
    ("python/lib/python3.9/site-packages/cv2/cv2.abi3.so", "cv2/cv2.abi3.so"),
    ("python/lib/python3.14/site-packages/six.py", "six.py"),
    ("python/lib/helper.py", "lib/helper.py"),  # a shared package called lib stays whole
])
def test_in_folder_strips_the_folder_on_sys_path(arcname: str, inside: str) -> None:
    assert archive.in_folder(arcname) == inside
