"""AWS faults injected below boto3's retry logic, so the provider's real retries run.

A botocore ``before-send`` handler answers chosen operations with an error
instead of sending them (or sends them and then pretends the answer was lost).
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse


@dataclass(frozen=True)
class Fault:
    status: int
    code: str
    # True: really send the request, then answer with the error (a lost answer).
    after_sending: bool = False


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _error_response(url: str, service: str, fault: Fault) -> AWSResponse:
    if service == "s3":
        body = f"<Error><Code>{fault.code}</Code><Message>injected</Message></Error>".encode()
        headers = {"content-type": "application/xml"}
    else:
        body = json.dumps({"message": "injected", "Type": "User"}).encode()
        headers = {"x-amzn-ErrorType": fault.code, "content-type": "application/json"}
    response_headers: Any = headers
    return AWSResponse(url, fault.status, response_headers, _Raw(body))


@dataclass
class Faults:
    """``plan[operation]`` lists the faults for its next calls; later calls go through."""

    plan: dict[str, list[Fault]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)

    def session(self) -> boto3.session.Session:
        session = boto3.session.Session()
        handler: Any = self._before_send  # botocore types handlers as returning None
        session.events.register("before-send", handler)
        return session

    def _before_send(self, request: Any, event_name: str, **kwargs: Any) -> AWSResponse | None:
        service, operation = event_name.split(".", 2)[1:]
        self.calls[operation] += 1
        queued = self.plan.get(operation) or []
        if not queued:
            return None
        fault = queued.pop(0)
        if fault.after_sending:
            forwarded = urllib.request.Request(request.url, data=request.body, method=request.method,
                                               headers=dict(request.headers))
            with urllib.request.urlopen(forwarded, timeout=30):
                pass
        return _error_response(request.url, service, fault)


def always(fault: Fault) -> list[Fault]:
    return [fault] * 50


THROTTLED_LAMBDA = Fault(429, "TooManyRequestsException")
DENIED_LAMBDA = Fault(403, "AccessDeniedException")
DENIED_S3 = Fault(403, "AccessDenied")
SLOW_DOWN_S3 = Fault(503, "SlowDown")
LOST_ANSWER = Fault(500, "ServiceException", after_sending=True)
