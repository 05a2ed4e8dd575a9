from __future__ import annotations

from pylayer import plan
from pylayer.properties import Defaults, LayerSpec, parse

DEFAULTS = Defaults("python3.12", "arm64")
OPTIONS = plan.BuildOptions()


def spec(**changes: object) -> LayerSpec:
    return parse({"LayerName": "deps", "Requirements": ["six==1.16.0"], **changes}, DEFAULTS)


def test_the_version_key_ignores_what_does_not_change_the_published_version() -> None:
    base = plan.version_key(spec(), OPTIONS)
    assert plan.version_key(spec(Requirements="six == 1.16.0\n# pinned\n"), OPTIONS) == base
    assert plan.version_key(spec(Runtime="python3.12", Architecture="arm64"), OPTIONS) == base
    assert plan.version_key(spec(CompatibleRuntimes=["python3.12"]), OPTIONS) == base


def test_the_version_key_follows_content_metadata_and_provider_options() -> None:
    base = plan.version_key(spec(), OPTIONS)
    changed = [
        plan.version_key(spec(Requirements=["six==1.17.0"]), OPTIONS),
        plan.version_key(spec(Architecture="x86_64"), OPTIONS),
        plan.version_key(spec(Runtime="python3.13"), OPTIONS),
        plan.version_key(spec(Description="new"), OPTIONS),
        plan.version_key(spec(LicenseInfo="MIT"), OPTIONS),
        plan.version_key(spec(LayerName="other"), OPTIONS),
        plan.version_key(spec(CompatibleRuntimes=["python3.12", "python3.13"]), OPTIONS),
        plan.version_key(spec(), plan.BuildOptions(index_url="https://pkgs.example/simple")),
        plan.version_key(spec(), plan.BuildOptions(allow_sdist=True)),
        plan.version_key(spec(), plan.BuildOptions(installer="pip")),
    ]
    assert base not in changed
    assert len(set(changed)) == len(changed)


def test_the_content_key_is_shared_across_names_and_metadata() -> None:
    assert plan.content_key(spec(LayerName="a", Description="x"), OPTIONS) == \
        plan.content_key(spec(LayerName="b"), OPTIONS)


def test_owner_keys_differ_by_stack_and_logical_id() -> None:
    keys = {plan.owner_key("stack/a/1", "Layer"), plan.owner_key("stack/b/2", "Layer"),
            plan.owner_key("stack/a/1", "Other")}
    assert len(keys) == 3
    assert all(len(k) == 12 for k in keys)


def test_the_marker_round_trips_through_a_description_within_lambdas_limit() -> None:
    marker = plan.Marker("0123456789abcdef", "abcdef012345", 262_144_000)
    description = plan.describe("d" * 200, marker)
    assert len(description) <= 256
    assert plan.read_marker(description) == marker
    assert plan.describe("", marker) == marker.render()
    assert plan.read_marker("no marker here") is None
    assert plan.read_marker(None) is None
    assert plan.read_marker(marker.render() + " trailing") is None


def existing(version: int, key: str = "0123456789abcdef", owner: str = "abcdef012345") -> plan.Existing:
    return plan.Existing(f"arn:aws:lambda:us-east-1:123456789012:layer:deps:{version}", version,
                         plan.describe("user text", plan.Marker(key, owner, 10)))


def test_only_this_owners_versions_of_this_spec_match_newest_first() -> None:
    versions = [existing(1), existing(2, owner="ffffffffffff"), existing(3, key="ffffffffffffffff"),
                existing(4), plan.Existing("arn:x:5", 5, "hand-made version")]
    matches = plan.owned_matches(versions, "0123456789abcdef", "abcdef012345")
    assert [m.version for m in matches] == [4, 1]


def test_choose_keeps_the_current_version_else_the_newest_match() -> None:
    matches = [existing(4), existing(1)]
    assert plan.choose(matches, existing(1).arn) == existing(1)  # an Update that changes nothing
    assert plan.choose(matches, "arn:other:9") == existing(4)  # a rollback, a retried Create
    assert plan.choose([], existing(1).arn) is None  # build
