"""A root file system with only what Lambda's Python images have, where the local workers run package code.

This machine has libgomp, glib, pango, libGL and hundreds of libraries that
Lambda's images lack, so an import here proves little: lightgbm loads libgomp
with ctypes and imports here, then fails in Lambda. ``.ci/setup-lambda-root``
makes a root that holds Debian's glibc, the GCC runtime and the libraries
CPython's own modules need, under ``/lib64`` and ``/usr/lib64`` as Lambda keeps
them, and nothing else. A job runs there chrooted, in its own mount and PID
namespaces (as a separate Lambda function: it cannot see the provider's
processes, or read their environment), with only the folders it needs bound
in at their own paths. Local runs only (tests, ``make demo``, ``pylayer
build``); in AWS the workers are Lambda functions of each runtime.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DEFAULT_ROOT = "/opt/pylayer-image-root"
STAMP = ".setup-lambda-root.stamp"
DEFAULT_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
# Run by sh in the new namespaces: $1 the root, $2 the number of read-only binds, then those binds, then
# the writable ones up to "--", then the command (env -i ... chroot ROOT argv). /tmp is a fresh tmpfs,
# mounted first: a bound folder may itself be under /tmp.
_SCRIPT = """
set -e
root=$1; count=$2; shift 2
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
bind() {
    mkdir -p "$root$1"
    mount --bind "$1" "$root$1"
    if [ "$2" = ro ]; then mount -o remount,bind,ro "$root$1"; fi
}
while [ "$count" -gt 0 ]; do bind "$1" ro; shift; count=$((count - 1)); done
while [ "$1" != "--" ]; do bind "$1" rw; shift; done
shift
exec "$@"
"""


@dataclass(frozen=True)
class ImageRoot:
    path: Path

    def describe(self) -> str:
        return f"a Lambda-like root ({self.path})"

    def command(self, argv: Sequence[str], *, binds: Sequence[str] = (), writable: Sequence[str] = (),
                env: Mapping[str, str] | None = None) -> list[str]:
        """The argv that runs ``argv`` in the root, in / there, with exactly ``env``: its stdin, stdout,
        stderr and exit code are argv's. ``binds`` are mounted read-only at their own paths, ``writable``
        read-write. Every value is passed as an argument, never into the script's text."""
        folders = [os.path.abspath(b) for b in binds]
        rw = [os.path.abspath(w) for w in writable]
        variables = [f"{k}={v}" for k, v in (DEFAULT_ENV if env is None else env).items()]
        return ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
                "/bin/sh", "-c", _SCRIPT, "imageroot", str(self.path), str(len(folders)), *folders, *rw, "--",
                "/usr/bin/env", "-i", *variables, "/usr/sbin/chroot", str(self.path), *argv]


def interpreter_binds(command: Sequence[str]) -> list[str]:
    """The folders an interpreter needs in the root: its installation prefix (``.../3.12.1`` of
    ``.../3.12.1/bin/python3.12``), found through symlinks. A command that is not a path gives none."""
    if not command or not os.path.isabs(command[0]):
        return []
    real = Path(os.path.realpath(command[0]))
    return [str(real.parent.parent)]


@cache
def _namespaces_work() -> bool:
    if shutil.which("unshare") is None or not Path("/usr/sbin/chroot").exists():
        return False
    try:
        done = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--propagation", "private", "true"],  # noqa: S607
                              capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def find(environ: Mapping[str, str] | None = None) -> ImageRoot | None:
    """The root set up by .ci/setup-lambda-root, if it is there and this machine can enter it."""
    environ = os.environ if environ is None else environ
    configured = environ.get("PYLAYER_IMAGE_ROOT", "") or DEFAULT_ROOT
    if configured.strip().lower() == "off":
        return None
    path = Path(configured)
    if not (path / STAMP).is_file() or not _namespaces_work():
        return None
    return ImageRoot(path)
