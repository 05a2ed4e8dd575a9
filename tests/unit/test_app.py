from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import app

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


def test_importing_the_handler_makes_no_aws_client_and_no_crhelper() -> None:
    # crhelper makes boto3 clients when constructed: that must wait for the first event. A fresh process, so
    # nothing imported before can hide it.
    script = (
        "import boto3, boto3.session\n"
        "made = []\n"
        "boto3.client = lambda *a, **k: made.append(a)\n"
        "boto3.session.Session.client = lambda self, *a, **k: made.append(a)\n"
        "import app\n"
        "print(made, app._helpers)\n"
    )
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(HANDLER), "AWS_REGION": "us-east-1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] []"


def test_the_helper_makes_no_aws_clients_and_leaves_the_environment_as_it_was(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    made: list[tuple[object, ...]] = []
    # Recorded, not raised: crhelper would catch an exception in its constructor and hide it.
    monkeypatch.setattr(boto3, "client", lambda *args, **kwargs: made.append(args))
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)

    helper = app.BoundedCfnResource(log_level="INFO", sleep_on_delete=0)

    assert made == []
    assert helper.sam_local_before is None
    assert "AWS_SAM_LOCAL" not in os.environ


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
