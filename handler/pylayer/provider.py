"""What Create, Update and Delete do, on a parsed spec.

The steps (install -> archive -> upload -> publish) run in a fresh work
directory that is removed whatever happens: a warm Lambda container keeps
/tmp between invocations.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from . import archive, install
from .properties import LayerSpec, parse
from .settings import Settings
from .store import LayerVersionRef, Published, parse_version_arn

log = logging.getLogger(__name__)

# Seconds kept back from the Lambda deadline for zip, upload, publish and the answer.
RESERVE_SECONDS = 60.0


class Store(Protocol):
    def upload(self, path: Path, key: str) -> bool: ...
    def publish(self, spec: LayerSpec, key: str) -> Published: ...
    def delete(self, ref: LayerVersionRef) -> bool: ...


@dataclass(frozen=True)
class Outcome:
    physical_id: str
    data: dict[str, str]
    packages: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)


def artifact_key(archive_sha256: str) -> str:
    """Content-addressed: the same bytes always land under the same key."""
    return f"layers/sha256/{archive_sha256}.zip"


def attributes(published: Published, built: archive.Archive) -> dict[str, str]:
    """Fn::GetAtt values. Strings, like everything CloudFormation reads."""
    return {
        "LayerVersionArn": published.arn,
        "LayerArn": published.layer_arn,
        "Version": str(published.version),
        "CodeSha256": published.code_sha256,
        "CodeSize": str(published.code_size),
        "UnzippedSize": str(built.unzipped_size),
    }


class Provider:
    def __init__(self, settings: Settings, store: Store,
                 remaining_seconds: Callable[[], float] = lambda: 900.0) -> None:
        self.settings = settings
        self.store = store
        self.remaining_seconds = remaining_seconds

    def create(self, properties: object) -> Outcome:
        return self.build(parse(properties, self.settings.defaults))

    def update(self, properties: object) -> Outcome:
        # The old version stays: CloudFormation deletes it in cleanup, and
        # needs it on rollback.
        return self.build(parse(properties, self.settings.defaults))

    def delete(self, physical_id: str) -> bool:
        """Delete the version the id names. False if there was nothing to delete."""
        ref = parse_version_arn(physical_id)
        if ref is None:
            # A failed Create leaves crhelper's made-up id: nothing was published.
            log.info("Physical id is not a layer version ARN; nothing to delete")
            return False
        deleted = self.store.delete(ref)
        log.info("Layer version %s %s", ref.arn, "deleted" if deleted else "was already gone")
        return deleted

    def build(self, spec: LayerSpec) -> Outcome:
        timings: dict[str, float] = {}
        self.settings.require_bucket()
        self.settings.build_root.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="build-", dir=self.settings.build_root))
        try:
            started = time.monotonic()
            self._install(spec, workdir / "python")
            timings["install"] = time.monotonic() - started

            started = time.monotonic()
            entries = archive.collect(workdir / "python")
            archive.check_size(entries)
            built = archive.write_zip(entries, workdir / "layer.zip")
            timings["zip"] = time.monotonic() - started

            started = time.monotonic()
            key = artifact_key(built.sha256)
            self.store.upload(built.path, key)
            timings["upload"] = time.monotonic() - started

            started = time.monotonic()
            published = self.store.publish(spec, key)
            timings["publish"] = time.monotonic() - started
            packages = tuple(archive.installed_distributions(entries))
            log.info("Published %s: %d bytes zipped, %d unzipped, %s", published.arn,
                     published.code_size, built.unzipped_size, ", ".join(packages))
            return Outcome(published.arn, attributes(published, built), packages, timings)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _install(self, spec: LayerSpec, dest: Path) -> None:
        cache = self.settings.cache_root / self.settings.installer
        cache.mkdir(parents=True, exist_ok=True)
        if self.settings.installer == "pip":
            command = install.plan_pip(spec.requirements, spec.target, dest, cache)
        else:
            command = install.plan_uv(install.find_uv(), spec.requirements, spec.target, dest, cache)
        timeout = self.remaining_seconds() - RESERVE_SECONDS
        log.info("Installing %s for %s", " ".join(spec.requirements), spec.target.describe())
        output = install.run(command, spec.target, timeout)
        log.debug("Installer output: %s", output[-4000:])
        if not dest.is_dir():
            dest.mkdir(parents=True)


def clean_build_root(settings: Settings) -> None:
    """Remove work directories a killed invocation left behind in this container."""
    if settings.build_root.is_dir():
        for child in settings.build_root.iterdir():
            shutil.rmtree(child, ignore_errors=True)
