"""Local Python interpreters by version and machine, for the local runtime workers.

Looked for, in order: ``PYLAYER_PYTHONS`` (``3.12=/usr/bin/python3.12;3.11/aarch64=/opt/x/bin/python3.11``),
``pythonX.Y`` on PATH, pyenv's versions (``$PYENV_ROOT`` or ``~/.pyenv``; uv does not look there),
``uv python find`` (last of these: it takes half a second), and an emulated aarch64 interpreter set up
by ``.ci/setup-arm64-python`` (``$PYLAYER_ARM64_ROOT``, default /opt/pylayer-arm64). Each candidate is
started once to learn what it really is.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ARM64_ROOT = "/opt/pylayer-arm64"
_PROBE = "import platform, sys; print('%d.%d' % sys.version_info[:2], platform.machine())"


@dataclass(frozen=True)
class Interpreter:
    command: tuple[str, ...]
    version: str  # "3.12"
    machine: str  # "x86_64" | "aarch64"

    def describe(self) -> str:
        return f"python{self.version} {self.machine} ({' '.join(self.command)})"


class Interpreters:
    """Finds interpreters on first need and remembers them (a probe starts a process; emulated, 0.2 s)."""

    def __init__(self, environ: Mapping[str, str] | None = None, uv: str | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.uv = uv
        self._found: dict[tuple[str, str], Interpreter | None] = {}
        self._probed: dict[tuple[str, ...], Interpreter | None] = {}
        self._uv_found: dict[str, str] = {}

    def find(self, version: str, machine: str) -> Interpreter | None:
        key = (version, machine)
        if key not in self._found:
            self._found[key] = next((i for c in self._candidates(version, machine)
                                     if (i := self._probe(c)) and (i.version, i.machine) == key), None)
        return self._found[key]

    def _candidates(self, version: str, machine: str) -> Iterator[tuple[str, ...]]:
        for item in self.environ.get("PYLAYER_PYTHONS", "").split(";"):
            name, _, path = item.partition("=")
            wanted, _, arch = name.strip().partition("/")
            if path and wanted == version and arch in ("", machine):
                yield (path.strip(),)
        on_path = shutil.which(f"python{version}", path=self.environ.get("PATH", ""))
        if on_path and "/shims/" not in on_path:  # a pyenv shim fails unless its version is active
            yield (on_path,)
        pyenv = Path(self.environ.get("PYENV_ROOT") or Path(self.environ.get("HOME", "~")).expanduser() / ".pyenv")
        installed = pyenv.glob(f"versions/{version}.*/bin/python{version}")
        for found_path in sorted(installed, key=lambda p: _release(p.parts[-3]), reverse=True):  # newest first
            yield (str(found_path),)
        # uv's own interpreters and what it finds elsewhere: last, since it takes half a second; and only
        # for this machine's own (uv finds no emulated ones).
        found = self._uv_find(version) if machine == platform.machine() else ""
        if found:
            yield (found,)
        # An emulated aarch64 interpreter (.ci/setup-arm64-python): each candidate's probe says its machine.
        yield (str(Path(self.environ.get("PYLAYER_ARM64_ROOT", ARM64_ROOT)) / "bin" / f"python{version}"),)

    def _uv_find(self, version: str) -> str:
        if not self.uv:
            return ""
        if version not in self._uv_found:
            self._uv_found[version] = _output([self.uv, "python", "find", "--system", "--no-config", version],
                                              {**self.environ, "UV_PYTHON_DOWNLOADS": "never"})
        return self._uv_found[version]

    def _probe(self, command: tuple[str, ...]) -> Interpreter | None:
        if command not in self._probed:
            self._probed[command] = None
            if Path(command[0]).is_file():
                out = _output([*command, "-S", "-c", _PROBE], {"PATH": self.environ.get("PATH", "")})
                if out and len(out.split()) == 2:
                    version, machine = out.split()
                    self._probed[command] = Interpreter(command, version, machine)
        return self._probed[command]


_SHARED: dict[tuple[str, ...], Interpreters] = {}
# What decides what the search finds.
_SEARCH_VARIABLES = ("PYLAYER_PYTHONS", "PATH", "PYENV_ROOT", "HOME", "PYLAYER_ARM64_ROOT")


def shared(uv: str | None) -> Interpreters:
    """One search per process (a warm Lambda container, the bench's), redone when its environment changes."""
    key = (uv or "", *(os.environ.get(name, "") for name in _SEARCH_VARIABLES))
    if key not in _SHARED:
        _SHARED[key] = Interpreters(uv=uv)
    return _SHARED[key]


def _release(name: str) -> tuple[int, ...]:
    """'3.12.10' -> (3, 12, 10): numbers, so 3.12.10 is newer than 3.12.9."""
    return tuple(int(p) if p.isdigit() else -1 for p in name.split("."))


def _output(argv: list[str], env: Mapping[str, str]) -> str:
    try:
        done = subprocess.run(argv, env=dict(env), capture_output=True, text=True, timeout=60,  # noqa: S603
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
