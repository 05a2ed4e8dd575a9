"""The provider's configuration, read once per invocation from the function's environment."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigurationError
from .identity import BuildOptions
from .index import validate_url
from .origin import hosts
from .properties import Defaults
from .target import ARCHITECTURES, RUNTIMES

_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no", "")


@dataclass(frozen=True)
class Settings:
    bucket: str
    region: str | None
    work_root: Path
    defaults: Defaults
    cache_dir: Path | None = None
    index_url: str = ""
    index_secret: str = ""
    allow_sdist: bool = False
    problem: str = ""  # a configuration error; it fails builds, never a Delete
    codeartifact: CodeArtifact | None = None
    # (runtime, architecture) -> the ARN of the provider stack's worker function for it
    worker_functions: Mapping[tuple[str, str], str] = field(default_factory=dict)
    in_lambda: bool = False  # running as a Lambda function: no local interpreter may run package code
    # Hosts a ResponseURL may name beside CloudFormation's own (PYLAYER_RESPONSE_HOSTS: tests, the demo).
    response_hosts: frozenset[str] = frozenset()

    @property
    def cache_root(self) -> Path:
        """The installer's download cache: kept between builds of a warm container."""
        return self.cache_dir or self.work_root / "cache"

    @property
    def build_options(self) -> BuildOptions:
        index = self.codeartifact.describe() if self.codeartifact else self.index_url
        return BuildOptions(index, self.allow_sdist)

    def check_build(self) -> None:
        """Raise what keeps this provider from building (a Delete needs none of it)."""
        if self.problem:
            raise ConfigurationError(self.problem)
        if not self.bucket:
            raise ConfigurationError("The provider has no LAYER_BUCKET configured.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Never raises: a bad value is kept as ``problem`` for check_build."""
        problems: list[str] = []
        installer = environ.get("INSTALLER", "").strip()
        if installer not in ("uv", ""):
            problems.append(f"INSTALLER={installer[:20]} is not supported: the provider installs with the uv its "
                            "layer ships. Remove INSTALLER from the function's environment.")
        allow_sdist = environ.get("ALLOW_SOURCE_DISTRIBUTIONS", "false").strip().lower()
        if allow_sdist not in _TRUE + _FALSE:
            problems.append("ALLOW_SOURCE_DISTRIBUTIONS must be true or false.")
        try:
            index_url = validate_url(environ.get("PACKAGE_INDEX_URL", ""))
        except ConfigurationError as exc:
            problems.append(exc.reason)
            index_url = ""
        workers, worker_problem = parse_workers(environ.get("WORKER_FUNCTIONS", ""))
        if worker_problem:
            problems.append(worker_problem)
        codeartifact = CodeArtifact.from_env(environ)
        if codeartifact is not None and (index_url or environ.get("PACKAGE_INDEX_SECRET_ARN", "").strip()):
            problems.append("Set either the CodeArtifact repository or PACKAGE_INDEX_URL, not both.")
        if bool(environ.get("CODEARTIFACT_DOMAIN", "").strip()) != bool(
                environ.get("CODEARTIFACT_REPOSITORY", "").strip()):
            problems.append("CODEARTIFACT_DOMAIN and CODEARTIFACT_REPOSITORY go together.")
        return cls(
            bucket=environ.get("LAYER_BUCKET", "").strip(),
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"),
            work_root=Path(environ.get("PYLAYER_WORK_ROOT", "/tmp/pylayer")),
            defaults=own_defaults(environ),
            cache_dir=Path(environ["PYLAYER_CACHE_DIR"]) if environ.get("PYLAYER_CACHE_DIR") else None,
            index_url=index_url,
            index_secret=environ.get("PACKAGE_INDEX_SECRET_ARN", "").strip(),
            allow_sdist=allow_sdist in _TRUE,
            problem=" ".join(problems),
            codeartifact=codeartifact,
            worker_functions=workers,
            in_lambda=bool(environ.get("AWS_LAMBDA_FUNCTION_NAME")),
            response_hosts=hosts(environ.get("PYLAYER_RESPONSE_HOSTS", "")),
        )


def parse_workers(value: str) -> tuple[dict[tuple[str, str], str], str]:
    """WORKER_FUNCTIONS, "python3.12/arm64=ARN,python3.13/x86_64=ARN" (empty entries skipped), and a problem."""
    found: dict[tuple[str, str], str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        key, _, arn = item.strip().partition("=")
        runtime, _, architecture = key.partition("/")
        if runtime not in RUNTIMES or architecture not in ARCHITECTURES or not arn.startswith("arn:"):
            return {}, f"WORKER_FUNCTIONS has a bad entry: {item.strip()[:80]}"
        found[(runtime, architecture)] = arn
    return found, ""


@dataclass(frozen=True)
class CodeArtifact:
    """An AWS CodeArtifact repository as the package index: a token is fetched at build time."""

    domain: str
    repository: str
    owner: str = ""  # the domain's account, when it is not the provider's

    def describe(self) -> str:
        return f"codeartifact:{self.owner or '-'}/{self.domain}/{self.repository}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CodeArtifact | None:
        domain = environ.get("CODEARTIFACT_DOMAIN", "").strip()
        repository = environ.get("CODEARTIFACT_REPOSITORY", "").strip()
        if not (domain and repository):
            return None
        return cls(domain, repository, environ.get("CODEARTIFACT_DOMAIN_OWNER", "").strip())


def own_defaults(environ: Mapping[str, str] = os.environ) -> Defaults:
    """The provider's own runtime and architecture: the default target."""
    execution_env = environ.get("AWS_EXECUTION_ENV", "")  # e.g. AWS_Lambda_python3.13
    runtime = execution_env.removeprefix("AWS_Lambda_")
    if not runtime.startswith("python3."):
        runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    architecture = _MACHINES.get(platform.machine().lower(), "x86_64")
    return Defaults(runtime=runtime, architecture=architecture)
