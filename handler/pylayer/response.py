"""Answer CloudFormation: the one place a response body is made (``body``), kept within its 4096-byte limit
(``fit``), recorded for the reaper and PUT to the ResponseURL (``answer``).

The handler, its rejection of a malformed event and the reaper all answer through here. CloudFormation
rejects a longer body ("Response object is too long") and the stack waits for a timeout: the Reason is
trimmed first, then Data dropped (only ever on a FAILED answer in practice). Standard library only: the
reaper ships this module.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from .answers import Journal

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4096
MAX_REASON_CHARS = 1000
MAX_ID_CHARS = 1024
Status = Literal["SUCCESS", "FAILED"]
Send = Callable[[str, dict[str, Any]], int]


@dataclass(frozen=True)
class Answer:
    """What CloudFormation is told about one request."""

    status: Status
    physical_id: str
    reason: str = ""
    data: Mapping[str, str] = field(default_factory=dict)
    cause: str = ""  # a FAILED answer's cause (ProviderError.cause): the Failures metric's dimension


def body(event: Mapping[str, Any], answer: Answer) -> dict[str, Any]:
    """The response body for an answer to event: every body the provider and the reaper send is made here."""
    return {
        "Status": answer.status,
        "Reason": answer.reason,
        "PhysicalResourceId": answer.physical_id,
        "StackId": str(event.get("StackId", "")),
        "RequestId": str(event.get("RequestId", "")),
        "LogicalResourceId": str(event.get("LogicalResourceId", "")),
        "Data": dict(answer.data),
        "NoEcho": False,
    }


def answer(event: Mapping[str, Any], reply: Answer | dict[str, Any], journal: Journal, send: Send) -> int | None:
    """Record the body (the reaper sends it again if this invocation dies during the PUT), send it, record that
    CloudFormation's reply. The HTTP status; None when it could not be delivered (logged, never raised: the
    invocation then ends normally, and nothing more can be done from here). A dict is a body made before,
    by ``body``: a recorded answer sent again."""
    sent = body(event, reply) if isinstance(reply, Answer) else reply
    log.info("Answering %s", sent.get("Status"), extra={"reason": sent.get("Reason"),
                                                        "physical_id": sent.get("PhysicalResourceId")})
    journal.answering(sent)
    try:
        status = send(str(event["ResponseURL"]), sent)
    except (OSError, ValueError, http.client.HTTPException):
        log.exception("Could not deliver the answer to CloudFormation")
        return None
    if status >= 300:
        log.error("CloudFormation refused the answer: HTTP %d (an expired or reused ResponseURL?)", status)
    journal.answered(status)  # a refusal too: sending the same body again would be refused again
    return status


def body_size(body: dict[str, Any]) -> int:
    return len(json.dumps(body).encode())


def fit(body: dict[str, Any], limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """A copy of body whose JSON is at most limit bytes."""
    fitted = dict(body)
    fitted["Reason"] = _cut(str(fitted.get("Reason", "")), MAX_REASON_CHARS)
    fitted["PhysicalResourceId"] = _cut(str(fitted.get("PhysicalResourceId", "")), MAX_ID_CHARS)
    if body_size(fitted) > limit:
        fitted["Reason"] = _longest_fitting_reason(fitted, limit)
    if body_size(fitted) > limit and fitted.get("Data"):
        fitted["Data"] = {}
        if fitted.get("Status") == "SUCCESS":
            fitted["Status"] = "FAILED"
            fitted["Reason"] = "The response was too large for CloudFormation."
    for key in ("StackId", "RequestId", "LogicalResourceId", "PhysicalResourceId"):
        # Only a malformed event gets here: CloudFormation's own ids are short.
        if body_size(fitted) > limit:
            fitted[key] = _cut(str(fitted.get(key, "")), 200)
    return fitted


def _longest_fitting_reason(body: dict[str, Any], limit: int) -> str:
    """Binary search: JSON escapes make bytes per character vary (\\uXXXX is 6)."""
    reason = body["Reason"]
    low, high = 0, len(reason)
    while low < high:
        middle = (low + high + 1) // 2
        if body_size({**body, "Reason": _cut(reason, middle)}) <= limit:
            low = middle
        else:
            high = middle - 1
    return _cut(reason, low) if low > 20 else ""


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - 3, 0)] + "..."


_CONTEXTS: dict[str, ssl.SSLContext] = {}


def _tls_context() -> ssl.SSLContext:
    """One verified TLS context per CA bundle: building one costs ~40 ms (it loads every CA)."""
    bundle = os.environ.get("SSL_CERT_FILE", "")
    if bundle not in _CONTEXTS:
        _CONTEXTS[bundle] = ssl.create_default_context()
    return _CONTEXTS[bundle]


def send(url: str, body: dict[str, Any], attempts: int = 5, pause: float = 1.0,
         sleep: Callable[[float], None] = time.sleep) -> int:
    """PUT the (fitted) body to the presigned ResponseURL; the HTTP status (a 5xx only when every attempt got
    one), or raises the last connection error.

    Content-Type is empty: the presigned URL's signature covers none. crhelper's
    own sender retries for ever; this one stops, so a lost ResponseURL cannot
    keep the function running until its timeout.
    """
    data = json.dumps(fit(body)).encode()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("the ResponseURL is not an HTTPS URL")
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    for attempt in range(attempts):
        last = attempt == attempts - 1
        try:
            connection = http.client.HTTPSConnection(parts.hostname, parts.port, context=_tls_context(), timeout=30)
            try:
                headers = {"content-type": "", "content-length": str(len(data))}
                connection.request("PUT", path, body=data, headers=headers)
                status = connection.getresponse().status
            finally:
                connection.close()
            if status < 500 or last:
                return status  # the caller logs a refusal: 4xx (an expired URL, say), or a 5xx that stayed
        except (OSError, http.client.HTTPException):
            if last:
                raise
        sleep(pause * 2**attempt)  # never after the last attempt: nothing follows it
    raise AssertionError("unreachable: the last attempt returns or raises")
