"""Local interpreters by version and machine, found in a controlled environment (no real PATH or pyenv)."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from pylayer.interpreters import Interpreter, Interpreters

MACHINE = platform.machine()
VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"


def script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def fake_python(path: Path, version: str, machine: str = MACHINE, count: Path | None = None) -> Path:
    """A 'python' that answers the probe as the given version and machine (and counts its starts)."""
    counting = f'echo x >> "{count}"\n' if count else ""
    return script(path, f'{counting}echo "{version} {machine}"')


def environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Nothing of the developer's machine: an empty PATH folder, HOME and PYENV_ROOT in tmp_path."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    return {"PATH": str(empty), "HOME": str(tmp_path / "home"), "PYENV_ROOT": str(tmp_path / "no-pyenv"),
            "PYLAYER_ARM64_ROOT": str(tmp_path / "no-arm64"), **extra}


def probes(count: Path) -> int:
    return len(count.read_text().splitlines()) if count.exists() else 0


def test_pylayer_pythons_names_this_interpreter() -> None:
    found = Interpreters({"PATH": "", "PYLAYER_PYTHONS": f"3.1=/nowhere/python3.1; {VERSION}={sys.executable}"}
                         ).find(VERSION, MACHINE)

    assert found == Interpreter((sys.executable,), VERSION, MACHINE)


def test_pylayer_pythons_may_name_the_machine(tmp_path: Path) -> None:
    env = environ(tmp_path, PYLAYER_PYTHONS=f"{VERSION}/{MACHINE}={sys.executable}")

    assert Interpreters(env).find(VERSION, MACHINE) == Interpreter((sys.executable,), VERSION, MACHINE)


def test_pylayer_pythons_for_another_machine_is_not_used(tmp_path: Path) -> None:
    other = "aarch64" if MACHINE != "aarch64" else "x86_64"
    env = environ(tmp_path, PYLAYER_PYTHONS=f"{VERSION}/{other}={sys.executable}")

    assert Interpreters(env).find(VERSION, MACHINE) is None


def test_a_candidate_reporting_another_version_is_not_returned(tmp_path: Path) -> None:
    env = environ(tmp_path, PYLAYER_PYTHONS=f"3.99={sys.executable}")

    assert Interpreters(env).find("3.99", MACHINE) is None


def test_a_candidate_reporting_another_machine_is_not_returned(tmp_path: Path) -> None:
    liar = fake_python(tmp_path / "bin" / "python3.99", "3.99", machine="sparc64")
    env = environ(tmp_path, PYLAYER_PYTHONS=f"3.99={liar}")

    assert Interpreters(env).find("3.99", MACHINE) is None


def test_a_candidate_that_is_no_file_or_answers_nonsense_is_skipped(tmp_path: Path) -> None:
    nonsense = script(tmp_path / "bin" / "python3.99", 'echo "Python 3.99.0 on linux"')
    good = fake_python(tmp_path / "good" / "python3.99", "3.99")
    env = environ(tmp_path, PYLAYER_PYTHONS=f"3.99={tmp_path / 'missing'};3.99={nonsense};3.99={good}")

    assert Interpreters(env).find("3.99", MACHINE) == Interpreter((str(good),), "3.99", MACHINE)


def test_pyenv_versions_are_found(tmp_path: Path) -> None:
    root = tmp_path / "pyenv"
    python = fake_python(root / "versions" / "3.99.1" / "bin" / "python3.99", "3.99")
    fake_python(root / "versions" / "3.98.1" / "bin" / "python3.98", "3.98")

    found = Interpreters(environ(tmp_path, PYENV_ROOT=str(root))).find("3.99", MACHINE)

    assert found == Interpreter((str(python),), "3.99", MACHINE)


def test_pyenv_under_home_is_found_without_pyenv_root(tmp_path: Path) -> None:
    python = fake_python(tmp_path / "home" / ".pyenv" / "versions" / "3.99.2" / "bin" / "python3.99", "3.99")
    env = environ(tmp_path)
    del env["PYENV_ROOT"]

    assert Interpreters(env).find("3.99", MACHINE) == Interpreter((str(python),), "3.99", MACHINE)


def test_a_python_on_path_is_found(tmp_path: Path) -> None:
    python = fake_python(tmp_path / "bin" / "python3.99", "3.99")

    found = Interpreters(environ(tmp_path, PATH=str(python.parent))).find("3.99", MACHINE)

    assert found == Interpreter((str(python),), "3.99", MACHINE)


def test_a_pyenv_shim_on_path_is_skipped(tmp_path: Path) -> None:
    count = tmp_path / "count"
    shim = fake_python(tmp_path / "pyenv" / "shims" / "python3.99", "3.99", count=count)

    found = Interpreters(environ(tmp_path, PATH=str(shim.parent))).find("3.99", MACHINE)

    assert found is None
    assert probes(count) == 0


def test_uv_python_find_is_asked_without_downloads(tmp_path: Path) -> None:
    python = fake_python(tmp_path / "uv-pythons" / "python3.99", "3.99")
    uv = script(tmp_path / "uv", f'[ "$1 $2 $3" = "python find --system" ] && [ "$UV_PYTHON_DOWNLOADS" = never ] '
                                 f'&& [ "$4 $5" = "--no-config 3.99" ] && echo "{python}"')

    found = Interpreters(environ(tmp_path), uv=str(uv)).find("3.99", MACHINE)

    assert found == Interpreter((str(python),), "3.99", MACHINE)


def test_the_probe_sees_only_path_of_the_environment(tmp_path: Path) -> None:
    python = script(tmp_path / "bin" / "python3.99", f'[ -n "$SECRET" ] && exit 1\necho "3.99 {MACHINE}"')
    env = environ(tmp_path, PATH=str(python.parent), SECRET="do-not-pass")

    assert Interpreters(env).find("3.99", MACHINE) is not None


def test_results_are_cached_the_probe_runs_once(tmp_path: Path) -> None:
    count = tmp_path / "count"
    python = fake_python(tmp_path / "bin" / "python3.99", "3.99", count=count)
    interpreters = Interpreters(environ(tmp_path, PATH=str(python.parent)))

    first = interpreters.find("3.99", MACHINE)
    second = interpreters.find("3.99", MACHINE)

    assert first is not None
    assert second is first
    assert probes(count) == 1


def test_a_miss_is_cached_and_a_command_is_probed_once_for_every_question(tmp_path: Path) -> None:
    count = tmp_path / "count"
    python = fake_python(tmp_path / "bin" / "python3.99", "3.99", count=count)
    interpreters = Interpreters(environ(tmp_path, PYLAYER_PYTHONS=f"3.98={python}"))

    assert interpreters.find("3.98", MACHINE) is None
    assert interpreters.find("3.98", MACHINE) is None
    assert probes(count) == 1


def test_an_emulated_aarch64_root_is_found(tmp_path: Path) -> None:
    root = tmp_path / "arm64"
    python = fake_python(root / "bin" / "python3.99", "3.99", machine="aarch64")

    found = Interpreters(environ(tmp_path, PYLAYER_ARM64_ROOT=str(root))).find("3.99", "aarch64")

    assert found == Interpreter((str(python),), "3.99", "aarch64")


def test_a_native_aarch64_python_on_path_is_found(tmp_path: Path) -> None:
    # As on an arm64 machine (a Graviton runner): python3.99 on PATH is an aarch64 interpreter.
    python = fake_python(tmp_path / "bin" / "python3.99", "3.99", machine="aarch64")

    found = Interpreters(environ(tmp_path, PATH=str(python.parent))).find("3.99", "aarch64")

    assert found == Interpreter((str(python),), "3.99", "aarch64")


def test_describe_names_version_machine_and_command() -> None:
    assert Interpreter(("/usr/bin/python3.12", "-X", "utf8"), "3.12", "x86_64").describe() == \
        "python3.12 x86_64 (/usr/bin/python3.12 -X utf8)"
