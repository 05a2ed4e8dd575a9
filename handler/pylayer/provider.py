"""What Create, Update and Delete do.

Each request first looks for a version this resource already published from
the same spec (see ``plan``): a retried event, a rollback and an Update that
changes nothing answer with it instead of publishing again. Otherwise the
steps (install -> archive -> upload -> publish) run in a fresh work directory
that is removed whatever happens: a warm Lambda container keeps /tmp.
"""

from __future__ import annotations

import errno
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from . import archive, builder, plan, sharing, wheels
from .errors import InstallFailed, OutOfTime, StorageFull
from .index import Index, credentials_from_secret
from .observe import Observer, Quiet
from .properties import LayerSpec, parse
from .settings import Settings
from .store import LayerVersionRef, Published, parse_version_arn

log = logging.getLogger(__name__)

# Seconds kept back from the Lambda deadline for zip, upload, publish and the answer.
RESERVE_SECONDS = 60.0
# Below this, publishing is not started: a version published after the answer
# went out (crhelper answers FAILED just before the deadline) would leak.
PUBLISH_MARGIN_SECONDS = 20.0


class Store(Protocol):
    def upload(self, path: Path, key: str) -> bool: ...
    def publish(self, spec: LayerSpec, key: str, description: str) -> Published: ...
    def versions(self, layer_name: str) -> list[plan.Existing]: ...
    def get(self, ref: LayerVersionRef) -> Published | None: ...
    def delete(self, ref: LayerVersionRef) -> None: ...
    def secret(self, secret_id: str) -> str: ...
    def read_json(self, key: str) -> dict[str, Any] | None: ...
    def write_json(self, key: str, value: dict[str, Any]) -> None: ...
    def exists(self, key: str) -> bool: ...
    def share(self, arn: str, statement: sharing.Statement) -> None: ...
    def codeartifact_index(self, domain: str, repository: str, owner: str = "") -> tuple[str, str]: ...


@dataclass(frozen=True)
class Request:
    """What the core needs of a CloudFormation event."""

    properties: object
    stack_id: str
    logical_id: str
    physical_id: str | None = None

    @property
    def owner(self) -> str:
        return plan.owner_key(self.stack_id, self.logical_id)


@dataclass(frozen=True)
class Outcome:
    physical_id: str
    data: dict[str, str]
    reused: bool = False
    packages: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Artifact:
    """A layer zip in the bucket, ready to publish."""

    key: str
    unzipped_size: int
    packages: tuple[str, ...] = ()


def spec_pointer_key(content_key: str) -> str:
    """Names the archive built from one content spec, so any later build of it reuses the archive."""
    return f"specs/{content_key}.json"


def artifact_key(archive_sha256: str) -> str:
    """Content-addressed: the same bytes always land under the same key."""
    return f"layers/sha256/{archive_sha256}.zip"


def attributes(published: Published, unzipped_size: int) -> dict[str, str]:
    """Fn::GetAtt values. Strings, like everything CloudFormation reads."""
    return {
        "LayerVersionArn": published.arn,
        "LayerArn": published.layer_arn,
        "Version": str(published.version),
        "CodeSha256": published.code_sha256,
        "CodeSize": str(published.code_size),
        "UnzippedSize": str(unzipped_size),
    }


