"""The PEP 751 lock written into a layer per runtime: deterministic, credential-free, read back."""

from __future__ import annotations

import hashlib
import tomllib
from typing import Any

import pytest
from packaging.markers import Marker

from pylayer import lockfile
from pylayer.target import RUNTIMES, Target
from pylayer.wheels import Wheel

TARGET = Target("python3.12", "arm64")
NUMPY_SHA = hashlib.sha256(b"numpy").hexdigest()
SIX_SHA = hashlib.sha256(b"six").hexdigest()
ATTRS_SHA = hashlib.sha256(b"attrs").hexdigest()
NUMPY = Wheel("numpy", "2.2.0",
              "https://alice:s3cret@files.example/packages/numpy-2.2.0-cp312-cp312-manylinux_2_17_aarch64.whl",
              NUMPY_SHA)
SIX = Wheel("six", "1.17.0", "https://files.example/packages/six-1.17.0-py2.py3-none-any.whl", SIX_SHA)
ATTRS = Wheel("Attrs", "25.1.0", "https://files.example/packages/attrs-25.1.0-py3-none-any.whl", ATTRS_SHA)
INDEX = "https://alice:s3cret@pypi.example/simple/"
FOLDERS = {NUMPY_SHA: "python/lib/python3.12/site-packages", SIX_SHA: "python", ATTRS_SHA: "python"}


def rendered() -> dict[str, Any]:
    return tomllib.loads(lockfile.render(TARGET, [SIX, NUMPY, ATTRS], FOLDERS, INDEX))


def test_the_lock_is_pep_751_toml_for_the_runtime() -> None:
    lock = rendered()

    assert lock["lock-version"] == "1.0"
    assert lock["created-by"] == "pylayer"
    assert lock["requires-python"] == "==3.12.*"
    assert lock["environments"] == [lockfile.environment(TARGET)]


def test_one_package_per_wheel_sorted_by_name_with_its_wheel_and_folder() -> None:
    packages = rendered()["packages"]

    assert [p["name"] for p in packages] == ["Attrs", "numpy", "six"]
    numpy = packages[1]
    assert numpy["version"] == "2.2.0"
    assert numpy["index"] == "https://pypi.example/simple/"
    assert len(numpy["wheels"]) == 1
    assert numpy["wheels"][0]["name"] == "numpy-2.2.0-cp312-cp312-manylinux_2_17_aarch64.whl"
    assert numpy["wheels"][0]["url"] == \
        "https://files.example/packages/numpy-2.2.0-cp312-cp312-manylinux_2_17_aarch64.whl"
    assert numpy["wheels"][0]["hashes"] == {"sha256": NUMPY_SHA}
    assert numpy["tool"]["pylayer"]["folder"] == "python/lib/python3.12/site-packages"
    assert packages[2]["tool"]["pylayer"]["folder"] == "python"


def test_a_wheel_missing_from_folders_is_in_python() -> None:
    lock = tomllib.loads(lockfile.render(TARGET, [SIX], {}, ""))

    assert lock["packages"][0]["tool"]["pylayer"]["folder"] == "python"


def test_no_index_means_pypi() -> None:
    lock = tomllib.loads(lockfile.render(TARGET, [SIX], {}, ""))

    assert lock["packages"][0]["index"] == lockfile.PYPI == "https://pypi.org/simple/"


def test_identical_inputs_give_identical_text_in_any_order() -> None:
    first = lockfile.render(TARGET, [SIX, NUMPY, ATTRS], FOLDERS, INDEX)
    again = lockfile.render(TARGET, [ATTRS, SIX, NUMPY], dict(reversed(FOLDERS.items())), INDEX)

    assert first == again
    assert first.endswith("\n")
    assert "\r" not in first


def test_credentials_never_appear() -> None:
    text = lockfile.render(TARGET, [NUMPY, SIX], FOLDERS, INDEX)

    assert "s3cret" not in text
    assert "alice" not in text
    assert "@" not in text


