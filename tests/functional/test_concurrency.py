"""One build per request, and none that outlives CloudFormation: concurrent invocations as separate processes.

Lambda's asynchronous invoke delivers an event at least once, so the same Create can run twice at once;
CloudFormation sends a Delete when a Create outlives the template's ServiceTimeout. Each delivery here is
a forked process running the real handler against moto and the local receiver.
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest

from pylayer import answers
from tests.support import aws
from tests.support.cfn import Cloudformation, LambdaContext, event

SIX = {"LayerName": "six", "Requirements": ["six==1.16.0"], "Runtime": "python3.12", "Architecture": "x86_64"}
FORK = multiprocessing.get_context("fork")


def deliver(request: dict[str, Any], work_root: Path) -> None:
    """One invocation of the provider, in a process of its own: another Lambda container, with its own
    clients and its own /tmp (a container removes the build folders a killed invocation left in its /tmp;
    in a folder shared with another delivery, those would be that delivery's build)."""
    import os

    import app

    app.default_store.cache_clear()
    os.environ["PYLAYER_WORK_ROOT"] = str(work_root)
    app.lambda_handler(request, LambdaContext())


def claimed(endpoint: str, request: dict[str, Any], timeout: float = 60.0) -> None:
    """Wait until a delivery has claimed the request (it is building)."""
    s3 = aws.client("s3", endpoint)
    stop = time.monotonic() + timeout
    while time.monotonic() < stop:
        listed = s3.list_objects_v2(Bucket=aws.BUCKET, Prefix=answers.claim_key(request))
        if listed.get("KeyCount", 0):
            return
        time.sleep(0.02)
    pytest.fail("no delivery claimed the request")


def test_two_deliveries_of_one_create_publish_one_version(cfn: Cloudformation, moto_endpoint: str,
                                                         tmp_path: Path) -> None:
    url = cfn.receiver.url()
    request = event("Create", SIX, url)
    first = FORK.Process(target=deliver, args=(request, tmp_path / "first"))
    first.start()
    claimed(moto_endpoint, request)
    # The same event, delivered again meanwhile, to another container.
    second = FORK.Process(target=deliver, args=(request, tmp_path / "second"))
    second.start()
    first.join(300)
    second.join(300)

    sent = cfn.receiver.responses_for(url)
    assert len(sent) == 2 and sent[0].body == sent[1].body  # the second repeats the first's answer
    assert sent[0].body["Status"] == "SUCCESS", sent[0].body["Reason"]
    assert aws.live_versions(moto_endpoint, "six") == {sent[0].body["PhysicalResourceId"]}


def test_a_delete_that_overtakes_its_create_leaves_no_version(cfn: Cloudformation, moto_endpoint: str,
                                                              tmp_path: Path) -> None:
    url = cfn.receiver.url()
    request = event("Create", SIX, url)
    create = FORK.Process(target=deliver, args=(request, tmp_path / "create"))
    create.start()
    claimed(moto_endpoint, request)
    # CloudFormation gave up on the Create (its ServiceTimeout) and deletes the resource, whose id it never got.
    deleted = cfn.delete(SIX, "Layer-created-unknown").body
    create.join(300)

    assert deleted["Status"] == "SUCCESS"
    answer = cfn.receiver.response_for(url).body
    assert answer["Status"] == "FAILED"
    assert "CloudFormation deleted this resource while it was being built" in answer["Reason"]
    assert aws.live_versions(moto_endpoint, "six") == set()


def test_a_create_never_outlives_its_service_timeout(cfn: Cloudformation, moto_endpoint: str) -> None:
    answer = cfn.create({**SIX, "ServiceTimeout": "15"}).body  # less than the time publishing needs left

    assert answer["Status"] == "FAILED"
    assert "left before the Lambda timeout" in answer["Reason"] or "no time left" in answer["Reason"]
    assert aws.live_versions(moto_endpoint, "six") == set()
