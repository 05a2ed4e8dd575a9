"""The reaper's decisions for an invocation that died, from Lambda's destination record and the provider's record."""

from __future__ import annotations

from typing import Any

import pytest

from pylayer import answers, identity, reaper

URL = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/p?sig"
STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/consumer/0f1e"
ARN = "arn:aws:lambda:us-east-1:123456789012:layer:deps:{}"


def event(request_type: str = "Create", physical_id: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"RequestType": request_type, "ResponseURL": URL, "StackId": STACK, "RequestId": "r-1",
                             "LogicalResourceId": "Layer", "ResourceProperties": {}}
    if physical_id:
        found["PhysicalResourceId"] = physical_id
    return found


def destination(payload: dict[str, Any] | None = None, condition: str = "RetriesExhausted",
                request: dict[str, Any] | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"version": "1.0", "requestContext": {"requestId": "x", "condition": condition,
                                                                    "approximateInvokeCount": 1},
                              "requestPayload": request or event()}
    if payload is not None:
        record["responseContext"] = {"statusCode": 200, "functionError": "Unhandled"}
        record["responsePayload"] = payload
    return record


@pytest.mark.parametrize(("payload", "condition", "said"), [
    ({"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: x Error: Task timed out after 900.00 seconds"},
     "RetriesExhausted", "timed out"),
    ({"errorMessage": "2026-12-01T00:00:00Z x Task timed out after 3.00 seconds"}, "RetriesExhausted", "timed out"),
    ({"errorType": "Runtime.OutOfMemory", "errorMessage": "..."}, "RetriesExhausted", "out of memory"),
    ({"errorType": "Runtime.ExitError",
      "errorMessage": "RequestId: x Error: Runtime exited with error: signal: killed"},
     "RetriesExhausted", "out of memory"),
    ({"errorType": "Runtime.ExitError",
      "errorMessage": "RequestId: x Error: Runtime exited without providing a reason"},
     "RetriesExhausted", "crashed (Runtime exited without providing a reason)"),
    ({"errorType": "Runtime.ImportModuleError", "errorMessage": "Unable to import module 'app'"},
     "RetriesExhausted", "failed (Runtime.ImportModuleError)"),
    (None, "EventAgeExceeded", "was never run"),
    (None, "ZeroReservedConcurrency", "reserved concurrency is 0"),
])
def test_the_reason_says_what_happened(payload: dict[str, Any] | None, condition: str, said: str) -> None:
    decision = reaper.decide(event(), None, destination(payload, condition))
    assert decision.answer is not None
    assert said in decision.answer["Reason"]
    assert decision.answer["Status"] == "FAILED"
    assert decision.answer["Reason"].endswith("Nothing was published.")


def test_an_answered_request_is_left_alone() -> None:
    assert reaper.decide(event(), {"state": "answered", "http_status": 200}, destination({})).answer is None


def test_a_death_while_answering_sends_the_same_answer_again() -> None:
    sent = {"Status": "SUCCESS", "PhysicalResourceId": ARN.format(3), "Data": {"Version": "3"}, "RequestId": "r-1",
            "StackId": STACK, "LogicalResourceId": "Layer"}  # the whole body, as the provider records it
    decision = reaper.decide(event(), {"state": "answering", "answer": sent}, destination({}))
    assert decision.answer == sent


@pytest.mark.parametrize("field", ["RequestId", "StackId", "LogicalResourceId"])
def test_a_recorded_answer_for_another_request_is_never_sent(field: str) -> None:
    forged = {"Status": "SUCCESS", "PhysicalResourceId": ARN.format(9), "Data": {}, "RequestId": "r-1",
              "StackId": STACK, "LogicalResourceId": "Layer", field: "someone-else"}
    decision = reaper.decide(event(), {"state": "answering", "answer": forged}, destination({}))
    assert decision.answer is not None and decision.answer["Status"] == "FAILED"
    assert (decision.answer["RequestId"], decision.answer["StackId"]) == ("r-1", STACK)


@pytest.mark.parametrize("record", [
    "not an object",
    {"requestContext": "x", "requestPayload": event()},
    {"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": event(), "responsePayload": ["x"]},
    {"requestPayload": "x"},
])
def test_a_malformed_destination_record_never_raises(record: Any) -> None:
    decision = reaper.reap(record, None, "us-east-1", send=lambda url, body: 200)
    assert decision.why


def test_a_create_that_published_names_its_version_so_the_rollback_deletes_it() -> None:
    decision = reaper.decide(event(), {"state": "published", "published": ARN.format(4)},
                             destination({"errorType": "Runtime.OutOfMemory"}))
    assert decision.answer is not None
    assert decision.answer["PhysicalResourceId"] == ARN.format(4)
    assert "the stack's rollback deletes it" in decision.answer["Reason"]
    assert decision.orphan == ""


def test_an_update_that_published_keeps_its_id_and_leaves_the_new_version_to_the_provider() -> None:
    decision = reaper.decide(event("Update", ARN.format(3)), {"state": "published", "published": ARN.format(5)},
                             destination({"errorType": "Runtime.OutOfMemory"}))
    assert decision.answer is not None
    assert decision.answer["PhysicalResourceId"] == ARN.format(3)
    assert decision.orphan == ARN.format(5)


def test_a_create_that_published_nothing_answers_an_id_its_rollback_delete_ignores() -> None:
    decision = reaper.decide(event(), None, destination({"errorType": "Runtime.OutOfMemory"}))
    assert decision.answer is not None and decision.answer["PhysicalResourceId"] == "Layer-reaped"


class Bucket:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}

    def read_json(self, key: str) -> dict[str, Any] | None:
        return self.objects.get(key)

    def write_json(self, key: str, value: dict[str, Any]) -> None:
        self.objects[key] = value


def test_reaping_records_what_it_did_and_answers_once() -> None:
    bucket = Bucket()
    sent: list[tuple[str, dict[str, Any]]] = []

    def send(url: str, body: dict[str, Any]) -> int:
        sent.append((url, body))
        return 200

    record = destination({"errorType": "Runtime.OutOfMemory"}, request=event("Update", ARN.format(3)))
    bucket.write_json(answers.record_key(record["requestPayload"]), {"state": "published", "published": ARN.format(5)})

    first = reaper.reap(record, bucket, "us-east-1", send=send)
    again = reaper.reap(record, bucket, "us-east-1", send=send)

    assert first.answer is not None and again.answer is None  # a second delivery of the record: no second answer
    assert len(sent) == 1 and sent[0][0] == URL
    key = answers.request_key(record["requestPayload"])
    assert bucket.objects[f"reaped/{key}.json"]["destination"]["requestPayload"]["ResponseURL"] == URL
    owner = identity.owner_key(STACK, "Layer")
    assert bucket.objects[answers.orphan_key(owner, ARN.format(5))] == {"arn": ARN.format(5)}


def test_an_event_that_is_not_cloudformations_is_not_answered() -> None:
    sent: list[str] = []

    def send(url: str, body: dict[str, Any]) -> int:
        sent.append(url)
        return 200

    foreign = {**event(), "ResponseURL": "https://attacker.example.com/x"}
    decision = reaper.reap(destination({}, request=foreign), Bucket(), "us-east-1", send=send)
    assert decision.answer is None and sent == []
