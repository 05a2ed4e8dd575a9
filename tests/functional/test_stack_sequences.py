"""CloudFormation's real sequences, played by the lifecycle driver (tests/support/lifecycle.py).

After every request the driver checks that moto holds exactly the layer
versions the stack references (plus those awaiting cleanup): nothing leaked,
nothing lost. README.md's "Guarantees" names these tests as their proof.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.cfn import STACK_ID, Cloudformation
from tests.support.lifecycle import Stack, stacks

SIX = {"LayerName": "six", "Requirements": ["six==1.16.0"], "Runtime": "python3.12", "Architecture": "x86_64"}
SIX_NEW = {**SIX, "Requirements": ["six==1.17.0"]}
BROKEN = {**SIX, "Requirements": ["no-such-package-pylayer-test==1.0"]}


@pytest.fixture
def make_stack(cfn: Cloudformation, moto_endpoint: str) -> Callable[..., Stack]:
    return stacks(cfn, moto_endpoint)


def test_stack_create_then_delete(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    assert stack.create("Layer", SIX) == "SUCCESS"
    stack.delete()
    assert stack.live() == set()


def test_create_that_fails_then_its_rollback_delete(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    assert stack.create("Layer", BROKEN) == "FAILED"
    failed, rollback = stack.answers
    assert "no-such-package-pylayer-test" in failed["Reason"]
    assert rollback["PhysicalResourceId"] == failed["PhysicalResourceId"]  # the made-up id (crhelper's form)


def test_create_rolled_back_because_a_later_resource_failed(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    assert stack.create("Layer", SIX, later_resource_fails=True) == "ROLLED_BACK"
    assert stack.live() == set()


def test_update_with_replacement_then_cleanup(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stack.create("Layer", SIX)
    first = stack.resources["Layer"].physical_id
    assert stack.update("Layer", SIX_NEW) == "SUCCESS"
    assert stack.resources["Layer"].physical_id != first
    stack.delete()


def test_later_failure_rolls_back_to_the_original_version_without_a_third(
        make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stack.create("Layer", SIX)
    original = stack.resources["Layer"].physical_id

    assert stack.update("Layer", SIX_NEW, later_resource_fails=True) == "ROLLED_BACK"

    assert stack.resources["Layer"].physical_id == original
    assert stack.live() == {original}
    versions = {a["PhysicalResourceId"].rsplit(":", 1)[1] for a in stack.answers}
    assert versions == {"1", "2"}  # the rollback published nothing
    stack.delete()


def test_our_failed_update_then_its_rollback(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stack.create("Layer", SIX)
    original = stack.resources["Layer"].physical_id

    assert stack.update("Layer", BROKEN) == "FAILED"

    assert stack.resources["Layer"].physical_id == original
    assert stack.live() == {original}
    stack.delete()


@pytest.mark.parametrize("change", [
    {"ServiceTimeout": "600"},
    {"Requirements": ["six == 1.16.0"]},
    {"Requirements": "six==1.16.0\n# comment\n"},
    {"CompatibleRuntimes": ["python3.12"]},
])
def test_an_update_that_changes_nothing_published_keeps_its_version(
        make_stack: Callable[..., Stack], change: dict[str, Any]) -> None:
    stack = make_stack()
    stack.create("Layer", SIX)
    original = stack.resources["Layer"].physical_id

    assert stack.update("Layer", {**SIX, **change}) == "SUCCESS"

    assert stack.resources["Layer"].physical_id == original
    assert stack.live() == {original}


def test_an_update_back_and_forth(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stack.create("Layer", SIX)
    stack.update("Layer", SIX_NEW)
    stack.update("Layer", SIX)
    assert stack.resources["Layer"].physical_id.endswith(":3")  # the first was deleted in cleanup
    stack.delete()


def test_every_event_delivered_twice(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(redeliver=True)
    stack.create("Layer", SIX)
    stack.update("Layer", SIX_NEW)
    stack.update("Layer", SIX, later_resource_fails=True)
    stack.update("Layer", BROKEN)
    stack.delete()
    # Create, Update, cleanup Delete, Update, rollback Update, rollback cleanup Delete,
    # failed Update, its rollback, Delete: three versions published in all, none twice.
    published = {a["PhysicalResourceId"] for a in stack.answers if a["PhysicalResourceId"].startswith("arn:")}
    assert {p.rsplit(":", 1)[1] for p in published} == {"1", "2", "3"}


def test_two_resources_with_the_same_properties_never_share_a_version(
        make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stack.create("First", SIX)
    stack.create("Second", SIX)
    first, second = stack.resources["First"].physical_id, stack.resources["Second"].physical_id
    assert first != second

    stack.update("Second", {**SIX, "ServiceTimeout": "300"})  # no change: keeps its own version
    assert stack.resources["Second"].physical_id == second
    stack.delete()


def test_two_stacks_never_adopt_each_others_versions(make_stack: Callable[..., Stack]) -> None:
    one = make_stack()
    other = make_stack(stack_id=STACK_ID.replace("stack/consumer/", "stack/other/"))
    one.peers.append(other)
    other.peers.append(one)

    one.create("Layer", SIX)
    other.create("Layer", SIX)
    assert one.resources["Layer"].physical_id != other.resources["Layer"].physical_id

    other.update("Layer", SIX_NEW, later_resource_fails=True)
    one.delete()
    assert other.live() == {other.resources["Layer"].physical_id}
    other.delete()


def test_a_delete_never_removes_another_resources_version(make_stack: Callable[..., Stack],
                                                         cfn: Cloudformation) -> None:
    stack = make_stack()
    stack.create("Layer", SIX)
    theirs = stack.resources["Layer"].physical_id

    answer = cfn.delete(SIX, theirs, logical_id="Intruder").body

    assert answer["Status"] == "SUCCESS"
    stack.check()  # still there


def test_an_upgraded_provider_adopts_and_deletes_what_an_older_release_published(
        cfn: Cloudformation, moto_endpoint: str) -> None:
    """docs/operations.md, "Upgrading the provider": a version published by an older release (its marker
    without the bytecode and proof letters), then the Update and the Delete of the new provider, in a new
    container."""
    from pylayer import identity
    from tests.support import aws

    made = cfn.create(SIX).body
    assert made["Status"] == "SUCCESS", made["Reason"]
    lam = aws.client("lambda", moto_endpoint)
    layer, number = str(made["PhysicalResourceId"]).rsplit(":", 1)
    current = lam.get_layer_version(LayerName=layer, VersionNumber=int(number))
    marker = identity.read_marker(current["Description"])
    assert marker is not None
    older = identity.describe("", identity.Marker(marker.version, marker.owner, marker.unzipped_size))
    [archive] = [k for k in aws.artifacts(moto_endpoint) if k.startswith("layers/")]
    old = lam.publish_layer_version(LayerName="six", Description=older, CompatibleRuntimes=["python3.12"],
                                    Content={"S3Bucket": aws.BUCKET, "S3Key": archive})["LayerVersionArn"]
    lam.delete_layer_version(LayerName=layer, VersionNumber=int(number))  # only the older release's is left
    cfn.app.default_store.cache_clear()  # the upgraded provider: a new container

    updated = cfn.update({**SIX, "ServiceTimeout": "600"}, SIX, old).body  # nothing that decides the version

    assert updated["Status"] == "SUCCESS", updated["Reason"]
    assert updated["PhysicalResourceId"] == old
    assert aws.live_versions(moto_endpoint, "six") == {old}
    deleted = cfn.delete(SIX, old).body
    assert deleted["Status"] == "SUCCESS"
    assert aws.live_versions(moto_endpoint, "six") == set()
