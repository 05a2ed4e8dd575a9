"""The dispatch: a request in, an Answer out, every failure FAILED with a short Reason (no I/O)."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from pylayer import dispatch
from pylayer.errors import InstallFailed
from pylayer.provider import Outcome, Request
from pylayer.response import Answer

STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/consumer/1f2e"
EVENT: dict[str, Any] = {"RequestType": "Create", "StackId": STACK,
         "LogicalResourceId": "Layer", "RequestId": "r-1", "ResourceProperties": {"Requirements": ["six"]}}
ARN = "arn:aws:lambda:us-east-1:123456789012:layer:six:3"


class FakeProvider:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.requests: list[tuple[str, Request]] = []

    def _run(self, kind: str, request: Request) -> Outcome:
        self.requests.append((kind, request))
        if self.error is not None:
            raise self.error
        return Outcome(ARN, {"LayerVersionArn": ARN})

    def create(self, request: Request) -> Outcome:
        return self._run("create", request)

    def update(self, request: Request) -> Outcome:
        return self._run("update", request)

    def delete(self, request: Request) -> object:
        return self._run("delete", request)


@pytest.mark.parametrize("kind", ["Create", "Update"])
def test_a_create_or_update_answers_the_version_and_its_attributes(kind: str) -> None:
    provider = FakeProvider()
    answer = dispatch.dispatch({**EVENT, "RequestType": kind, "PhysicalResourceId": "old"}, lambda: provider)
    assert answer == Answer("SUCCESS", ARN, data={"LayerVersionArn": ARN})
    assert provider.requests == [(kind.lower(), Request({"Requirements": ["six"]}, STACK, "Layer", "old"))]


def test_a_delete_answers_the_id_it_was_given() -> None:
    answer = dispatch.dispatch({**EVENT, "RequestType": "Delete", "PhysicalResourceId": ARN}, FakeProvider)
    assert answer == Answer("SUCCESS", ARN)


def test_a_users_error_is_failed_with_its_reason_and_one_log_line_without_a_traceback(
        caplog: pytest.LogCaptureFixture) -> None:
    error = InstallFailed("No version of nothere matches.", "uv said: ...")
    with caplog.at_level(logging.INFO):
        answer = dispatch.dispatch(EVENT, lambda: FakeProvider(error))
    assert (answer.status, answer.reason, answer.cause) == ("FAILED", "No version of nothere matches.", "Install")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert errors[0].__dict__["detail"] == "uv said: ..."


def test_an_unexpected_error_is_internal_and_points_at_the_invocations_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        answer = dispatch.dispatch(EVENT, lambda: FakeProvider(KeyError("x")), "inv-9")
    assert answer.reason == "Internal error in the provider; see its log for request inv-9."
    assert answer.cause == "Internal"
    assert any(r.exc_info for r in caplog.records)  # the traceback, in the log only


def test_a_provider_that_cannot_be_made_is_answered_too() -> None:
    def broken() -> FakeProvider:
        raise InstallFailed("The provider cannot find uv.")

    assert dispatch.dispatch(EVENT, broken).reason == "The provider cannot find uv."


def test_a_failed_create_names_an_id_of_crhelpers_form(monkeypatch: pytest.MonkeyPatch) -> None:
    """CloudFormation sends that id back in the rollback's Delete: the same form as crhelper's own."""
    from crhelper import CfnResource

    monkeypatch.setenv("AWS_SAM_LOCAL", "true")  # crhelper makes no clients under SAM local
    theirs = CfnResource(log_level="ERROR").generate_physical_id(EVENT)
    ours = dispatch.dispatch(EVENT, lambda: FakeProvider(InstallFailed("no"))).physical_id

    shape = re.compile(r"consumer_Layer_[A-Z0-9]{8}")
    assert shape.fullmatch(theirs) and shape.fullmatch(ours)


def test_a_failed_request_that_names_an_id_keeps_it() -> None:
    event: dict[str, Any] = {**EVENT, "RequestType": "Update", "PhysicalResourceId": ARN}
    assert dispatch.dispatch(event, lambda: FakeProvider(InstallFailed("no"))).physical_id == ARN
