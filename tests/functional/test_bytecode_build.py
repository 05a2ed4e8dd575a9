"""The provider's own bytecode at `sam build` (handler/bytecode.mk): without its runtime's python the build
fails and says what to do, unless told to build without bytecode. Runs the function's build target as
`sam build` does (make with ARTIFACTS_DIR), on a PATH and HOME where no python3.13 can be found."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

HANDLER = Path(__file__).resolve().parents[2] / "handler"


def build(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8", **extra}  # no pyenv, no python3.13
    return subprocess.run(["make", "--no-print-directory", "-C", str(HANDLER), "build-ProviderFunction",
                           f"ARTIFACTS_DIR={tmp_path / 'out'}"], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture(autouse=True)
def no_python313() -> None:
    if any(Path(p, "python3.13").exists() for p in ("/usr/bin", "/bin")):
        pytest.skip("this machine has a python3.13 in /usr/bin: the build would find it")


def test_a_build_without_the_runtimes_python_fails_and_says_what_to_do(tmp_path: Path) -> None:
    done = build(tmp_path)
    assert done.returncode != 0
    assert ("no python3.13 for the provider's bytecode: install one (pyenv install 3.13), or set "
            "RUNTIME_PYTHON=/path/to/python3.13; BYTECODE=skip builds without it") in done.stderr


def test_bytecode_skip_builds_without_it_and_warns(tmp_path: Path) -> None:
    done = build(tmp_path, BYTECODE="skip")
    assert done.returncode == 0, done.stderr
    assert "warning: BYTECODE=skip" in done.stderr
    assert (tmp_path / "out" / "app.py").is_file()
    assert not list((tmp_path / "out").rglob("*.pyc"))
    assert os.access(tmp_path / "out" / "pylayer" / "provider.py", os.R_OK)
