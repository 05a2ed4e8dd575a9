"""Who gets an answer, and what happens to it: only CloudFormation (its response host, the provider's region),
before anything is built; a refused answer is logged; each answer is recorded for the reaper."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pylayer import answers
from pylayer.response import send
from tests.support import aws
from tests.support.cfn import STACK_ID, Cloudformation, LambdaContext, event
from tests.support.receiver import ResponseReceiver

SIX = {"LayerName": "six", "Requirements": ["six==1.16.0"], "Runtime": "python3.12", "Bytecode": "false"}


def test_an_event_whose_response_host_is_not_cloudformations_is_dropped_before_anything(
        cfn: Cloudformation, moto_endpoint: str, work_root: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("PYLAYER_RESPONSE_HOSTS")  # the local receiver is not CloudFormation now
    url = cfn.receiver.url()
    with caplog.at_level(logging.ERROR):
        cfn.app.lambda_handler(event("Create", SIX, url), LambdaContext())

    assert cfn.receiver.responses_for(url) == []  # no answer to a host someone else chose
    assert aws.live_versions(moto_endpoint, "six") == set()  # nothing built or published
    assert not (work_root / "builds").exists()
    assert "is not CloudFormation's in us-east-1" in caplog.text


def test_an_event_of_a_stack_in_another_region_is_dropped(cfn: Cloudformation, moto_endpoint: str) -> None:
    url = cfn.receiver.url()
    other = STACK_ID.replace("us-east-1", "eu-west-1")
    cfn.app.lambda_handler(event("Delete", SIX, url, physical_id="x", stack_id=other), LambdaContext())
    assert cfn.receiver.responses_for(url) == []


def test_each_answer_is_recorded_for_the_reaper(cfn: Cloudformation, moto_endpoint: str) -> None:
    url = cfn.receiver.url()
    request = event("Create", SIX, url)
    cfn.app.lambda_handler(request, LambdaContext())
    answer = cfn.receiver.response_for(url).body

    record = aws.client("s3", moto_endpoint).get_object(Bucket=aws.BUCKET, Key=answers.record_key(request))
    import json

    stored = json.loads(record["Body"].read())
    assert stored["state"] == "answered" and stored["http_status"] == 200
    assert stored["published"] == answer["PhysicalResourceId"]
    assert stored["answer"]["Status"] == "SUCCESS"
    assert "ResponseURL" not in json.dumps(stored)


def test_an_answer_cloudformation_refuses_is_logged(cfn: Cloudformation, caplog: pytest.LogCaptureFixture) -> None:
    cfn.receiver.status = 403  # an expired presigned URL
    try:
        url = cfn.receiver.url()
        with caplog.at_level(logging.ERROR):
            cfn.app.lambda_handler(event("Delete", SIX, url, physical_id="not-a-version"), LambdaContext())
    finally:
        cfn.receiver.status = 200
    assert len(cfn.receiver.responses_for(url)) == 1  # a 4xx is not retried
    assert "CloudFormation refused the answer: HTTP 403" in caplog.text


def test_a_5xx_is_retried_then_given_back_without_a_last_pause(receiver: ResponseReceiver,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(receiver.ca_bundle))
    receiver.status = 503
    pauses: list[float] = []
    try:
        url = receiver.url()
        status = send(url, {"Status": "SUCCESS", "Reason": "", "Data": {}}, attempts=3, sleep=pauses.append)
    finally:
        receiver.status = 200
    assert status == 503
    assert len(receiver.responses_for(url)) == 3
    assert pauses == [1.0, 2.0]  # between attempts, never after the last
