"""The Lock property: made from a resolution, read back, checked against the layer and against what a later
resolution chose. Pure."""

from __future__ import annotations

import pytest

from pylayer import layerlock
from pylayer.errors import LockMismatch
from tests.support.locks import Picked as Wheel

A, B, C = "a" * 64, "b" * 64, "c" * 64
CHOSEN = {
    "python3.11": [Wheel("numpy", "2.2.6", A), Wheel("pandas", "2.2.3", B), Wheel("Six", "1.17.0", C)],
    "python3.12": [Wheel("numpy", "2.3.1", B), Wheel("pandas", "2.2.3", C), Wheel("six", "1.17.0", C)],
}
REQUIREMENTS = ("pandas==2.2.3",)


def made() -> layerlock.Lock:
    return layerlock.make(REQUIREMENTS, "x86_64", CHOSEN)


def test_one_line_per_distribution_and_version_with_a_marker_only_where_runtimes_differ() -> None:
    digest = layerlock.inputs_digest(REQUIREMENTS, ["python3.11", "python3.12"], "x86_64")
    assert made().lines() == [
        f"# pylayer lock: python3.11 python3.12 x86_64, requirements {digest}",
        f'numpy==2.2.6 ; python_version == "3.11" --hash=sha256:{A}',
        f'numpy==2.3.1 ; python_version == "3.12" --hash=sha256:{B}',
        f"pandas==2.2.3 --hash=sha256:{B} --hash=sha256:{C}",
        f"six==1.17.0 --hash=sha256:{C}",
    ]


def test_what_is_written_reads_back_the_same() -> None:
    assert layerlock.parse(made().lines()) == made()
    assert layerlock.parse(["", *made().lines(), "  "]) == made()  # blank entries are nothing


def test_runtimes_sort_by_version_not_by_text() -> None:
    lock = layerlock.make(("six",), "arm64", {"python3.9": [Wheel("six", "1", A)], "python3.13": [Wheel("six", "1", A)],
                                              "python3.10": [Wheel("six", "2", B)]})
    assert lock.runtimes == ("python3.9", "python3.10", "python3.13")
    assert lock.lines()[1] == f'six==1 ; python_version == "3.9" or python_version == "3.13" --hash=sha256:{A}'


@pytest.mark.parametrize("lines", [
    [],
    ["numpy==2.2.6 --hash=sha256:" + A],  # no header
    ["# pylayer lock: python3.12 x86_64, requirements 0123456789abcdef", "numpy>=2 --hash=sha256:" + A],
    ["# pylayer lock: python3.12 x86_64, requirements 0123456789abcdef", "numpy==2.2.6"],  # no hash
    ["# pylayer lock: python3.12 x86_64, requirements 0123456789abcdef", "numpy==2.2.6 --hash=md5:abc"],
    ["# pylayer lock: python3.12 x86_64, requirements 0123456789abcdef",
     'numpy==2.2.6 ; sys_platform == "win32" --hash=sha256:' + A],  # not a marker the tool writes
    ["# pylayer lock: python3.12 x86_64, requirements 0123456789abcdef",
     'numpy==2.2.6 ; python_version == "3.11" --hash=sha256:' + A],  # a runtime the lock is not for
    ["# pylayer lock: python3.12 x86_64, requirements 0123456789abcdef",
     "numpy==2.2.6 --hash=sha256:" + A, "numpy==2.3.1 --hash=sha256:" + B],  # two versions for one runtime
    ["# pylayer lock: python3.12 x86_64, requirements 0123456789abcdef", "numpy==2.2.6 --hash=sha256:" + A + " -e ."],
    ["# pylayer lock: python3.12 x86_64, requirements 0123456789abcdef", "numpy==2.2.6" + " --hash=sha256:" + A * 1
     + "".join(f" --hash=sha256:{i:064x}" for i in range(100))],  # over the length limit
])
def test_anything_but_what_the_tool_writes_is_refused(lines: list[str]) -> None:
    with pytest.raises(layerlock.LockSyntax):
        layerlock.parse(lines)


def test_a_fresh_lock_is_not_stale() -> None:
    assert layerlock.stale(made(), REQUIREMENTS, ("python3.12", "python3.11"), "x86_64") is None


@pytest.mark.parametrize(("requirements", "runtimes", "architecture", "why"), [
    (REQUIREMENTS, ("python3.12",), "x86_64", "Lock was made for python3.11 python3.12 x86_64, and the layer serves "
                                             "python3.12 x86_64: run pylayer lock --write."),
    (REQUIREMENTS, ("python3.11", "python3.12"), "arm64", "Lock was made for python3.11 python3.12 x86_64"),
    (("pandas==2.2.3", "requests"), ("python3.11", "python3.12"), "x86_64",
     "Lock holds no requests for python3.11, which Requirements ask for"),
    (("pandas>=2.3",), ("python3.11", "python3.12"), "x86_64",
     "Lock holds pandas 2.2.3 for python3.11, and Requirements ask for pandas>=2.3"),
    (("pandas",), ("python3.11", "python3.12"), "x86_64", "Lock was made for other Requirements"),
])
def test_a_stale_lock_says_why_naming_the_package(requirements: tuple[str, ...], runtimes: tuple[str, ...],
                                                   architecture: str, why: str) -> None:
    found = layerlock.stale(made(), requirements, runtimes, architecture)
    assert found is not None and found.startswith(why)


