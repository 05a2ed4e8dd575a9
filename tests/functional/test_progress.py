"""`pylayer build` shows where it is on a terminal (stderr a pseudo-terminal), and nothing in CI, with
--quiet, or when stderr is a file. Against a local index of wheels built here (no network)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest

from pylayer.devtools import cli
from pylayer.progress import Silent
from tests.support import wheels
from tests.support.index import LocalIndex

ROOT = Path(__file__).resolve().parents[2]
HERE = f"python{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LocalIndex]:
    folder = tmp_path / "wheels"
    folder.mkdir()
    big = {f"progdemo/m{i}.py": (f"X = {i}\n" + "# padding\n" * 2000).encode() for i in range(40)}
    made = [wheels.build(folder, "progdemo", "1.0", files={"progdemo/__init__.py": b"", **big})]
    with LocalIndex(made) as served:
        yield served


def build(index: LocalIndex, tmp_path: Path, *extra: str, terminal: bool, env: dict[str, str] | None = None
          ) -> tuple[int, str]:
    layer = tmp_path / "layer"
    layer.mkdir(exist_ok=True)
    (layer / "requirements.txt").write_text("progdemo==1.0\n")
    command = [sys.executable, "-m", "pylayer", *extra, "build", str(layer), "--runtime", HERE, "--architecture",
               "x86_64", "--import-check", "none", "--index-url", index.url, "--cache", str(tmp_path / "cache"),
               "--out", str(tmp_path / "out.zip")]
    environment = {k: v for k, v in os.environ.items() if k != "CI"} | (env or {})
    if not terminal:
        done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300,
                              check=False)
        return done.returncode, done.stderr
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a terminal has a size
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 300)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return process.wait(timeout=60), shown.decode("utf-8", "replace")


def test_a_build_on_a_terminal_shows_each_stage(index: LocalIndex, tmp_path: Path) -> None:
    code, shown = build(index, tmp_path, terminal=True)
    assert code == 0, shown
    for stage in ("resolve", "download", "compile and import", "zip"):
        assert stage in shown, shown
    assert "1/1" in shown  # the resolve bar counts runtimes


@pytest.mark.parametrize(("extra", "env"), [(("--quiet",), {}), ((), {"CI": "true"})])
def test_no_progress_with_quiet_or_in_ci(index: LocalIndex, tmp_path: Path, extra: tuple[str, ...],
                                         env: dict[str, str]) -> None:
    code, shown = build(index, tmp_path, *extra, terminal=True, env=env)
    assert code == 0, shown
    assert "download" not in shown and "resolve" not in shown


def test_no_progress_when_stderr_is_not_a_terminal() -> None:
    class File:
        def isatty(self) -> bool:
            return False

    class Terminal:
        def isatty(self) -> bool:
            return True

    assert isinstance(cli.progress_for(False, File(), {}), Silent)
    assert isinstance(cli.progress_for(False, Terminal(), {"CI": "1"}), Silent)
    assert isinstance(cli.progress_for(False, Terminal(), {}), cli.TerminalProgress)
