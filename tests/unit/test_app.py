from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import app
from tests.support import cfn

HANDLER = Path(__file__).resolve().parents[2] / "handler"

GOOD = {"ResponseURL": "https://h/p", "StackId": "arn:aws:cloudformation:r:1:stack/s/id",
        "RequestId": "r", "LogicalResourceId": "L", "RequestType": "Create"}


def test_a_well_formed_event_is_answerable() -> None:
    assert app.malformed(GOOD) is None


@pytest.mark.parametrize(("event", "problem"), [
    ([], "the event is not an object"),
    ({**GOOD, "ResponseURL": None}, "the event has no ResponseURL"),
    ({**GOOD, "ResponseURL": "http://h/p"}, "the ResponseURL is not HTTPS"),
    ({**GOOD, "RequestType": "Upsert"}, "unknown RequestType"),
    ({**GOOD, "StackId": "no-slash"}, "the StackId is not a stack ARN"),
    ({k: v for k, v in GOOD.items() if k != "RequestId"}, "the event has no RequestId"),
])
def test_malformed_events_are_recognised(event: Any, problem: str) -> None:
    assert app.malformed(event) == problem


def test_importing_the_handler_makes_no_aws_client() -> None:
    # Clients are made for a request, never at import (a fresh process, so nothing imported before can hide
    # one), and nothing of crhelper is imported: its CfnResource makes three clients when constructed.
    script = (
        "import boto3, boto3.session, sys\n"
        "made = []\n"
        "boto3.client = lambda *a, **k: made.append(a)\n"
        "boto3.session.Session.client = lambda self, *a, **k: made.append(a)\n"
        "import app\n"
        "print(made, 'crhelper' in sys.modules)\n"
    )
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(HANDLER), "AWS_REGION": "us-east-1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] False"


def test_answering_a_request_makes_no_polling_clients_and_leaves_the_environment_as_it_was(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    made: list[tuple[object, ...]] = []
    monkeypatch.setattr(boto3, "client", lambda *args, **kwargs: made.append(args))
    monkeypatch.setattr(boto3.session.Session, "client", lambda self, *args, **kwargs: made.append(args))
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    monkeypatch.delenv("LAYER_BUCKET", raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    sent: list[dict[str, Any]] = []

    def send(url: str, body: dict[str, Any]) -> int:
        sent.append(body)
        return 200

    monkeypatch.setattr(app.dependencies, "send", send)
    url = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?sig=1"
    delete = cfn.event("Delete", {"Requirements": ["six"]}, url, physical_id="not-a-version")

    app.lambda_handler(delete, cfn.LambdaContext())

    assert made == []  # no Lambda, Events or Logs client for polling: nothing polls
    assert "AWS_SAM_LOCAL" not in os.environ
    assert [(b["Status"], b["PhysicalResourceId"]) for b in sent] == [("SUCCESS", "not-a-version")]


def test_crhelpers_private_fields_never_reach_it() -> None:
    event = {"RequestType": "Delete", "CrHelperPoll": True, "CrHelperData": "x", "CrHelperRule": "r",
             "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1"}
    assert app.cloudformations_own(event) == {"RequestType": "Delete",
                                              "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1"}


@pytest.mark.parametrize(("properties", "seconds"), [({"ServiceTimeout": "900"}, 900.0), ({"ServiceTimeout": 60}, 60.0),
                                                     ({}, None), ({"ServiceTimeout": "soon"}, None),
                                                     ({"ServiceTimeout": "-1"}, None), ("not a map", None)])
def test_the_service_timeout_is_read_from_the_properties(properties: Any, seconds: float | None) -> None:
    assert app.service_timeout({"ResourceProperties": properties}) == seconds


def test_time_left_is_lambdas_and_no_more_than_cloudformation_waits() -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 800_000

    import time

    assert app.time_left(Context(), None, time.monotonic())() == 800.0
    assert 59.0 < app.time_left(Context(), 60.0, time.monotonic())() <= 60.0
    assert app.time_left(Context(), 60.0, time.monotonic() - 50)() <= 10.0


def test_a_duplicate_delivery_never_sends_an_answer_recorded_for_another_request(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The record's key comes from the request, but the bucket is writable by more than the provider: a planted
    answer with other ids is not sent to this request's ResponseURL."""
    sent: list[dict[str, Any]] = []
    url = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?sig=1"
    request = cfn.event("Create", {"LayerName": "six", "Requirements": ["six"]}, url)
    planted = {"Status": "SUCCESS", "PhysicalResourceId": "arn:aws:lambda:us-east-1:1:layer:evil:1",
               "StackId": "arn:aws:cloudformation:us-east-1:1:stack/other/1", "RequestId": "other",
               "LogicalResourceId": "Layer", "Reason": "", "Data": {}}

    class Claimed:
        def claim(self, key: str) -> bool:
            return False  # another delivery holds the request

        def read_json(self, key: str) -> dict[str, Any]:
            return {"state": "answered", "answer": planted}

    class Store:
        artifacts = Claimed()

    def send(url: str, body: dict[str, Any]) -> int:
        sent.append(body)
        return 200

    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("LAYER_BUCKET", "bucket")
    monkeypatch.setattr(app.dependencies, "store", lambda bucket, region: Store())
    monkeypatch.setattr(app.dependencies, "send", send)
    monkeypatch.setattr(app, "DUPLICATE_POLL_SECONDS", 0.05)

    app.lambda_handler(request, cfn.LambdaContext(timeout_seconds=10.3))

    assert sent == []
