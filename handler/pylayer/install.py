"""Resolve requirements for a target with uv, the one installer (pinned, shipped in the provider's layer).

``plan_uv_lock`` is pure: it computes the command. ``run`` executes it
(arguments only, never a shell) and turns a failure into a short reason.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigurationError, InstallFailed, StorageFull
from .failures import summarize_failure
from .index import Index, scrub
from .target import Target

# Variables the installer may see; anything else (AWS credentials above all)
# stays out of its environment.
_PASS_ENV = ("PATH", "LANG", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR", "UV_HTTP_TIMEOUT", "UV_HTTP_RETRIES",
             "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...] = field(repr=False)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold index credentials
    secrets: tuple[str, ...] = field(default=(), repr=False)


def _uv_env(cache_dir: Path, index: Index) -> dict[str, str]:
    env = {
        "UV_CACHE_DIR": str(cache_dir),
        "UV_PYTHON_DOWNLOADS": "never",
        "HOME": str(cache_dir.parent),
    }
    if index.url:
        env["UV_DEFAULT_INDEX"] = index.authenticated_url  # in the environment, never in argv
    return env


def plan_uv_lock(uv: str, requirements_file: Path, target: Target, lock: Path, cache_dir: Path,
                 index: Index | None = None, python: str = sys.executable, uv_platform: str = "",
                 constraints: Path | None = None, find_links: Path | None = None) -> Command:
    """Resolve for the target into a PEP 751 lock (pylock.toml) naming one wheel per package.

    ``uv_platform`` overrides the target's own uv platform (``fitting`` resolves wider first).
    """
    index = index or Index()
    argv = (
        uv, "pip", "compile", str(requirements_file),
        "--output-file", str(lock),
        "--format", "pylock.toml",
        "--python", python,
        "--python-version", target.python_version,
        "--python-platform", uv_platform or target.uv_platform,
        *(("--constraints", str(constraints)) if constraints else ()),
        # Wheels a runtime worker built from source distributions (sources.py); never a build here.
        *(("--find-links", str(find_links)) if find_links else ()),
        "--only-binary", ":all:",
        "--no-config",
        "--no-header",
        "--quiet",
        "--color", "never",
        "--no-progress",
    )
    return Command(argv, _uv_env(cache_dir, index), index.secrets)


_FIND_UV = threading.Lock()
sysconfig.get_config_vars()  # filled once, at import, before any thread can race to fill it (3.11)


def find_uv(environ: Mapping[str, str] = os.environ) -> str:
    """The uv executable: UV_BIN, the provider layer's copy, the uv wheel's, PATH.

    One caller at a time: the uv wheel's lookup reads ``sysconfig.get_config_var``, which on Python 3.11
    answers None to some of several threads that ask it first at once (the resolve threads do)."""
    with _FIND_UV:
        return _find_uv(environ)


def _find_uv(environ: Mapping[str, str]) -> str:
    if environ.get("UV_BIN"):
        return environ["UV_BIN"]
    layer_copy = Path("/opt/uv") / platform.machine() / "uv"
    if layer_copy.is_file():
        return str(layer_copy)
    try:
        import uv  # the wheel, in development environments

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    if found:
        return found
    raise ConfigurationError("The provider cannot find uv: set UV_BIN, or deploy the provider's layer again.")


def run(command: Command, target: Target, timeout: float) -> str:
    """Run the installer; returns its output, raises InstallFailed with a short reason."""
    env = {k: v for k, v in os.environ.items() if k in _PASS_ENV}
    env.update(command.env)
    if timeout < 1:
        raise InstallFailed(f"Installing for {target.describe()} had no time left before the Lambda timeout.")
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, validated requirements, no shell
            command.argv, env=env, capture_output=True, text=True, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired:
        raise InstallFailed(
            f"Installing for {target.describe()} did not finish in {int(timeout)} s "
            "(the time left before the Lambda timeout).",
        ) from None
    except OSError as exc:
        raise ConfigurationError(f"The installer could not start: {exc.strerror}.", str(exc)) from None
    stderr = scrub(done.stderr, command.secrets)
    if done.returncode != 0:
        if "No space left on device" in stderr:
            raise StorageFull(f"/tmp filled up while installing for {target.describe()}"
                              f"{_written(command)}: raise the provider's EphemeralStorageSize.", stderr[-8000:])
        raise InstallFailed(summarize_failure(stderr, target), stderr[-8000:])
    return scrub(done.stdout, command.secrets) + stderr


def _written(command: Command) -> str:
    """How much the install had written when /tmp ran out: a floor for what the layer needs."""
    if "--target" not in command.argv:
        return ""
    target = Path(command.argv[command.argv.index("--target") + 1])
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) if target.is_dir() else 0
    return f" (after {size / 1_000_000:.1f} MB of files; the layer needs more)" if size else ""
