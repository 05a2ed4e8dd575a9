"""From a CloudFormation request to its answer: Create, Update or Delete on the provider, and every failure a
FAILED answer with a short Reason. No I/O of its own: ``response.answer`` sends what this returns.

It keeps crhelper's semantics where CloudFormation sees them (tested against crhelper itself): the
physical id of a request that names none and fails is ``<stack name>_<logical id>_<8 random characters>``,
and a Delete answers with the id it was given. crhelper's ``CfnResource`` is not used to run the request:
it starts a timer thread that answers on its own near the Lambda timeout and sends through a sender of its
own (no size limit, retries for ever), and neither can be turned off through its public API
(docs/development.md#the-answer-path).
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

from .errors import ProviderError
from .provider import Outcome, Request
from .response import Answer

log = logging.getLogger(__name__)

RequestType = Literal["Create", "Update", "Delete"]
REQUEST_TYPES: tuple[RequestType, ...] = ("Create", "Update", "Delete")


class Operations(Protocol):
    """What the dispatch asks of the provider (pylayer.provider.Provider)."""

    def create(self, request: Request) -> Outcome: ...
    def update(self, request: Request) -> Outcome: ...
    def delete(self, request: Request) -> object: ...


def request_of(event: Mapping[str, Any]) -> Request:
    """What the core needs of an event (one already checked by the handler: its ids are strings)."""
    physical = event.get("PhysicalResourceId")
    return Request(event.get("ResourceProperties"), str(event["StackId"]), str(event["LogicalResourceId"]),
                   physical if isinstance(physical, str) else None)


def dispatch(event: Mapping[str, Any], make_provider: Callable[[], Operations], invocation: str = "unknown"
             ) -> Answer:
    """Run the request on the provider (made here, so that a failure to make it is answered too); a
    ProviderError is a FAILED answer with its Reason, anything else a FAILED answer that points at the log of
    this invocation (and a traceback in that log)."""
    kind = event.get("RequestType")
    try:
        provider = make_provider()
        if kind == "Create":
            outcome = provider.create(request_of(event))
            return Answer("SUCCESS", outcome.physical_id or _given_or_new(event), data=outcome.data)
        if kind == "Update":
            outcome = provider.update(request_of(event))
            return Answer("SUCCESS", outcome.physical_id or _given_or_new(event), data=outcome.data)
        if kind == "Delete":
            provider.delete(request_of(event))
            return Answer("SUCCESS", _given_or_new(event))
        return failed(event, f"Malformed request: unknown RequestType {str(kind)[:40]!r}.", "InvalidRequest")
    except ProviderError as exc:
        # A user's error: one line with the Reason and the detail, no traceback (docs/errors.md).
        log.error("Request failed: %s", exc.reason, extra={"cause": exc.cause, "detail": exc.detail})
        return failed(event, exc.reason, exc.cause)
    except Exception:
        log.exception("Unexpected error")
        return failed(event, f"Internal error in the provider; see its log for request {invocation}.", "Internal")


def failed(event: Mapping[str, Any], reason: str, cause: str) -> Answer:
    return Answer("FAILED", _given_or_new(event), reason, cause=cause)


def _given_or_new(event: Mapping[str, Any]) -> str:
    """The event's PhysicalResourceId, else a new one in crhelper's form: a failed Create must still name
    something, and the Delete of its rollback then sends that name back."""
    if "PhysicalResourceId" in event:
        return str(event["PhysicalResourceId"])
    return new_physical_id(event)


def new_physical_id(event: Mapping[str, Any]) -> str:
    stack = str(event.get("StackId", "")).split("/")
    name = stack[1] if len(stack) > 1 else stack[0]
    tail = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8))
    return f"{name}_{event.get('LogicalResourceId', '')}_{tail}"