@pytest.mark.parametrize(("url", "clean"), [
    ("https://u:p@host.example/simple/", "https://host.example/simple/"),
    ("https://u:p@host.example:8443/simple/", "https://host.example:8443/simple/"),
    ("https://token@host.example/simple/", "https://host.example/simple/"),
    ("https://host.example/simple/", "https://host.example/simple/"),
    ("https://u:p%40ss@host.example/a?b=c#d", "https://host.example/a?b=c#d"),
])
def test_without_credentials(url: str, clean: str) -> None:
    assert lockfile.without_credentials(url) == clean


def test_without_credentials_keeps_an_ipv6_host_valid() -> None:
    assert lockfile.without_credentials("https://u:p@[fd00::1]:8443/simple/") == "https://[fd00::1]:8443/simple/"


def test_a_wheel_without_url_has_no_wheels_key() -> None:
    pip_made = Wheel("six", "1.17.0", "", "")

    text = lockfile.render(TARGET, [pip_made], {}, "")
    package = tomllib.loads(text)["packages"][0]

    assert "wheels" not in package
    assert (package["name"], package["version"]) == ("six", "1.17.0")
    assert lockfile.read(text) == [lockfile.Locked("six", "1.17.0", "", "", "python")]


def test_read_returns_what_was_rendered() -> None:
    locked = lockfile.read(lockfile.render(TARGET, [SIX, NUMPY, ATTRS], FOLDERS, INDEX))

    assert locked == [
        lockfile.Locked("Attrs", "25.1.0", "attrs-25.1.0-py3-none-any.whl", ATTRS_SHA, "python"),
        lockfile.Locked("numpy", "2.2.0", "numpy-2.2.0-cp312-cp312-manylinux_2_17_aarch64.whl", NUMPY_SHA,
                        "python/lib/python3.12/site-packages"),
        lockfile.Locked("six", "1.17.0", "six-1.17.0-py2.py3-none-any.whl", SIX_SHA, "python"),
    ]


def test_read_of_an_empty_lock_is_empty() -> None:
    assert lockfile.read('lock-version = "1.0"\n') == []


def test_path_has_no_dot_in_the_name_and_runtime_of_inverts_it() -> None:
    key = "0123456789abcdef" + "f" * 48

    for runtime in RUNTIMES:
        name = lockfile.path(key, runtime)
        folder, _, filename = name.rpartition("/")
        assert folder == "pylayer/0123456789abcdef"
        assert filename.startswith("pylock.") and filename.endswith(".toml")
        assert "." not in filename.removeprefix("pylock.").removesuffix(".toml")
        assert lockfile.runtime_of(name) == runtime
    assert lockfile.path(key, "python3.12") == "pylayer/0123456789abcdef/pylock.python312.toml"
    assert lockfile.path(key, "python3.9") == "pylayer/0123456789abcdef/pylock.python39.toml"


@pytest.mark.parametrize("name", [
    "pylock.python312.toml",
    "python/pylayer/k/pylock.python312.toml",
    "other/k/pylock.python312.toml",
    "pylayer/k/pylock.toml",
    "pylayer/k/pylock.python3.12.toml",
    "pylayer/k/pylock.python27.toml",
    "pylayer/k/pylock.python3.toml",
    "pylayer/k/sub/pylock.python312.toml",
])
def test_runtime_of_refuses_anything_else(name: str) -> None:
    assert lockfile.runtime_of(name) is None


def test_environment_names_version_machine_and_linux() -> None:
    environment = lockfile.environment(TARGET)

    assert "'aarch64'" in environment
    marker = Marker(environment)
    assert marker.evaluate({"python_version": "3.12", "platform_machine": "aarch64", "sys_platform": "linux"})
    assert not marker.evaluate({"python_version": "3.12", "platform_machine": "x86_64", "sys_platform": "linux"})
    assert not marker.evaluate({"python_version": "3.11", "platform_machine": "aarch64", "sys_platform": "linux"})
    assert "'x86_64'" in lockfile.environment(Target("python3.12", "x86_64"))
