"""The provider's decisions carried out, with fakes for the store, the engine and the workers (no AWS,
no installer): each collaborator is passed in, as the Lambda function passes the real ones."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import pytest

from pylayer import archive, identity, plan, sharing
from pylayer.builder import Built
from pylayer.deadline import Deadline
from pylayer.errors import AwsCallFailed, ContentMismatch, InstallFailed, NotLoadable, OutOfTime
from pylayer.index import Index
from pylayer.layerversion import LayerVersion
from pylayer.properties import Defaults, LayerSpec, parse
from pylayer.provider import Provider, Request, artifact_key, spec_pointer_key
from pylayer.settings import Settings
from pylayer.simpleindex import IndexFile
from pylayer.sources import SourceBuilds, SourceJob
from pylayer.target import Target
from pylayer.wheels import DeferredChecks
from pylayer.worker.protocol import JobReport
from pylayer.workers import STACK_WORKERS, Capability, Delivered, Job, Report, StagedLayer

ACCOUNT = "123456789012"
PROPS = {"LayerName": "deps", "Requirements": ["six==1.16.0"]}


@dataclass
class FakeArtifacts:
    bucket: str = "bucket"
    uploads: list[str] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)

    def upload(self, path: Path, key: str) -> bool:
        self.uploads.append(key)
        return True

    def put_file(self, path: Path, key: str) -> None:
        raise AssertionError("no staging in these tests")

    def download(self, key: str, dest: Path) -> None:
        raise AssertionError("no staging in these tests")

    def remove(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.objects.pop(key, None)

    def keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def read_json(self, key: str) -> dict[str, Any] | None:
        return self.objects.get(key)

    def write_json(self, key: str, value: dict[str, Any]) -> None:
        self.objects[key] = value

    def exists(self, key: str) -> bool:
        return key in self.objects or key in self.uploads

    def presign(self, key: str, method: Literal["get", "put"], seconds: int) -> str:
        raise AssertionError("no staging in these tests")

    def claim(self, key: str) -> bool:
        first = key not in self.objects
        self.objects.setdefault(key, {})
        return first


@dataclass
class FakeLayers:
    versions_: dict[int, str] = field(default_factory=dict)  # version -> description
    deleted: list[int] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    shared: list[tuple[str, str]] = field(default_factory=list)
    share_fails: bool = False
    publish_twice: bool = False  # the first publish's answer was lost; boto3 retried it
    codes: dict[int, str] = field(default_factory=dict)  # version -> CodeSha256, as Lambda computes it
    swapped: bool = False  # someone replaced the archives in the bucket: Lambda digests other bytes

    def arn(self, version: int) -> str:
        return f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:deps:{version}"

    def publish(self, spec: LayerSpec, key: str, description: str) -> tuple[LayerVersion, bool]:
        if self.publish_twice:
            self._publish_one(description, key)
        return self._publish_one(description, key), self.publish_twice

    def _publish_one(self, description: str, key: str) -> LayerVersion:
        number = max(self.versions_, default=0) + 1
        self.versions_[number] = description
        self.codes[number] = "b3RoZXI=" if self.swapped else plan.code_sha256(key)  # Lambda's digest of what it read
        self.published.append(description)
        return self._details(number)

    def versions(self, layer_name: str) -> list[LayerVersion]:
        return [self._details(v) for v in self.versions_]

    def get(self, ref: LayerVersion) -> LayerVersion | None:
        return self._details(ref.number) if ref.number in self.versions_ else None

    def delete(self, ref: LayerVersion) -> None:
        self.deleted.append(ref.number)
        self.versions_.pop(ref.number, None)

    def share(self, arn: str, statement: sharing.Statement) -> None:
        if self.share_fails:
            raise AwsCallFailed("AddLayerVersionPermission failed: InvalidParameterValueException.")
        self.shared.append((arn, statement.sid))

    def _details(self, number: int) -> LayerVersion:
        found = LayerVersion.parse(self.arn(number), self.versions_[number], self.codes.get(number, "c2hh"), 10)
        assert found is not None
        return found


@dataclass
class FakeSecrets:
    codeartifact_calls: list[tuple[str, str, str]] = field(default_factory=list)

    def secret(self, secret_id: str) -> str:
        raise AssertionError("no secret configured")

    def codeartifact_index(self, domain: str, repository: str, owner: str = "") -> tuple[str, str]:
        self.codeartifact_calls.append((domain, repository, owner))
        return f"https://{domain}-{owner}.d.codeartifact.us-east-1.amazonaws.com/pypi/{repository}/simple/", "tok"


class NoInvoker:
    def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        raise AssertionError("no workers in these tests")


@dataclass
class FakeStore:
    artifacts: FakeArtifacts = field(default_factory=FakeArtifacts)
    layers: FakeLayers = field(default_factory=FakeLayers)
    secrets: FakeSecrets = field(default_factory=FakeSecrets)
    invoker: NoInvoker = field(default_factory=NoInvoker)


@dataclass
class FakeEngine:
    """What an install would give, minus the installer: one module per build."""

    cache_root: Path = Path("/nonexistent/cache")
    files: int = 1
    builds: list[str] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)

    def lister(self, index: Index, project: str, timeout: float) -> list[IndexFile]:
        raise AssertionError("no index is listed in these tests")

    def build(self, spec: LayerSpec, workdir: Path, index: Index, time_left: Callable[[], float],
              content_key: str, sources: SourceBuilds | None = None, checks: DeferredChecks | None = None) -> Built:
        self.builds.append(spec.layer_name)
        self.indexes.append(index)
        entries = [archive.Entry(f"python/mod{i}.py", 6, False, data=b"x = 1\n") for i in range(self.files)]
        return Built(entries, {t: [] for t in spec.targets})


@dataclass
class FakeWorkers:
    """Runtime workers that compile nothing and report what they are told to."""

    able: Capability | None = field(default_factory=lambda: Capability(True, True, "fake"))
    workers_from = STACK_WORKERS  # as the provider stack's
    library_errors: list[dict[str, str]] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)

    def capability(self, target: Target) -> Capability | None:
        return self.able

    def run(self, staged: StagedLayer, jobs: Sequence[Job], workdir: Path, time_left: Callable[[], float],
            delivered: Delivered | None = None) -> list[Report]:
        self.jobs += jobs
        data = {"libraries": {"errors": self.library_errors, "warnings": []},
                "imports": [{"module": m, "ok": True} for m in jobs[0].imports or jobs[0].distributions] if jobs
                else []}
        return [Report(job, "fake", cast(JobReport, data)) for job in jobs]

    def build_source(self, job: SourceJob, workdir: Path, time_left: Callable[[], float]) -> Path:
        raise AssertionError("no source distribution is built in these tests")


def settings(tmp_path: Path, **changes: Any) -> Settings:
    base = Settings("bucket", "us-east-1", tmp_path, Defaults("python3.12", "arm64"))
    return Settings(**{**base.__dict__, **changes})


def provider(store: FakeStore, tmp_path: Path, engine: FakeEngine | None = None, remaining: float = 900.0,
             workers: FakeWorkers | None = None) -> Provider:
    return Provider(settings(tmp_path), store, engine or FakeEngine(), workers or FakeWorkers(),
                    Deadline(lambda: remaining), account=ACCOUNT)


def request(physical_id: str | None = None, logical_id: str = "Layer", **props: object) -> Request:
    return Request({**PROPS, **props}, "arn:aws:cloudformation:us-east-1:1:stack/s/1", logical_id, physical_id)


def seed(store: FakeStore, prov: Provider, req: Request, version: int, unzipped: int = 123,
         bytecode: identity.BytecodeState = "included", archived: bool = True) -> str:
    """A version as a previous build of ``req`` would have published it (``archived``: its archive and spec
    pointer still in the bucket)."""
    spec = parse(req.properties, prov.settings.defaults)
    key = identity.version_key(spec, prov.settings.build_options)
    store.layers.versions_[version] = identity.describe("", identity.Marker(key, req.owner, unzipped, bytecode))
    # ... from the archive that build left, recorded under its content key.
    if not archived:
        return store.layers.arn(version)
    archive_key = artifact_key(hashlib.sha256(f"{req.owner}{version}".encode()).hexdigest())
    store.artifacts.uploads.append(archive_key)
    store.artifacts.objects[spec_pointer_key(identity.content_key(spec, prov.settings.build_options))] = {
        "key": archive_key, "unzipped_size": unzipped, "bytecode": bytecode, "proof": "imported"}
    store.layers.codes[version] = plan.code_sha256(archive_key)
    return store.layers.arn(version)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


def test_a_retried_create_answers_with_the_version_it_already_published(store: FakeStore, tmp_path: Path) -> None:
    prov = provider(store, tmp_path)
    arn = seed(store, prov, request(), 1, unzipped=4242, bytecode="partial")

    outcome = prov.create(request())

    assert outcome.reused
    assert outcome.physical_id == arn
    assert outcome.data["UnzippedSize"] == "4242"
    assert outcome.data["Bytecode"] == "partial"
    assert store.layers.published == []


def test_a_version_of_another_resource_is_never_adopted(store: FakeStore, tmp_path: Path) -> None:
    engine = FakeEngine()
    prov = provider(store, tmp_path, engine)
    theirs = seed(store, prov, request(logical_id="Other"), 1, archived=False)

    outcome = prov.create(request())

    assert engine.builds == ["deps"]
    assert outcome.physical_id != theirs


def test_delete_skips_versions_of_other_resources_accounts_and_regions(store: FakeStore, tmp_path: Path) -> None:
    prov = provider(store, tmp_path)
    theirs = seed(store, prov, request(logical_id="Other"), 1)

    assert prov.delete(request(physical_id=theirs)) is False
    assert prov.delete(request(physical_id=theirs.replace(ACCOUNT, "999999999999"))) is False
    assert prov.delete(request(physical_id=theirs.replace("us-east-1", "eu-west-1"))) is False
    assert store.layers.deleted == []


def test_delete_leaves_a_version_this_provider_did_not_publish(store: FakeStore, tmp_path: Path) -> None:
    prov = provider(store, tmp_path)
    store.layers.versions_[1] = "published by another team, by hand"

    assert prov.delete(request(physical_id=store.layers.arn(1))) is False
    assert store.layers.deleted == []


def test_delete_removes_its_own_version_once(store: FakeStore, tmp_path: Path) -> None:
    prov = provider(store, tmp_path)
    mine = seed(store, prov, request(), 1)

    assert prov.delete(request(physical_id=mine)) is True
    assert prov.delete(request(physical_id=mine)) is False
    assert store.layers.deleted == [1]


def test_nothing_is_published_when_too_little_time_is_left(store: FakeStore, tmp_path: Path) -> None:
    prov = provider(store, tmp_path, remaining=15.0)

    with pytest.raises(OutOfTime) as caught:
        prov.create(request())

    assert caught.value.reason.startswith("Stopped before uploading: only 15 s were left")
    assert store.layers.published == []
    assert list((tmp_path / "builds").iterdir()) == []


def test_a_duplicate_publish_is_deleted(store: FakeStore, tmp_path: Path) -> None:
    prov = provider(store, tmp_path)
    store.layers.publish_twice = True

    outcome = prov.create(request())

    assert outcome.physical_id == store.layers.arn(2)
    assert store.layers.deleted == [1]
    assert list(store.layers.versions_) == [2]


def test_a_spec_built_before_reuses_its_archive_not_a_version(store: FakeStore, tmp_path: Path) -> None:
    engine = FakeEngine()
    prov = provider(store, tmp_path, engine)

    first = prov.create(request(logical_id="First"))
    second = prov.create(request(logical_id="Second"))  # same content, another resource

    assert engine.builds == ["deps"]  # installed once
    assert first.physical_id != second.physical_id  # but never the other resource's version
    assert len(store.layers.published) == 2
    assert len(set(store.artifacts.uploads)) == 1
    assert second.data["Bytecode"] == first.data["Bytecode"]


def test_with_no_archive_recorded_the_build_does_not_wait_for_the_version_listing(store: FakeStore,
                                                                                  tmp_path: Path) -> None:
    """Adopting a version needs the archive its content was built into: without one the listing can only
    lead to a build, so the build starts at once and a listing that fails fails nothing."""
    listed = threading.Event()

    def failing_listing(layer_name: str) -> list[LayerVersion]:
        assert listed.wait(10)  # answers only once the build has published
        raise AwsCallFailed("ListLayerVersions for deps failed: AccessDeniedException.")

    original_publish = store.layers.publish

    def publish(spec: LayerSpec, key: str, description: str) -> tuple[LayerVersion, bool]:
        listed.set()
        return original_publish(spec, key, description)

    store.layers.versions = failing_listing  # type: ignore[method-assign]
    store.layers.publish = publish  # type: ignore[method-assign]

    outcome = provider(store, tmp_path).create(request())

    assert not outcome.reused and len(store.layers.published) == 1


def test_with_an_archive_recorded_a_failed_version_listing_fails_the_request(store: FakeStore,
                                                                             tmp_path: Path) -> None:
    prov = provider(store, tmp_path)
    seed(store, prov, request(), 1)

    def failing_listing(layer_name: str) -> list[LayerVersion]:
        raise AwsCallFailed("ListLayerVersions for deps failed: AccessDeniedException.")

    store.layers.versions = failing_listing  # type: ignore[method-assign]
    with pytest.raises(AwsCallFailed, match="ListLayerVersions"):
        prov.create(request())
    assert store.layers.published == []


def test_an_expired_archive_is_rebuilt(store: FakeStore, tmp_path: Path) -> None:
    engine = FakeEngine()
    prov = provider(store, tmp_path, engine)
    prov.create(request(logical_id="First"))
    store.artifacts.uploads.clear()  # the lifecycle rule expired the zip; the pointer is still there

    prov.create(request(logical_id="Second"))

    assert engine.builds == ["deps", "deps"]


def test_an_archive_built_without_a_worker_is_rebuilt_once_there_is_one(store: FakeStore, tmp_path: Path) -> None:
    engine = FakeEngine()
    without = provider(store, tmp_path, engine, workers=FakeWorkers(able=None))
    assert without.create(request(logical_id="First")).data["Bytecode"] == "omitted"
    assert without.create(request(logical_id="Second")).data["Bytecode"] == "omitted"
    assert engine.builds == ["deps"]  # no worker still: the archive is as good as a new build

    with_worker = provider(store, tmp_path, engine, workers=FakeWorkers())
    with_worker.create(request(logical_id="Third"))

    assert engine.builds == ["deps", "deps"]  # a worker now: built again, for the bytecode


def test_every_new_version_is_shared_and_a_retry_shares_again(store: FakeStore, tmp_path: Path) -> None:
    prov = provider(store, tmp_path)
    share: dict[str, Any] = {"ShareWith": ["111122223333", "o-abcdefghij"]}

    first = prov.create(request(**share))
    again = prov.create(request(**share))  # the same event, delivered twice

    assert again.physical_id == first.physical_id
    sids = ["pylayer-account-111122223333", "pylayer-organization-o-abcdefghij"]
    assert store.layers.shared == [(first.physical_id, sid) for sid in sids] * 2


def test_a_version_that_cannot_be_shared_is_deleted_not_leaked(store: FakeStore, tmp_path: Path) -> None:
    prov = provider(store, tmp_path)
    store.layers.share_fails = True

    with pytest.raises(AwsCallFailed):
        prov.create(request(ShareWith=["111122223333"]))

    assert store.layers.published and store.layers.versions_ == {}


def test_a_codeartifact_repository_is_the_index_with_a_token_fetched_at_build_time(
        store: FakeStore, tmp_path: Path) -> None:
    engine = FakeEngine()
    configured = Settings.from_env({"LAYER_BUCKET": "b", "CODEARTIFACT_DOMAIN": "corp",
                                    "CODEARTIFACT_REPOSITORY": "pypi-store", "CODEARTIFACT_DOMAIN_OWNER": ACCOUNT,
                                    "PYLAYER_WORK_ROOT": str(tmp_path)})
    prov = Provider(configured, store, engine, FakeWorkers(), account=ACCOUNT)

    prov.create(request())

    assert store.secrets.codeartifact_calls == [("corp", "pypi-store", ACCOUNT)]
    index = engine.indexes[0]
    assert index.url.endswith("/pypi/pypi-store/simple/")
    assert (index.username, index.password) == ("aws", "tok")
    assert configured.build_options.index_url == f"codeartifact:{ACCOUNT}/corp/pypi-store"


def test_a_layer_that_would_not_load_is_never_uploaded_or_published(store: FakeStore, tmp_path: Path) -> None:
    workers = FakeWorkers(library_errors=[{"path": "python/cv2/cv2.abi3.so", "what": "missing",
                                           "detail": "libGL.so.1", "loaded_by": "python/cv2/cv2.abi3.so"}])
    prov = provider(store, tmp_path, workers=workers)

    with pytest.raises(NotLoadable, match=r"cv2/cv2\.abi3\.so needs libGL\.so\.1"):
        prov.create(request())

    assert store.artifacts.uploads == [] and store.layers.published == []
    assert list((tmp_path / "builds").iterdir()) == []


def test_each_runtime_is_sent_to_its_worker_with_the_import_check(store: FakeStore, tmp_path: Path) -> None:
    workers = FakeWorkers()
    prov = provider(store, tmp_path, workers=workers)

    outcome = prov.create(request(CompatibleRuntimes=["python3.13", "python3.12"], ImportCheck=["six"]))

    assert [(j.target.runtime, j.compile, j.imports) for j in workers.jobs] == [
        ("python3.12", True, ("six",)), ("python3.13", True, ("six",))]
    assert outcome.data["Bytecode"] == "omitted"  # the fake compiled nothing


def test_no_worker_means_no_bytecode_with_auto_and_a_refusal_with_true(store: FakeStore, tmp_path: Path) -> None:
    workers = FakeWorkers(able=None)
    prov = provider(store, tmp_path, workers=workers)

    assert prov.create(request()).data["Bytecode"] == "omitted"
    with pytest.raises(NotLoadable, match=r"Bytecode is true, but there is no python3\.12 arm64 worker to "
                                          r"compile for it \(the provider's WorkerRuntimes"):
        prov.create(request(Bytecode="true"))
    with pytest.raises(NotLoadable, match=r"ImportCheck needs a python3\.12 arm64 worker to import on, "
                                          r"and there is none \(the provider's"):
        prov.create(request(ImportCheck=["six"]))


def test_requirements_whose_markers_exclude_the_target_fail_clearly(store: FakeStore, tmp_path: Path) -> None:
    class Empty(FakeEngine):
        def build(self, spec: LayerSpec, workdir: Path, index: Index, time_left: Callable[[], float],
                  content_key: str, sources: SourceBuilds | None = None,
                  checks: DeferredChecks | None = None) -> Built:
            raise InstallFailed(f"Nothing to install for {spec.describe()}: the environment markers exclude it.")

    prov = provider(store, tmp_path, Empty())

    with pytest.raises(InstallFailed, match=r"Nothing to install for python3\.12 arm64"):
        prov.create(request())

    assert store.layers.published == []


def test_a_version_a_dead_update_left_is_deleted_at_the_resources_next_request(store: FakeStore,
                                                                              tmp_path: Path) -> None:
    from pylayer.answers import orphan_key

    prov = provider(store, tmp_path)
    current = seed(store, prov, request(), 1)
    store.layers.versions_[2] = identity.describe("", identity.Marker("f" * 16, request().owner, 9, "included"))
    theirs = seed(store, prov, request(logical_id="Other"), 3)
    # The reaper's records: an Update of this resource published version 2 and died; a record naming another
    # resource's version must not make the provider delete it.
    store.artifacts.objects[orphan_key(request().owner, store.layers.arn(2))] = {"arn": store.layers.arn(2)}
    store.artifacts.objects[orphan_key(request().owner, theirs)] = {"arn": theirs}

    prov.update(request(physical_id=current))  # nothing changed: answered with version 1

    assert store.layers.deleted == [2]
    assert 3 in store.layers.versions_
    assert not [k for k in store.artifacts.objects if k.startswith("orphans/")]


def test_a_version_reused_again_is_no_longer_an_orphan(store: FakeStore, tmp_path: Path) -> None:
    from pylayer.answers import orphan_key

    prov = provider(store, tmp_path)
    arn = seed(store, prov, request(), 1)
    store.artifacts.objects[orphan_key(request().owner, arn)] = {"arn": arn}

    outcome = prov.update(request(physical_id=arn))  # the request names it: kept, and its record goes

    assert outcome.physical_id == arn and store.layers.deleted == []
    assert not [k for k in store.artifacts.objects if k.startswith("orphans/")]


def test_a_copied_marker_does_not_make_a_version_adoptable(store: FakeStore, tmp_path: Path) -> None:
    prov = provider(store, tmp_path)
    ours = seed(store, prov, request(), 1)
    store.layers.codes[1] = "b3RoZXI="  # the marker copied onto a version with other content

    outcome = prov.create(request())

    assert outcome.physical_id != ours and not outcome.reused
    assert len(store.layers.published) == 1  # the recorded archive published again instead


def test_a_version_lambda_published_from_other_bytes_is_deleted_and_fails(store: FakeStore, tmp_path: Path) -> None:
    prov = provider(store, tmp_path)
    store.layers.swapped = True

    with pytest.raises(ContentMismatch, match="is not the one this provider built"):
        prov.create(request())

    assert store.layers.deleted == [1] and store.layers.versions_ == {}
