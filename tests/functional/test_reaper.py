"""No stuck stack even when the provider's invocation dies: the reaper answers for it, never twice.

Played with the lifecycle driver: the provider runs in its own process (a Lambda container) and is killed
with SIGKILL in the middle of its build, as Lambda ends an invocation that runs out of memory; the
destination record Lambda would then send is given to the reaper, which runs against moto's S3 and
answers on the local receiver.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pylayer import answers, reaper
from pylayer.store import LayerStore
from tests.support import aws
from tests.support.cfn import Cloudformation, LambdaContext, event
from tests.support.dying import DyingLambda, destination_record, stalling_installer
from tests.support.index import LocalIndex
from tests.support.lifecycle import stacks

SIX = {"LayerName": "six", "Requirements": ["six==1.16.0"], "Runtime": "python3.12", "Architecture": "x86_64",
       "Bytecode": "false"}
HOSTS = frozenset({"localhost"})


def reap_with(moto_endpoint: str) -> Any:
    store = LayerStore.connect(aws.BUCKET, aws.REGION).artifacts

    def run(record: dict[str, Any]) -> reaper.Decision:
        return reaper.reap(record, store, aws.REGION, HOSTS)

    return run


@pytest.fixture
def dying(cfn: Cloudformation, moto_endpoint: str, tmp_path: Path, packages: LocalIndex) -> DyingLambda:
    uv, started = stalling_installer(tmp_path)
    env = {**aws.aws_environment(moto_endpoint), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "SSL_CERT_FILE": str(cfn.receiver.ca_bundle), "PYLAYER_WORK_ROOT": str(tmp_path / "work"),
           "PYLAYER_RESPONSE_HOSTS": "localhost", "PACKAGE_INDEX_URL": packages.url, "UV_BIN": str(uv),
           "POWERTOOLS_LOG_LEVEL": "WARNING"}
    return DyingLambda(env, started)


def test_a_create_killed_mid_build_gets_its_failed_from_the_reaper_and_rolls_back(
        cfn: Cloudformation, moto_endpoint: str, dying: DyingLambda) -> None:
    stack = stacks(cfn, moto_endpoint)()

    answer = stack.create_that_dies("Layer", SIX, dying, reap_with(moto_endpoint))

    assert answer["Reason"].startswith("The provider's invocation was killed (out of memory: raise the provider's "
                                       "MemorySize) before answering")
    assert answer["Reason"].endswith("Nothing was published.")
    assert answer["PhysicalResourceId"] == "Layer-reaped"  # its rollback Delete answered SUCCESS, deleting nothing
    assert aws.live_versions(moto_endpoint, "six") == set()
    assert stack.answers[-1]["Status"] == "SUCCESS"  # the rollback Delete


def test_a_request_the_provider_answered_is_left_alone(cfn: Cloudformation, moto_endpoint: str) -> None:
    """The provider answered (here FAILED on its deadline), then the invocation timed
    out: the reaper must not answer a second time (a second answer can overwrite the first)."""
    url = cfn.receiver.url()
    request = event("Create", {**SIX, "Requirements": ["no-such-package-pylayer-test==1.0"]}, url)
    cfn.app.lambda_handler(request, LambdaContext())
    assert len(cfn.receiver.responses_for(url)) == 1

    decision = reap_with(moto_endpoint)(destination_record(request, {
        "errorType": "Sandbox.Timedout", "errorMessage": "RequestId: x Error: Task timed out after 900.00 seconds"}))

    assert decision.answer is None and decision.why == "already answered"
    assert len(cfn.receiver.responses_for(url)) == 1


def test_a_death_while_answering_sends_the_same_answer_and_no_other(cfn: Cloudformation, moto_endpoint: str) -> None:
    """The other order: the answer was about to go out when the invocation died. The reaper sends that very answer
    (the same SUCCESS and version), not a FAILED that would contradict it."""
    stack = stacks(cfn, moto_endpoint)()
    stack.create("Layer", SIX)
    version = stack.resources["Layer"].physical_id
    url = cfn.receiver.url()
    request = event("Create", SIX, url)
    sent = {"Status": "SUCCESS", "PhysicalResourceId": version, "StackId": request["StackId"],
            "RequestId": request["RequestId"], "LogicalResourceId": "Layer", "Data": {}, "Reason": ""}
    records = LayerStore.connect(aws.BUCKET, aws.REGION).artifacts
    records.write_json(answers.record_key(request), {"state": "answering", "answer": sent})

    reap_with(moto_endpoint)(destination_record(request, {"errorType": "Runtime.OutOfMemory"}))

    [received] = cfn.receiver.responses_for(url)
    assert received.body["Status"] == "SUCCESS" and received.body["PhysicalResourceId"] == version
    record = json.loads(aws.client("s3", moto_endpoint).get_object(
        Bucket=aws.BUCKET, Key=answers.record_key(request))["Body"].read())
    assert record["state"] == "answered"


def test_an_update_that_died_after_publishing_leaves_nothing_behind(cfn: Cloudformation, moto_endpoint: str) -> None:
    """Its new version was never answered with: the reaper records it, the rollback's request deletes it."""
    stack = stacks(cfn, moto_endpoint)()
    stack.create("Layer", SIX)
    old = stack.resources["Layer"].physical_id
    newer = {**SIX, "Requirements": ["six==1.17.0"]}
    # The new version, as the dying Update published it before it could answer.
    url = cfn.receiver.url()
    request = event("Update", newer, url, physical_id=old, old_properties=SIX)
    # It publishes, and its answer goes elsewhere: as if it had died before answering.
    cfn.app.lambda_handler({**request, "ResponseURL": cfn.receiver.url()}, LambdaContext())
    orphan = (aws.live_versions(moto_endpoint, "six") - {old}).pop()
    LayerStore.connect(aws.BUCKET, aws.REGION).artifacts.write_json(answers.record_key(request), {"state": "published",
                                                                               "published": orphan})

    decision = reap_with(moto_endpoint)(destination_record(request, {"errorType": "Runtime.OutOfMemory"}))

    assert decision.orphan == orphan
    failed = cfn.receiver.response_for(url).body
    assert failed["Status"] == "FAILED" and failed["PhysicalResourceId"] == old
    # CloudFormation's rollback Update (old properties back): the provider answers with the old version and
    # deletes the one the dead Update left.
    rollback = stack.send("Update", "Layer", SIX, physical_id=old, old_properties=newer)
    assert rollback["Status"] == "SUCCESS" and rollback["PhysicalResourceId"] == old
    stack.check()
    assert aws.live_versions(moto_endpoint, "six") == {old}
