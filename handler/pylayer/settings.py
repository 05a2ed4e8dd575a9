"""The provider's configuration, read once from the function's environment."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigurationError
from .install import INSTALLERS
from .properties import Defaults

_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class Settings:
    bucket: str
    region: str | None
    work_root: Path
    installer: str
    defaults: Defaults
    cache_dir: Path | None = None

    @property
    def build_root(self) -> Path:
        """Parent of every build's work directory; emptied at the start of each invocation."""
        return self.work_root / "builds"

    @property
    def cache_root(self) -> Path:
        """The installer's download cache: kept between builds of a warm container."""
        return self.cache_dir or self.work_root / "cache"

    def require_bucket(self) -> str:
        if not self.bucket:
            raise ConfigurationError("The provider has no LAYER_BUCKET configured.")
        return self.bucket

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        # A missing bucket fails builds (see require_bucket), never a Delete.
        bucket = environ.get("LAYER_BUCKET", "").strip()
        installer = environ.get("INSTALLER", "uv").strip() or "uv"
        if installer not in INSTALLERS:
            raise ConfigurationError(f"INSTALLER must be one of {', '.join(INSTALLERS)}.")
        return cls(
            bucket=bucket,
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"),
            work_root=Path(environ.get("PYLAYER_WORK_ROOT", "/tmp/pylayer")),  # noqa: S108 - Lambda's only writable place
            installer=installer,
            defaults=own_defaults(environ),
            cache_dir=Path(environ["PYLAYER_CACHE_DIR"]) if environ.get("PYLAYER_CACHE_DIR") else None,
        )


def own_defaults(environ: Mapping[str, str] = os.environ) -> Defaults:
    """The provider's own runtime and architecture: the default target."""
    execution_env = environ.get("AWS_EXECUTION_ENV", "")  # e.g. AWS_Lambda_python3.13
    runtime = execution_env.removeprefix("AWS_Lambda_")
    if not runtime.startswith("python3."):
        runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    architecture = _MACHINES.get(platform.machine().lower(), "x86_64")
    return Defaults(runtime=runtime, architecture=architecture)
