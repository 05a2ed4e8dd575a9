"""Each request's answer, recorded where the reaper can read it: ``requests/<key>.json`` in the bucket.

A Lambda invocation that dies (out of memory, a crash, a kill) answers nothing, and CloudFormation
would wait up to an hour. Its failure reaches the reaper (the provider's on-failure destination),
which answers FAILED, unless the record says the request was answered: a second answer can overwrite
the first. So the provider records, for each request:

- ``published``: the version it published (before sharing and answering), so the reaper can name it;
- ``answering``: the body, just before the PUT (a death during the PUT: the reaper sends the same body);
- ``answered``: after CloudFormation took it (its HTTP status).

Standard library only: the reaper imports this too.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)
PREFIX = "requests/"
REAPED = "reaped/"
ORPHANS = "orphans/"


class Objects(Protocol):
    def read_json(self, key: str) -> dict[str, Any] | None: ...
    def write_json(self, key: str, value: dict[str, Any]) -> None: ...


def request_key(event: Mapping[str, Any]) -> str:
    """One request of one stack's resource (its RequestId alone is not unique across accounts)."""
    text = "|".join(str(event.get(k, "")) for k in ("StackId", "LogicalResourceId", "RequestId"))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def record_key(event: Mapping[str, Any]) -> str:
    return f"{PREFIX}{request_key(event)}.json"


def claim_key(event: Mapping[str, Any]) -> str:
    """Created once per request (If-None-Match): the delivery that creates it builds, a duplicate waits."""
    return f"{PREFIX}{request_key(event)}.claim"


def deleted_key(owner: str) -> str:
    """When CloudFormation last sent a Delete for a resource: a Create still building then must not leave
    its version behind (the Delete of a Create that outlived its ServiceTimeout)."""
    return f"{PREFIX}deleted/{owner}.json"


def orphan_key(owner: str, arn: str) -> str:
    return f"{ORPHANS}{owner}/{hashlib.sha256(arn.encode()).hexdigest()[:16]}.json"


@dataclass
class Journal:
    """The records of one request. Best effort: a record that cannot be written never stops the answer."""

    objects: Objects | None
    event: Mapping[str, Any]
    state: dict[str, Any] = field(default_factory=dict)

    def published(self, arn: str) -> None:
        self._write({"state": "published", "published": arn})

    def answering(self, body: Mapping[str, Any]) -> None:
        self._write({"state": "answering", "answer": _summary(body)})

    def answered(self, status: int) -> None:
        self._write({"state": "answered", "http_status": status})

    def _write(self, change: dict[str, Any]) -> None:
        if self.objects is None:
            return
        self.state.update(change, at=time.time(), request_type=self.event.get("RequestType", ""))
        try:
            self.objects.write_json(record_key(self.event), dict(self.state))
        except Exception:
            log.warning("Could not record the request's state %s", change.get("state"), exc_info=True)


# A recorded answer is sent again only if it answers this very request: the record's key is derived
# from the request, but the bucket is writable by more than the provider.
_IDS = ("RequestId", "StackId", "LogicalResourceId")


def own(answer: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether a recorded answer is this request's own (its ids are the event's)."""
    return all(isinstance(answer.get(k), str) and answer.get(k) == event.get(k) for k in _IDS)


def _summary(body: Mapping[str, Any]) -> dict[str, Any]:
    """The answer as sent (no ResponseURL: that is in the event)."""
    return {k: body.get(k) for k in ("Status", "Reason", "PhysicalResourceId", "StackId", "RequestId",
                                      "LogicalResourceId", "Data", "NoEcho") if k in body}
