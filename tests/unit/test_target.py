from __future__ import annotations

import pytest

from pylayer.target import RUNTIMES, Target


@pytest.mark.parametrize(("runtime", "architecture", "platform"), [
    ("python3.9", "x86_64", "x86_64-manylinux2014"),
    ("python3.11", "arm64", "aarch64-manylinux2014"),
    ("python3.12", "arm64", "aarch64-manylinux_2_34"),
    ("python3.13", "x86_64", "x86_64-manylinux_2_34"),
    ("python3.14", "arm64", "aarch64-manylinux_2_34"),
])
def test_uv_platform_follows_the_runtimes_glibc(runtime: str, architecture: str, platform: str) -> None:
    assert Target(runtime, architecture).uv_platform == platform


def test_amazon_linux_2_targets_accept_tags_up_to_glibc_2_26() -> None:
    tags = Target("python3.11", "x86_64").pip_platforms
    assert tags[0] == "manylinux1_x86_64"
    assert "manylinux2014_x86_64" in tags and "manylinux_2_26_x86_64" in tags
    assert "manylinux_2_27_x86_64" not in tags


def test_amazon_linux_2023_targets_accept_tags_up_to_glibc_2_34() -> None:
    tags = Target("python3.12", "arm64").pip_platforms
    assert tags[0] == "manylinux2014_aarch64"
    assert tags[-1] == "manylinux_2_34_aarch64"
    assert not any("x86_64" in t or "manylinux1" in t for t in tags)


def test_python_version_and_description() -> None:
    target = Target("python3.12", "arm64")
    assert target.python_version == "3.12"
    assert target.machine == "aarch64"
    assert target.describe() == "python3.12 arm64"


def test_supported_runtimes_are_python39_to_python314() -> None:
    assert list(RUNTIMES) == [f"python3.{m}" for m in range(9, 15)]


@pytest.mark.parametrize(("runtime", "architecture"), [("python2.7", "x86_64"), ("python3.12", "sparc")])
def test_an_unknown_target_cannot_be_made(runtime: str, architecture: str) -> None:
    with pytest.raises(ValueError, match="unknown"):
        Target(runtime, architecture)