def test_a_requirement_whose_marker_excludes_a_runtime_is_not_asked_of_it() -> None:
    lock = layerlock.make(("six", "tomli; python_version < '3.11'"), "x86_64",
                          {"python3.10": [Wheel("six", "1", A), Wheel("tomli", "2", B)],
                           "python3.12": [Wheel("six", "1", A)]})
    assert layerlock.stale(lock, ("six", "tomli; python_version < '3.11'"), ("python3.10", "python3.12"),
                           "x86_64") is None


def test_the_installer_is_held_to_each_runtimes_versions() -> None:
    assert layerlock.constraints(made(), "python3.12") == {"numpy": "numpy===2.3.1", "pandas": "pandas===2.2.3",
                                                           "six": "six===1.17.0"}  # 2.3.1+cpu is not 2.3.1
    assert layerlock.hashes(made(), "python3.12")["pandas"] == frozenset({B, C})


def test_what_a_resolution_chose_must_be_in_the_lock() -> None:
    layerlock.check(made(), "python3.11", CHOSEN["python3.11"])
    with pytest.raises(LockMismatch, match=r"chose numpy 2.3.1, and the Lock holds numpy 2.2.6"):
        layerlock.check(made(), "python3.11", [Wheel("numpy", "2.3.1", B)])
    with pytest.raises(LockMismatch, match=r"chose requests 2.32.3, and the Lock holds no requests"):
        layerlock.check(made(), "python3.11", [Wheel("requests", "2.32.3", A)])


def test_a_wheel_with_other_bytes_is_refused_naming_both_hashes() -> None:
    with pytest.raises(LockMismatch) as caught:
        layerlock.check(made(), "python3.12", [Wheel("pandas", "2.2.3", A, "pandas-2.2.3-cp312.whl")])
    reason = caught.value.reason
    assert reason.startswith("pandas 2.2.3 for python3.12: no file of it on the index has a sha256 the Lock holds: "
                             f"pandas-2.2.3-cp312.whl has {A}")
    assert f"the Lock holds {B}, {C}" in reason


def test_a_requirements_markers_are_read_for_the_layers_target_not_this_machine() -> None:
    requirements = ("six", "tomli; platform_machine == 'aarch64'")
    arm = layerlock.make(requirements, "arm64", {"python3.12": [Wheel("six", "1", A), Wheel("tomli", "2", B)]})
    x86 = layerlock.make(requirements, "x86_64", {"python3.12": [Wheel("six", "1", A)]})
    assert layerlock.stale(arm, requirements, ("python3.12",), "arm64") is None
    assert layerlock.stale(x86, requirements, ("python3.12",), "x86_64") is None
    without_tomli = layerlock.make(requirements, "arm64", {"python3.12": [Wheel("six", "1", A)]})
    assert str(layerlock.stale(without_tomli, requirements, ("python3.12",), "arm64")).startswith(
        "Lock holds no tomli for python3.12")



def test_versions_compare_as_pep_440_and_must_parse() -> None:
    lock = layerlock.make(("six",), "x86_64", {"python3.12": [Wheel("six", "1.0", A)]})
    layerlock.check(lock, "python3.12", [Wheel("six", "1.0.0", A)])  # the same version, written otherwise
    header = lock.lines()[0]
    with pytest.raises(layerlock.LockSyntax, match="not a PEP 440 version"):
        layerlock.parse([header, "six==abc --hash=sha256:" + A])
    with pytest.raises(layerlock.LockSyntax, match=r"a runtime the provider does not serve: python3\.99"):
        layerlock.parse(["# pylayer lock: python3.99 x86_64, requirements 0123456789abcdef"])


def test_a_name_in_another_spelling_is_the_same_requirement() -> None:
    lock = layerlock.make(("PyYAML==6.0.2",), "x86_64", {"python3.12": [Wheel("pyyaml", "6.0.2", A)]})
    assert layerlock.stale(lock, ("pyyaml==6.0.2",), ("python3.12",), "x86_64") is None


def test_a_marker_that_cannot_be_evaluated_asks_the_lock_for_the_package() -> None:
    requirements = ('six==1.16.0 ; python_version ~= "3"',)
    lock = layerlock.make(requirements, "x86_64", {"python3.12": [Wheel("six", "1.16.0", A)]})
    assert layerlock.stale(lock, requirements, ("python3.12",), "x86_64") is None
    empty = layerlock.make(requirements, "x86_64", {"python3.12": []})
    assert str(layerlock.stale(empty, requirements, ("python3.12",), "x86_64")).startswith("Lock holds no six")