class Provider:
    def __init__(self, settings: Settings, store: Store,
                 remaining_seconds: Callable[[], float] = lambda: 900.0,
                 account: str | None = None, observer: Observer | None = None) -> None:
        self.settings = settings
        self.store = store
        self.remaining_seconds = remaining_seconds
        self.account = account
        self.observer = observer or Quiet()

    def create(self, request: Request) -> Outcome:
        return self.apply(request)

    def update(self, request: Request) -> Outcome:
        # The old version stays: CloudFormation deletes it in cleanup, and
        # needs it on rollback.
        return self.apply(request)

    def apply(self, request: Request) -> Outcome:
        spec = parse(request.properties, self.settings.defaults)
        version_key = plan.version_key(spec, self.settings.build_options)
        pointer = spec_pointer_key(plan.content_key(spec, self.settings.build_options))
        with ThreadPoolExecutor(max_workers=1) as pool:
            # The archive lookup runs beside the version listing: one round trip less to wait for.
            lookup = pool.submit(self._reusable_artifact, pointer) if self.settings.bucket else None
            matches = plan.owned_matches(self.store.versions(spec.layer_name), version_key, request.owner)
            chosen = plan.choose(matches, request.physical_id)
            if chosen is not None:
                reused = self._reuse(chosen)
                if reused is not None:
                    self._share(spec, reused.physical_id)  # a retry whose first attempt died before sharing
                    self.observer.measure("VersionReused", 1, "Count")
                    return reused
            self.settings.check_build()
            artifact = lookup.result() if lookup is not None else None
        return self.build(spec, version_key, request.owner, pointer, artifact)

    def _reuse(self, chosen: plan.Existing) -> Outcome | None:
        ref = parse_version_arn(chosen.arn)
        details = self.store.get(ref) if ref else None
        marker = plan.read_marker(details.description) if details else None
        if details is None or marker is None:
            return None
        log.info("Reusing %s: this resource already published it from the same spec", details.arn)
        return Outcome(details.arn, attributes(details, marker.unzipped_size), reused=True)

    def delete(self, request: Request) -> bool:
        """Delete the version the id names, if it is this resource's. False if nothing was deleted."""
        ref = parse_version_arn(request.physical_id)
        if ref is None:
            # A failed Create leaves crhelper's made-up id: nothing was published.
            log.info("Physical id is not a layer version ARN; nothing to delete")
            return False
        foreign_account = bool(self.account) and ref.account != self.account
        foreign_region = bool(self.settings.region) and ref.region != self.settings.region
        if foreign_account or foreign_region:
            log.warning("Not deleting %s: the provider publishes only in its own account and region", ref.arn)
            return False
        details = self.store.get(ref)
        if details is None:
            log.info("Layer version %s was already gone", ref.arn)
            return False
        marker = plan.read_marker(details.description)
        if marker is not None and marker.owner != request.owner:
            log.warning("Not deleting %s: it belongs to another resource", ref.arn)
            return False
        self.store.delete(ref)
        log.info("Deleted layer version %s", ref.arn)
        self.observer.measure("VersionsDeleted", 1, "Count")
        return True

    def build(self, spec: LayerSpec, version_key: str, owner: str, pointer: str,
              artifact: Artifact | None) -> Outcome:
        """Publish a version of this spec: from the archive built before, if any, or a new one."""
        timings: dict[str, float] = {}
        started_build = time.monotonic()
        if artifact is None:
            artifact = self._build_archive(spec, pointer, timings)
        else:
            log.info("Reusing the archive %s built before from the same spec", artifact.key)
        self.observer.measure("ArchiveReused", 0 if timings else 1, "Count")

        self._check_time("publishing")
        started = time.monotonic()
        marker = plan.Marker(version_key, owner, artifact.unzipped_size)
        with self.observer.phase("publish"):
            published = self.store.publish(spec, artifact.key, plan.describe(spec.description, marker))
        if published.retried:
            self._drop_duplicates(spec, version_key, owner, keep=published.arn)
        try:
            self._share(spec, published.arn)
        except Exception:
            # Not answered with, so never deleted by CloudFormation: delete it here.
            ref = parse_version_arn(published.arn)
            if ref is not None:
                self.store.delete(ref)
            raise
        timings["publish"] = time.monotonic() - started
        self.observer.measure("BuildSeconds", time.monotonic() - started_build, "Seconds")
        self.observer.measure("UnzippedBytes", artifact.unzipped_size, "Bytes")
        self.observer.measure("ZipBytes", published.code_size, "Bytes")

        log.info("Published %s: %d bytes zipped, %d unzipped, %s", published.arn, published.code_size,
                 artifact.unzipped_size, ", ".join(artifact.packages),
                 extra={"timings": {k: round(v, 3) for k, v in timings.items()}})
        return Outcome(published.arn, attributes(published, artifact.unzipped_size), False,
                       artifact.packages, timings)

    def _reusable_artifact(self, pointer: str) -> Artifact | None:
        """The archive a build of the same content left in the bucket, if it is still there."""
        found = self.store.read_json(pointer)
        if not found or not isinstance(found.get("key"), str) or not isinstance(found.get("unzipped_size"), int):
            return None
        if not self.store.exists(found["key"]):
            return None  # expired by the bucket's lifecycle rule
        packages = tuple(str(p) for p in found.get("packages", []) if isinstance(p, str))
        return Artifact(found["key"], found["unzipped_size"], packages)

    def _build_archive(self, spec: LayerSpec, pointer: str, timings: dict[str, float]) -> Artifact:
        with self._workdir() as workdir, _storage_guard(self.settings):
            started = time.monotonic()
            with self.observer.phase("install"):
                entries = self._entries(spec, workdir)
            if not entries:
                # Lambda refuses an empty zip; say why it would be empty instead.
                raise InstallFailed(f"Nothing to install for {spec.target.describe()}: the environment markers "
                                    "of the requirements exclude this target.")
            timings["install"] = time.monotonic() - started

            started = time.monotonic()
            unzipped = archive.check_size(entries)
            with _storage_guard(self.settings, needed=unzipped), self.observer.phase("zip"):
                built = archive.write_zip(entries, workdir / "layer.zip")
            timings["zip"] = time.monotonic() - started

            self._check_time("uploading")
            started = time.monotonic()
            key = artifact_key(built.sha256)
            with self.observer.phase("upload"):
                self.store.upload(built.path, key)
            packages = tuple(archive.installed_distributions(entries))
            self.store.write_json(pointer, {"key": key, "unzipped_size": built.unzipped_size,
                                            "packages": list(packages)})
            timings["upload"] = time.monotonic() - started
        wheels.prune(self.settings.cache_root / "wheels", _cache_budget(self.settings))
        return Artifact(key, built.unzipped_size, packages)

    def _entries(self, spec: LayerSpec, workdir: Path) -> list[archive.Entry]:
        engine = builder.Engine(self.settings.cache_root, self.settings.installer, self.settings.allow_sdist,
                                self._index(), lambda: self.remaining_seconds() - RESERVE_SECONDS)
        return engine.entries(spec, workdir)

    def _share(self, spec: LayerSpec, arn: str) -> None:
        for statement in sharing.statements(spec.share_with):
            self.store.share(arn, statement)

    def _drop_duplicates(self, spec: LayerSpec, version_key: str, owner: str, keep: str) -> None:
        """A publish that boto3 retried after a lost answer can leave a twin: delete it."""
        for twin in plan.owned_matches(self.store.versions(spec.layer_name), version_key, owner):
            ref = parse_version_arn(twin.arn)
            if twin.arn != keep and ref is not None:
                log.warning("Deleting %s, a duplicate publish of %s", twin.arn, keep)
                self.store.delete(ref)

    def _check_time(self, step: str) -> None:
        left = self.remaining_seconds()
        if left < PUBLISH_MARGIN_SECONDS:
            raise OutOfTime(f"Stopped before {step}: only {int(left)} s were left before the Lambda timeout. "
                            "Nothing was published; retry, or make the layer smaller.")

    @contextmanager
    def _workdir(self) -> Iterator[Path]:
        self.settings.build_root.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="build-", dir=self.settings.build_root))
        try:
            yield workdir
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _index(self) -> Index:
        codeartifact = self.settings.codeartifact
        if codeartifact is not None:
            url, token = self.store.codeartifact_index(codeartifact.domain, codeartifact.repository,
                                                       codeartifact.owner)
            return Index(url, "aws", token)  # CodeArtifact's pip login uses the user "aws"
        if not self.settings.index_url:
            return Index()
        if not self.settings.index_secret:
            return Index(self.settings.index_url)
        username, password = credentials_from_secret(self.store.secret(self.settings.index_secret))
        return Index(self.settings.index_url, username, password)


@contextmanager
def _storage_guard(settings: Settings, needed: int = 0) -> Iterator[None]:
    """Turn ENOSPC into a reason that names /tmp's size and what the layer needs."""
    try:
        yield
    except StorageFull:
        shutil.rmtree(settings.cache_root, ignore_errors=True)  # only a cache: make room for the next build
        raise
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        total = shutil.disk_usage(settings.work_root).total if settings.work_root.exists() else 0
        shutil.rmtree(settings.cache_root, ignore_errors=True)
        need = f"; the layer needs about {archive.megabytes(needed * 2)} (files and zip)" if needed else ""
        raise StorageFull(f"/tmp is full ({archive.megabytes(total)} of ephemeral storage){need}: "
                          "raise the provider's EphemeralStorageSize.", str(exc)) from None


def _cache_budget(settings: Settings) -> int:
    """The wheel cache may keep a quarter of /tmp between builds."""
    try:
        return shutil.disk_usage(settings.work_root).total // 4
    except OSError:
        return 0


def clean_build_root(settings: Settings) -> None:
    """Remove work directories a killed invocation left behind in this container."""
    if settings.build_root.is_dir():
        for child in settings.build_root.iterdir():
            shutil.rmtree(child, ignore_errors=True)
