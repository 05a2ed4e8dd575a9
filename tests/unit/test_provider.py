"""The provider's decisions, with a fake store (no AWS, no installer)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pylayer import archive, plan, sharing
from pylayer.errors import AwsCallFailed, InstallFailed, OutOfTime
from pylayer.properties import Defaults, LayerSpec, parse
from pylayer.provider import Provider, Request
from pylayer.settings import Settings
from pylayer.store import LayerVersionRef, Published

ACCOUNT = "123456789012"
PROPS = {"LayerName": "deps", "Requirements": ["six==1.16.0"]}


@dataclass
class FakeStore:
    versions_: dict[int, str] = field(default_factory=dict)  # version -> description
    deleted: list[int] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    shared: list[tuple[str, str]] = field(default_factory=list)
    share_fails: bool = False
    codeartifact_calls: list[tuple[str, str, str]] = field(default_factory=list)

    def arn(self, version: int) -> str:
        return f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:deps:{version}"

    def upload(self, path: Path, key: str) -> bool:
        self.uploads.append(key)
        return True

    def publish(self, spec: LayerSpec, key: str, description: str) -> Published:
        version = max(self.versions_, default=0) + 1
        self.versions_[version] = description
        self.published.append(description)
        return self._details(version)

    def versions(self, layer_name: str) -> list[plan.Existing]:
        return [plan.Existing(self.arn(v), v, d) for v, d in self.versions_.items()]

    def get(self, ref: LayerVersionRef) -> Published | None:
        return self._details(ref.version) if ref.version in self.versions_ else None

    def delete(self, ref: LayerVersionRef) -> None:
        self.deleted.append(ref.version)
        self.versions_.pop(ref.version, None)

    def secret(self, secret_id: str) -> str:
        raise AssertionError("no secret configured")

    def read_json(self, key: str) -> dict[str, Any] | None:
        return self.objects.get(key)

    def write_json(self, key: str, value: dict[str, Any]) -> None:
        self.objects[key] = value

    def exists(self, key: str) -> bool:
        return key in self.objects or key in self.uploads

    def codeartifact_index(self, domain: str, repository: str, owner: str = "") -> tuple[str, str]:
        self.codeartifact_calls.append((domain, repository, owner))
        return f"https://{domain}-{owner}.d.codeartifact.us-east-1.amazonaws.com/pypi/{repository}/simple/", "tok"

    def share(self, arn: str, statement: sharing.Statement) -> None:
        if self.share_fails:
            raise AwsCallFailed("AddLayerVersionPermission failed: InvalidParameterValueException.")
        self.shared.append((arn, statement.sid))

    def _details(self, version: int) -> Published:
        return Published(self.arn(version), self.arn(version).rsplit(":", 1)[0], version, "c2hh", 10,
                         self.versions_[version])


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


def provider(store: FakeStore, tmp_path: Path, remaining: float = 900.0) -> Provider:
    settings = Settings("bucket", "us-east-1", tmp_path, "uv", Defaults("python3.12", "arm64"))
    return Provider(settings, store, remaining_seconds=lambda: remaining, account=ACCOUNT)


def request(physical_id: str | None = None, logical_id: str = "Layer", **props: object) -> Request:
    return Request({**PROPS, **props}, "arn:aws:cloudformation:us-east-1:1:stack/s/1", logical_id, physical_id)


def one_file(spec: LayerSpec, workdir: Path) -> list[archive.Entry]:
    """What an install would give, minus the installer: one module."""
    path = workdir / "mod.py"
    path.write_text("x = 1\n")
    return [archive.Entry("python/mod.py", path.stat().st_size, False, path=path)]


def seed(store: FakeStore, prov: Provider, req: Request, version: int, unzipped: int = 123) -> str:
    """A version as a previous build of ``req`` would have published it."""
    key = plan.version_key(parse(req.properties, prov.settings.defaults), prov.settings.build_options)
    store.versions_[version] = plan.describe("", plan.Marker(key, req.owner, unzipped))
    return store.arn(version)


def test_a_retried_create_answers_with_the_version_it_already_published(store: FakeStore, tmp_path: Path) -> None:
    prov = provider(store, tmp_path)
    arn = seed(store, prov, request(), 1, unzipped=4242)

    outcome = prov.create(request())

    assert outcome.reused
    assert outcome.physical_id == arn
    assert outcome.data["UnzippedSize"] == "4242"
    assert store.published == []


def test_a_version_of_another_resource_is_never_adopted(store: FakeStore, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    prov = provider(store, tmp_path)
    seed(store, prov, request(logical_id="Other"), 1)
    built: list[str] = []
    monkeypatch.setattr(prov, "build", lambda spec, key, owner, pointer, artifact: built.append(owner))

    prov.create(request())

    assert built == [request().owner]


def test_delete_skips_versions_of_other_resources_accounts_and_regions(store: FakeStore, tmp_path: Path) -> None:
    prov = provider(store, tmp_path)
    theirs = seed(store, prov, request(logical_id="Other"), 1)

    assert prov.delete(request(physical_id=theirs)) is False
    assert prov.delete(request(physical_id=theirs.replace(ACCOUNT, "999999999999"))) is False
    assert prov.delete(request(physical_id=theirs.replace("us-east-1", "eu-west-1"))) is False
    assert store.deleted == []


def test_delete_removes_its_own_version_once(store: FakeStore, tmp_path: Path) -> None:
    prov = provider(store, tmp_path)
    mine = seed(store, prov, request(), 1)

    assert prov.delete(request(physical_id=mine)) is True
    assert prov.delete(request(physical_id=mine)) is False
    assert store.deleted == [1]


def test_nothing_is_published_when_too_little_time_is_left(store: FakeStore, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    prov = provider(store, tmp_path, remaining=15.0)
    monkeypatch.setattr(prov, "_entries", one_file)

    with pytest.raises(OutOfTime) as caught:
        prov.create(request())

    assert caught.value.reason.startswith("Stopped before uploading: only 15 s were left")
    assert store.published == []
    assert list((tmp_path / "builds").iterdir()) == []


def test_a_duplicate_publish_is_deleted(store: FakeStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prov = provider(store, tmp_path)
    monkeypatch.setattr(prov, "_entries", one_file)
    original_publish = store.publish

    def publish_twice(spec: LayerSpec, key: str, description: str) -> Published:
        original_publish(spec, key, description)  # the publish whose answer was lost
        return dataclasses.replace(original_publish(spec, key, description), retried=True)

    monkeypatch.setattr(store, "publish", publish_twice)

    outcome = prov.create(request())

    assert outcome.physical_id == store.arn(2)
    assert store.deleted == [1]
    assert list(store.versions_) == [2]


def test_a_spec_built_before_reuses_its_archive_not_a_version(store: FakeStore, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    prov = provider(store, tmp_path)
    builds: list[str] = []

    def entries(spec: LayerSpec, workdir: Path) -> list[archive.Entry]:
        builds.append(spec.layer_name)
        return one_file(spec, workdir)

    monkeypatch.setattr(prov, "_entries", entries)
    first = prov.create(request(logical_id="First"))
    second = prov.create(request(logical_id="Second"))  # same content, another resource

    assert builds == ["deps"]  # installed once
    assert first.physical_id != second.physical_id  # but never the other resource's version
    assert len(store.published) == 2
    assert len(set(store.uploads)) == 1


def test_an_expired_archive_is_rebuilt(store: FakeStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prov = provider(store, tmp_path)
    builds: list[str] = []
    def entries(spec: LayerSpec, workdir: Path) -> list[archive.Entry]:
        builds.append("x")
        return one_file(spec, workdir)

    monkeypatch.setattr(prov, "_entries", entries)
    prov.create(request(logical_id="First"))
    store.uploads.clear()  # the lifecycle rule expired the zip; the pointer is still there

    prov.create(request(logical_id="Second"))

    assert builds == ["x", "x"]


def test_every_new_version_is_shared_and_a_retry_shares_again(store: FakeStore, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    prov = provider(store, tmp_path)
    monkeypatch.setattr(prov, "_entries", one_file)
    share: dict[str, Any] = {"ShareWith": ["111122223333", "o-abcdefghij"]}

    first = prov.create(request(**share))
    again = prov.create(request(**share))  # the same event, delivered twice

    assert again.physical_id == first.physical_id
    sids = ["pylayer-account-111122223333", "pylayer-organization-o-abcdefghij"]
    assert store.shared == [(first.physical_id, sid) for sid in sids] * 2


def test_a_version_that_cannot_be_shared_is_deleted_not_leaked(store: FakeStore, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    prov = provider(store, tmp_path)
    monkeypatch.setattr(prov, "_entries", one_file)
    store.share_fails = True

    with pytest.raises(AwsCallFailed):
        prov.create(request(ShareWith=["111122223333"]))

    assert store.published and store.versions_ == {}


def test_a_codeartifact_repository_is_the_index_with_a_token_fetched_at_build_time(
        store: FakeStore, tmp_path: Path) -> None:
    settings = Settings.from_env({"LAYER_BUCKET": "b", "CODEARTIFACT_DOMAIN": "corp",
                                  "CODEARTIFACT_REPOSITORY": "pypi-store", "CODEARTIFACT_DOMAIN_OWNER": ACCOUNT})
    prov = Provider(settings, store, account=ACCOUNT)

    index = prov._index()

    assert store.codeartifact_calls == [("corp", "pypi-store", ACCOUNT)]
    assert index.url.endswith("/pypi/pypi-store/simple/")
    assert (index.username, index.password) == ("aws", "tok")
    assert settings.build_options.index_url == f"codeartifact:{ACCOUNT}/corp/pypi-store"


def test_requirements_whose_markers_exclude_the_target_fail_clearly(store: FakeStore, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    prov = provider(store, tmp_path)
    monkeypatch.setattr(prov, "_entries", lambda spec, workdir: [])

    with pytest.raises(InstallFailed, match=r"Nothing to install for python3\.12 arm64"):
        prov.create(request())

    assert store.published == []
