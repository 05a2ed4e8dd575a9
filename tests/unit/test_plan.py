"""The pure decisions: what Create/Update and Delete do, from what the provider found."""

from __future__ import annotations

from pylayer import identity, plan
from pylayer.layerversion import LayerVersion

ACCOUNT = "123456789012"
KEY, OWNER = "0123456789abcdef", "abcdef012345"


def version(number: int, key: str = KEY, owner: str = OWNER, description: str | None = None) -> LayerVersion:
    text = identity.describe("user text", identity.Marker(key, owner, 10)) if description is None else description
    found = LayerVersion.parse(f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:deps:{number}", text)
    assert found is not None
    return found


def test_only_this_owners_versions_of_this_spec_match_newest_first() -> None:
    versions = [version(1), version(2, owner="ffffffffffff"), version(3, key="ffffffffffffffff"),
                version(4), version(5, description="hand-made version")]
    assert [m.number for m in plan.owned_matches(versions, KEY, OWNER)] == [4, 1]


def test_choose_keeps_the_current_version_else_the_newest_match() -> None:
    matches = [version(4), version(1)]
    assert plan.choose(matches, version(1).arn) == version(1)  # an Update that changes nothing
    assert plan.choose(matches, "arn:other:9") == version(4)  # a rollback, a retried Create
    assert plan.choose([], version(1).arn) is None


def test_a_plan_tries_the_version_then_the_archive_then_a_build() -> None:
    artifact = plan.Artifact("layers/sha256/x.zip", 10)
    assert plan.plan_apply([version(1)], KEY, OWNER, None, artifact).steps == \
        (plan.Reuse(version(1)), plan.Republish(artifact), plan.Build())
    assert plan.plan_apply([version(1, owner="ffffffffffff")], KEY, OWNER, None, None).steps == (plan.Build(),)
    assert plan.plan_apply([], KEY, OWNER, None, artifact).describe() == "Republish -> Build"


def test_delete_only_what_this_provider_published_for_this_resource() -> None:
    mine = version(1)
    assert plan.plan_delete(mine, mine, OWNER, ACCOUNT, "us-east-1").delete


def test_delete_refuses_everything_else_and_says_why() -> None:
    mine = version(1)
    cases = {
        "not a layer version ARN": plan.plan_delete(None, None, OWNER, ACCOUNT, "us-east-1"),
        "own account and region": plan.plan_delete(mine, mine, OWNER, "999999999999", "us-east-1"),
        "already gone": plan.plan_delete(mine, None, OWNER, ACCOUNT, "us-east-1"),
        "no marker": plan.plan_delete(mine, version(1, description="published by another team"), OWNER, ACCOUNT,
                                      "us-east-1"),
        "another resource": plan.plan_delete(mine, version(1, owner="ffffffffffff"), OWNER, ACCOUNT, "us-east-1"),
    }
    for why, decision in cases.items():
        assert not decision.delete
        assert why in decision.why
    assert not plan.plan_delete(mine, mine, OWNER, ACCOUNT, "eu-west-1").delete
