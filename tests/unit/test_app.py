from __future__ import annotations

from typing import Any

import pytest

import app

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
    # crhelper makes boto3 clients when constructed: that must wait for the first event.
    assert app._helper is None or isinstance(app._helper, app.BoundedCfnResource)


def test_the_helper_makes_no_aws_clients_and_leaves_the_environment_as_it_was(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    def no_clients(*args: object, **kwargs: object) -> None:
        raise AssertionError("crhelper's polling clients must not be made")

    monkeypatch.setattr(boto3, "client", no_clients)
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)

    helper = app.BoundedCfnResource(log_level="INFO", sleep_on_delete=0)

    assert getattr(helper, "_init_failed") is None  # noqa: B009 - crhelper types hide it
    assert helper._sam_local is None
    import os

    assert "AWS_SAM_LOCAL" not in os.environ
