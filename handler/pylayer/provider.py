"""What Create, Update and Delete do: gather the facts, ask ``plan``, carry the plan out.

Collaborators are passed in: the store (artifacts, layer versions, index secrets, the invoker), the build engine, the
runtime workers, the workspace in /tmp, the deadline and an observer. Nothing
here decides what to do (``plan``) or how a layer is made (``builder``,
``verify``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from . import archive, identity, interpreters, plan, sharing, wheels
from .ahead import ArchiveAhead, Cancelled, Made
from .answers import ORPHANS, Journal, deleted_key, orphan_key
from .builder import Built, Lister
from .builder import Engine as WheelEngine
from .credentials import Secrets, index_for
from .deadline import Deadline
from .errors import ContentMismatch, OutOfTime, ProviderError
from .identity import Marker
from .index import Index
from .layerversion import LayerVersion
from .memberchecks import MemberChecks
from .observe import Observer, Quiet
from .progress import Logged
from .properties import LayerSpec, parse
from .settings import Settings
from .sources import SourceBuilds
from .target import Target
from .verify import Verified, verify
from .workers import Invoker, LambdaWorkers, LocalWorkers, RuntimeSite, Staging, StaticCheck, Workers
from .workspace import Workspace

log = logging.getLogger(__name__)
# How long a failed build waits for the layer's zip being made ahead before it answers.
DISCARD_WAIT_SECONDS = 30.0


class Engine(Protocol):
    """What the provider needs of the build engine (pylayer.builder.Engine)."""

    @property
    def cache_root(self) -> Path: ...
    @property
    def lister(self) -> Lister: ...
    def build(self, spec: LayerSpec, workdir: Path, index: Index, time_left: Callable[[], float],
              content_key: str, sources: SourceBuilds | None = None,
              checks: wheels.DeferredChecks | None = None) -> Built: ...


class ArtifactStore(Staging, Protocol):
    """The artifact bucket: archives, the workers' staging, and the provider's records."""

    def upload(self, path: Path, key: str) -> bool: ...
    def read_json(self, key: str) -> dict[str, Any] | None: ...
    def write_json(self, key: str, value: dict[str, Any]) -> None: ...
    def exists(self, key: str) -> bool: ...
    def keys(self, prefix: str) -> list[str]: ...
    def claim(self, key: str) -> bool: ...


class VersionStore(Protocol):
    """Lambda's layer versions."""

    def publish(self, spec: LayerSpec, key: str, description: str) -> tuple[LayerVersion, bool]: ...
    def versions(self, layer_name: str) -> list[LayerVersion]: ...
    def get(self, ref: LayerVersion) -> LayerVersion | None: ...
    def delete(self, ref: LayerVersion) -> None: ...
    def share(self, arn: str, statement: sharing.Statement) -> None: ...


class Store(Protocol):
    """The provider's seams to AWS (pylayer.store.LayerStore), one per kind of caller."""

    @property
    def artifacts(self) -> ArtifactStore: ...
    @property
    def layers(self) -> VersionStore: ...
    @property
    def secrets(self) -> Secrets: ...
    @property
    def invoker(self) -> Invoker: ...


@dataclass(frozen=True)
class Request:
    """What the core needs of a CloudFormation event."""

    properties: object
    stack_id: str
    logical_id: str
    physical_id: str | None = None

    @property
    def owner(self) -> str:
        return identity.owner_key(self.stack_id, self.logical_id)


@dataclass(frozen=True)
class Outcome:
    physical_id: str
    data: dict[str, str]
    reused: bool = False
    packages: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)


def spec_pointer_key(content_key: str) -> str:
    """Names the archive built from one content spec, so any later build of it reuses the archive."""
    return f"specs/{content_key}.json"


def artifact_key(archive_sha256: str) -> str:
    """Content-addressed: the same bytes always land under the same key."""
    return f"layers/sha256/{archive_sha256}.zip"


