"""The reaper: answers CloudFormation for a provider invocation that died without answering.

The provider function's asynchronous invocation config sends failed invocations to this function (an
on-failure destination). Lambda's record holds the original event (``requestPayload``) and what
ended it (``responsePayload``: a timeout, out of memory, a crash). Unless the provider's record
(``answers``) says the request was answered, the reaper answers FAILED within seconds, with a reason
that says what happened; CloudFormation would otherwise wait up to an hour, and no one would be told
why. It holds none of the provider's permissions on layers: a version the dead request published is
named in the answer (a Create's rollback deletes it) or left for the provider to delete (an Update's,
``orphans/``). Standard library and the runtime's boto3 only.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import answers, identity, origin, response

log = logging.getLogger(__name__)
NAMESPACE = "PythonLayerProvider"


@dataclass(frozen=True)
class Decision:
    answer: dict[str, Any] | None  # the body to send; None: leave the request alone
    why: str
    orphan: str = ""  # a version the dead request published that nothing will reference


def what_happened(destination: Mapping[str, Any]) -> str:
    """A few words on why the invocation ended, from Lambda's destination record."""
    context = destination.get("requestContext")
    condition = str(context.get("condition", "")) if isinstance(context, Mapping) else ""
    if condition == "EventAgeExceeded":
        return "waited longer than its maximum event age and was never run"
    if condition == "ZeroReservedConcurrency":
        return "could not run: the provider's reserved concurrency is 0"
    payload = destination.get("responsePayload") or {}
    kind = str(payload.get("errorType", "")) if isinstance(payload, Mapping) else ""
    message = str(payload.get("errorMessage", "")) if isinstance(payload, Mapping) else str(payload)
    if kind == "Sandbox.Timedout" or "Task timed out" in message:
        return "timed out"
    if kind == "Runtime.OutOfMemory" or "signal: killed" in message:
        return "was killed (out of memory: raise the provider's MemorySize)"
    if kind == "Runtime.ExitError":
        return f"crashed ({message.split('Error: ', 1)[-1][:80] or 'its runtime exited'})"
    return f"failed ({kind or 'unknown error'})"


def decide(event: Mapping[str, Any], record: Mapping[str, Any] | None, destination: Mapping[str, Any]) -> Decision:
    """What to answer for a dead invocation, given what the provider recorded. Pure."""
    known = record or {}
    state = known.get("state")
    if state == "answered":
        return Decision(None, "already answered")
    recorded = known.get("answer")
    if state == "answering" and isinstance(recorded, Mapping) and answers.own(recorded, event):
        return Decision(dict(recorded), "the provider died sending its answer: the same answer again")
    published = str(known.get("published") or "")
    request_type = str(event.get("RequestType", ""))
    physical = str(event.get("PhysicalResourceId") or "")
    orphan = ""
    if request_type == "Create":
        # A Create's rollback deletes what the answer names: the version it published, if any.
        physical = published or f"{str(event.get('LogicalResourceId', 'Layer'))[:64]}-reaped"
    elif published and published != physical:
        orphan = published  # an Update's new version: never referenced, deleted by the provider later
    if not published:
        note = " Nothing was published."
    elif orphan:
        note = f" Version {published} was published; the provider deletes it at this resource's next request."
    else:
        note = f" Version {published} was published; the stack's rollback deletes it."
    reason = (f"The provider's invocation {what_happened(destination)} before answering "
              f"(request {str(event.get('RequestId', ''))[:40]}).{note}")
    body = response.body(event, response.Answer("FAILED", physical or "reaped", reason))
    return Decision(body, "died before answering", orphan)


def reap(destination: Mapping[str, Any], objects: answers.Objects | None, region: str,
         extra_hosts: frozenset[str] = frozenset(), send: response.Send = response.send) -> Decision:
    """Handle one destination record: decide, keep the reaper's own record, answer."""
    if not isinstance(destination, Mapping):
        return Decision(None, "not a destination record")
    event = destination.get("requestPayload")
    if not isinstance(event, Mapping) or not event.get("ResponseURL"):
        return Decision(None, "not a custom-resource request")
    problem = origin.problem(event, region, extra_hosts)
    if problem:
        return Decision(None, f"not CloudFormation's: {problem}")
    record = objects.read_json(answers.record_key(event)) if objects is not None else None
    decision = decide(event, record, destination)
    if objects is not None:
        # What an operator needs to answer by hand if ever needed (the ResponseURL included).
        objects.write_json(f"{answers.REAPED}{answers.request_key(event)}.json",
                           {"destination": dict(destination), "decision": decision.why, "answer": decision.answer,
                            "at": time.time()})
        if decision.orphan:
            owner = identity.owner_key(str(event.get("StackId", "")), str(event.get("LogicalResourceId", "")))
            objects.write_json(answers.orphan_key(owner, decision.orphan), {"arn": decision.orphan})
    if decision.answer is not None:
        if response.answer(event, decision.answer, answers.Journal(objects, event), send) is None:
            # Not delivered: fail this invocation, so that Lambda runs the reaper again (its async retries).
            raise ConnectionError("could not deliver the answer to CloudFormation")
        _metric("ReapedRequests", 1)
    return decision


def _metric(name: str, value: float) -> None:
    """CloudWatch embedded metric format: a log line, no API call."""
    print(json.dumps({"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [
        {"Namespace": NAMESPACE, "Dimensions": [["service"]], "Metrics": [{"Name": name, "Unit": "Count"}]}]},
        "service": "python-layer-provider", name: value}))


class _Bucket:
    """The artifact bucket's records, through the runtime's boto3."""

    def __init__(self, bucket: str) -> None:
        import boto3

        self.bucket = bucket
        self.s3 = boto3.client("s3")

    def read_json(self, key: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        value = json.loads(body)
        return value if isinstance(value, dict) else None

    def write_json(self, key: str, value: dict[str, Any]) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(value, default=str).encode(),
                           ContentType="application/json")


def handler(destination: dict[str, Any], context: Any) -> dict[str, Any]:
    logging.getLogger().setLevel(logging.INFO)
    bucket = os.environ.get("LAYER_BUCKET", "")
    decision = reap(destination, _Bucket(bucket) if bucket else None, os.environ.get("AWS_REGION", ""),
                    origin.hosts(os.environ.get("PYLAYER_RESPONSE_HOSTS", "")))
    log.info("Reaper: %s", decision.why)
    return {"decision": decision.why, "answered": decision.answer is not None}