def attributes(version: LayerVersion, unzipped_size: int, bytecode: str, proof: str) -> dict[str, str]:
    """Fn::GetAtt values. Strings, like everything CloudFormation reads."""
    return {
        "LayerVersionArn": version.arn,
        "LayerArn": version.layer_arn,
        "Version": str(version.number),
        "CodeSha256": version.code_sha256,
        "CodeSize": str(version.code_size),
        "UnzippedSize": str(unzipped_size),
        "Bytecode": bytecode or "unknown",
        "Proof": proof or "none",
    }


class Provider:
    def __init__(self, settings: Settings, store: Store, engine: Engine, workers: Workers,
                 deadline: Deadline | None = None, account: str | None = None,
                 observer: Observer | None = None, static: Workers | None = None,
                 journal: Journal | None = None) -> None:
        self.settings = settings
        self.store = store
        self.engine = engine
        self.workers = workers
        self.static = static or StaticCheck()
        self.deadline = deadline or Deadline()
        self.account = account
        self.observer = observer or Quiet()
        self.journal = journal or Journal(None, {})
        self.workspace = Workspace(settings.work_root, settings.cache_root)

    @classmethod
    def from_settings(cls, settings: Settings, store: Store, remaining_seconds: Callable[[], float],
                      account: str | None = None, observer: Observer | None = None,
                      journal: Journal | None = None) -> Provider:
        """The provider as the Lambda function runs it: workers by the settings (see ``workers_for``)."""
        engine = WheelEngine(settings.cache_root, progress=Logged())  # a log line per stage, with its seconds
        return cls(settings, store, engine, workers_for(settings, store, engine), Deadline(remaining_seconds),
                   account, observer, journal=journal)

    def create(self, request: Request) -> Outcome:
        return self.apply(request)

    def update(self, request: Request) -> Outcome:
        # The old version stays: CloudFormation deletes it in cleanup, and needs it on rollback.
        return self.apply(request)

    # ------------------------------------------------------------------ Create / Update

    def apply(self, request: Request) -> Outcome:
        started = time.time()  # a wall clock: compared with a Delete's, perhaps in another container
        outcome = self._apply(request)
        if self._deleted_since(request.owner, started):
            # CloudFormation gave up on this request (its ServiceTimeout) and deleted the resource meanwhile:
            # nothing will ever reference, or delete, what this request published.
            if request.physical_id is None or not outcome.reused:
                named = LayerVersion.parse(outcome.physical_id)
                if named is not None:
                    self.store.layers.delete(named)
                    log.warning("Deleted %s: CloudFormation deleted the resource while it was being built",
                                outcome.physical_id)
            raise OutOfTime("CloudFormation deleted this resource while it was being built (its ServiceTimeout "
                            "ran out): the version it published was deleted again. Raise ServiceTimeout.")
        return outcome

    def _deleted_since(self, owner: str, started: float) -> bool:
        if not self.settings.bucket:
            return False
        try:
            found = self.store.artifacts.read_json(deleted_key(owner)) or {}
        except ProviderError:
            log.warning("Could not read whether this resource was deleted meanwhile", exc_info=True)
            return False
        at = found.get("at")
        return isinstance(at, (int, float)) and at >= started

    def _apply(self, request: Request) -> Outcome:
        spec = parse(request.properties, self.settings.defaults)
        self._sweep_orphans(request)
        options = self.settings.build_options
        version_key = identity.version_key(spec, options)
        content_key = identity.content_key(spec, options)
        pointer = spec_pointer_key(content_key)
        with ThreadPoolExecutor(max_workers=1) as pool:
            # The version listing runs beside the archive lookup. It serves only to adopt a version, which
            # needs a recorded archive: without one the build starts at once, and the listing (which also
            # makes the Lambda client the publish needs) ends beside it.
            listing = pool.submit(self.store.layers.versions, spec.layer_name)
            artifact = self._reusable_artifact(pointer) if self.settings.bucket else None
            if self.settings.bucket and artifact is None:
                return self._build_and_publish(spec, content_key, pointer, version_key, request.owner, listing)
            versions = listing.result()
        recorded = artifact  # what this content was built into: a version is adopted only if it holds that
        if artifact is not None and self._compiles_now(spec, artifact.uncompiled):
            log.info("Not reusing the archive %s: it has no bytecode for %s, which now has a worker", artifact.key,
                     ", ".join(artifact.uncompiled))
            artifact = None
        if artifact is not None and self._imports_now(spec, artifact.proof):
            log.info("Not reusing the archive %s: it was not imported (Proof %s), and a worker now can",
                     artifact.key, artifact.proof or "none")
            artifact = None
        steps = plan.plan_apply(versions, version_key, request.owner, request.physical_id, artifact)
        log.info("Plan: %s", steps.describe())
        for step in steps.steps:
            if isinstance(step, plan.Reuse):
                reused = self._reuse(spec, step.version, request.owner, recorded)
                if reused is not None:
                    return reused
                continue
            if isinstance(step, plan.Republish):
                self.settings.check_build()
                log.info("Reusing the archive %s built before from the same spec", step.artifact.key)
                self.observer.measure("ArchiveReused", 1, "Count")
                return self._publish(spec, step.artifact, version_key, request.owner, {})
            return self._build_and_publish(spec, content_key, pointer, version_key, request.owner)
        raise AssertionError("a plan always ends with Build")

    def _build_and_publish(self, spec: LayerSpec, content_key: str, pointer: str, version_key: str, owner: str,
                           listing: Future[list[LayerVersion]] | None = None) -> Outcome:
        if listing is not None:
            log.info("Plan: Build (no archive is recorded for this content)")
        self.settings.check_build()
        timings: dict[str, float] = {}
        built = self._build(spec, content_key, pointer, timings)
        self.observer.measure("ArchiveReused", 0, "Count")
        outcome = self._publish(spec, built, version_key, owner, timings)
        failed = listing.exception() if listing is not None else None  # ended long since
        if failed is not None:  # its answer was not needed: a failure fails nothing, but is told
            log.warning("Listing the layer's versions failed (not needed for this build): %s", failed)
        return outcome

    def _compiles_now(self, spec: LayerSpec, uncompiled: tuple[str, ...]) -> bool:
        """Whether a worker now compiles for a runtime an archive was built without bytecode for."""
        if spec.bytecode == "false":
            return False
        # uncompiled comes from the bucket: only this spec's own runtimes are taken from it.
        able = (self.workers.capability(Target(runtime, spec.architecture)) for runtime in uncompiled
                if runtime in spec.runtimes)
        return any(a is not None and a.compile for a in able)

    def _imports_now(self, spec: LayerSpec, proof: str) -> bool:
        """Whether ImportCheck auto can now import a layer that an earlier build could only check statically."""
        if proof == "imported" or spec.import_mode != "auto":
            return False
        return any((able := self.workers.capability(t)) is not None and able.imports for t in spec.targets)

    def _reuse(self, spec: LayerSpec, chosen: LayerVersion, owner: str, recorded: plan.Artifact | None
               ) -> Outcome | None:
        details = self.store.layers.get(chosen)
        marker = identity.read_marker(details.description) if details else None
        if details is None or marker is None:
            return None  # gone since the listing: go on with the plan
        if self.settings.bucket:
            # A marker can be copied onto any version by whoever may publish the layer's name: adopt a
            # version only when its content is the archive this content key was built into.
            expected = plan.code_sha256(recorded.key) if recorded is not None else ""
            if not expected or details.code_sha256 != expected:
                log.warning("Not adopting %s: its content (CodeSha256 %s) is not the archive recorded for this "
                            "spec (%s)", details.arn, details.code_sha256 or "-", expected or "none recorded")
                return None
        log.info("Reusing %s: this resource already published it from the same spec", details.arn)
        self._forget_orphan(details.arn, owner)  # referenced again: no longer the reaper's orphan
        self._share(spec, details.arn)  # a retry whose first attempt died before sharing
        self.observer.measure("VersionReused", 1, "Count")
        return Outcome(details.arn, attributes(details, marker.unzipped_size, marker.bytecode, marker.proof),
                       reused=True)

    def _reusable_artifact(self, pointer: str) -> plan.Artifact | None:
        """The archive a build of the same content left in the bucket, if it is still there."""
        found = self.store.artifacts.read_json(pointer)
        if not found or not isinstance(found.get("key"), str) or not isinstance(found.get("unzipped_size"), int):
            return None
        if not self.store.artifacts.exists(found["key"]):
            return None  # expired by the bucket's lifecycle rule
        packages = tuple(str(p) for p in found.get("packages", []) if isinstance(p, str))
        uncompiled = tuple(str(r) for r in found.get("uncompiled", []) if isinstance(r, str))
        return plan.Artifact(found["key"], found["unzipped_size"], packages, identity.known_bytecode(
            found.get("bytecode")), uncompiled, identity.known_proof(found.get("proof")))

    def _build(self, spec: LayerSpec, content_key: str, pointer: str, timings: dict[str, float]) -> plan.Artifact:
        with self.workspace.workdir() as workdir, self.workspace.guard():
            checks = MemberChecks(workdir / "unverified")
            try:
                verified, zipped, key, packages = self._build_in(spec, content_key, workdir, timings, checks)
                checks.wait()  # every new wheel's members are what they declare: only now is anything recorded
            except BaseException:
                checks.wait()  # a wheel that lies is the cause: its reason, not the worker's that read it
                raise
            finally:
                checks.close()
            started = time.monotonic()
            self.store.artifacts.write_json(pointer, {
                "key": key, "unzipped_size": zipped.unzipped_size, "packages": list(packages),
                "bytecode": verified.bytecode, "uncompiled": list(verified.uncompiled), "proof": verified.proof})
            timings["upload"] = timings.get("upload", 0.0) + time.monotonic() - started
        wheels.prune(self.settings.cache_root / "wheels", self.workspace.cache_budget())
        return plan.Artifact(key, zipped.unzipped_size, packages, verified.bytecode, verified.uncompiled,
                             verified.proof)

    def _build_in(self, spec: LayerSpec, content_key: str, workdir: Path, timings: dict[str, float],
                  checks: MemberChecks) -> tuple[Verified, archive.Archive, str, tuple[str, ...]]:
        """Install, verify on the runtimes, zip and upload: the archive, its key and the packages in it, not
        yet recorded."""
        started = time.monotonic()
        index = index_for(self.settings, self.store.secrets)
        sources = self._sources(spec, workdir) if self.settings.allow_sdist else None
        with self.observer.phase("install"):
            built = self.engine.build(spec, workdir, index, self.deadline.for_work, content_key, sources, checks)
        _took(timings, "install", started)

        started = time.monotonic()
        needed = archive.check_size(built.entries)
        ahead = ArchiveAhead(lambda staged, entries, cancelled: self._zip_and_upload(staged, entries, workdir,
                                                                                    cancelled))
        try:
            with self.workspace.guard(needed=needed), self.observer.phase("verify"):
                verified = verify(spec, built.entries, built.owners, self.workers, workdir,
                                  self.deadline.for_work, self.static, Logged(), ahead.start)
            log.info("Bytecode %s: %s", verified.bytecode, verified.bytecode_note)
            _took(timings, "verify", started)
            made = ahead.take(verified.entries)
        except BaseException:
            ahead.discard(min(self.deadline.for_work(), DISCARD_WAIT_SECONDS))
            raise
        finally:
            ahead.close()

        if made is not None:
            log.info("The layer's zip was written and uploaded while the workers imported")
            timings.update(zip=0.0, upload=0.0)
            return verified, made.archive, made.key, built.packages
        zipped = self._zip(verified, workdir, timings)
        key = artifact_key(zipped.sha256)
        self.deadline.check("uploading")
        started = time.monotonic()
        with self.observer.phase("upload"):
            self.store.artifacts.upload(zipped.path, key)
        _took(timings, "upload", started)
        return verified, zipped, key, built.packages

    def _zip_and_upload(self, staged: archive.Archive, entries: list[archive.Entry], workdir: Path,
                        cancelled: threading.Event) -> Made:
        """The layer's zip with these entries, in the bucket under its digest (made ahead, beside the imports);
        not uploaded once the layer failed (``cancelled``)."""
        self.deadline.check("writing the layer's zip")
        archive.check_size(entries)
        zipped = _layer_zip(staged, entries, workdir)
        key = artifact_key(zipped.sha256)
        if cancelled.is_set():
            raise Cancelled
        self.deadline.check("uploading")
        return Made(zipped, key, self.store.artifacts.upload(zipped.path, key))

    def _zip(self, verified: Verified, workdir: Path, timings: dict[str, float]) -> archive.Archive:
        started = time.monotonic()
        unzipped = archive.check_size(verified.entries)
        if verified.unchanged:
            zipped = verified.staged
        else:
            with self.workspace.guard(needed=unzipped), self.observer.phase("zip"):
                zipped = _layer_zip(verified.staged, verified.entries, workdir)
        _took(timings, "zip", started)
        return zipped

    def _sources(self, spec: LayerSpec, workdir: Path) -> SourceBuilds:
        """Source distributions, built by the worker of the first runtime that can run code (never here)."""
        able = [t for t in spec.targets if (c := self.workers.capability(t)) is not None and c.imports]
        builder = self.workers.build_source if able else self.static.build_source
        return SourceBuilds(builder, (able or list(spec.targets))[0], workdir, self.settings.cache_root / "wheels",
                            self.engine.lister)

    def _publish(self, spec: LayerSpec, artifact: plan.Artifact, version_key: str, owner: str,
                 timings: dict[str, float]) -> Outcome:
        self.deadline.check("publishing")
        started = time.monotonic()
        marker = Marker(version_key, owner, artifact.unzipped_size, artifact.bytecode, artifact.proof)
        with self.observer.phase("publish"):
            described = identity.describe(spec.description, marker)
            published, retried = self.store.layers.publish(spec, artifact.key, described)
        self.journal.published(published.arn)  # before anything else can fail: the reaper can name it
        try:
            expected = plan.code_sha256(artifact.key)
            if expected and published.code_sha256 != expected:
                raise ContentMismatch(
                    f"Lambda published {artifact.key} with CodeSha256 {published.code_sha256 or '-'}, not "
                    f"{expected}: the archive in the bucket is not the one this provider built. The version was "
                    "deleted; see docs/security.md.")
            if retried:
                self._drop_duplicates(spec, version_key, owner, keep=published.arn)
            self._share(spec, published.arn)
        except Exception:
            # Not answered with, so never deleted by CloudFormation: delete it here.
            self.store.layers.delete(published)
            raise
        _took(timings, "publish", started)
        self.observer.measure("BuildSeconds", sum(timings.values()), "Seconds")
        self.observer.measure("UnzippedBytes", artifact.unzipped_size, "Bytes")
        self.observer.measure("ZipBytes", published.code_size, "Bytes")
        log.info("Published %s: %d bytes zipped, %d unzipped, bytecode %s, proof %s, %s", published.arn,
                 published.code_size, artifact.unzipped_size, artifact.bytecode, artifact.proof or "none",
                 ", ".join(artifact.packages),
                 extra={"timings": {k: round(v, 3) for k, v in timings.items()}})
        return Outcome(published.arn, attributes(published, artifact.unzipped_size, artifact.bytecode, artifact.proof),
                       False,
                       artifact.packages, timings)

    def _share(self, spec: LayerSpec, arn: str) -> None:
        for statement in sharing.statements(spec.share_with):
            self.store.layers.share(arn, statement)

    def _drop_duplicates(self, spec: LayerSpec, version_key: str, owner: str, keep: str) -> None:
        """A publish that boto3 retried after a lost answer can leave a twin: delete it."""
        for twin in plan.owned_matches(self.store.layers.versions(spec.layer_name), version_key, owner):
            if twin.arn != keep:
                log.warning("Deleting %s, a duplicate publish of %s", twin.arn, keep)
                self.store.layers.delete(twin)

    # ------------------------------------------------------------------ what a dead invocation left

    def _sweep_orphans(self, request: Request) -> None:
        """Delete the versions the reaper recorded for this resource: published by an Update that died, so
        never answered with, never referenced. Best effort: the next request sweeps again."""
        if not self.settings.bucket:
            return
        try:
            for key in self.store.artifacts.keys(f"{ORPHANS}{request.owner}/"):
                arn = str((self.store.artifacts.read_json(key) or {}).get("arn", ""))
                named = LayerVersion.parse(arn)
                found = self.store.layers.get(named) if named is not None and arn != request.physical_id else None
                decision = plan.plan_delete(named, found, request.owner, self.account, self.settings.region)
                if decision.delete and found is not None:
                    self.store.layers.delete(found)
                    log.warning("Deleted %s, left by an invocation that died before answering", arn)
                self.store.artifacts.remove([key])
        except ProviderError:
            log.warning("Could not sweep the versions dead invocations left", exc_info=True)

    def _forget_orphan(self, arn: str, owner: str) -> None:
        if self.settings.bucket:
            try:
                self.store.artifacts.remove([orphan_key(owner, arn)])
            except ProviderError:
                log.warning("Could not clear the orphan record of %s", arn, exc_info=True)

    # ------------------------------------------------------------------ Delete

    def delete(self, request: Request) -> bool:
        """Delete the version the id names if this resource published it. False if nothing was deleted."""
        if self.settings.bucket:
            # First: a Create of this resource still building (CloudFormation gave up on it) reads this.
            try:
                self.store.artifacts.write_json(deleted_key(request.owner), {"at": time.time()})
            except ProviderError:
                log.warning("Could not record the Delete for a Create that may still be building", exc_info=True)
        named = LayerVersion.parse(request.physical_id)
        own = named is not None and (not self.account or named.account == self.account) and \
            (not self.settings.region or named.region == self.settings.region)
        found = self.store.layers.get(named) if named is not None and own else None
        decision = plan.plan_delete(named, found, request.owner, self.account, self.settings.region)
        if not decision.delete or found is None:
            log.info("Not deleting %s: %s", request.physical_id, decision.why)
            return False
        self.store.layers.delete(found)
        log.info("Deleted layer version %s", found.arn)
        self.observer.measure("VersionsDeleted", 1, "Count")
        return True


def _layer_zip(staged: archive.Archive, entries: list[archive.Entry], workdir: Path) -> archive.Archive:
    """The layer's zip: the staged zip's entries are its first ones (``verify.with_bytecode``), so only what
    follows them is written."""
    return archive.append(staged, entries[staged.file_count:], workdir / "layer.zip")


def _took(timings: dict[str, float], stage: str, started: float) -> None:
    """A step's seconds, in the timings the answer's log line sums up, and in a log line of its own now."""
    timings[stage] = time.monotonic() - started
    log.info("Stage %s: %.2f s", stage, timings[stage], extra={"stage": stage, "seconds": round(timings[stage], 3)})


def workers_for(settings: Settings, store: Store, engine: Engine) -> Workers:
    """The provider stack's worker functions in AWS; local interpreters elsewhere; in a Lambda function
    without workers, none (the static library check only: package code never runs in the provider)."""
    if settings.worker_functions:
        return LambdaWorkers(store.artifacts, store.invoker, settings.worker_functions)
    if settings.in_lambda:
        return StaticCheck()
    from . import imageroot
    from .install import find_uv

    return LocalWorkers(interpreters.shared(_optional(find_uv)), RuntimeSite(engine.cache_root / "runtime", find_uv),
                        image_root=imageroot.find())


def _optional(find: Callable[[], str]) -> str | None:
    try:
        return find()
    except Exception:
        return None
