"""CloudFormation's side of a stack's life, operation by operation, against the real handler.

A ``Stack`` holds the resources CloudFormation would record (logical id ->
properties and physical id) and plays each stack operation as CloudFormation
does: the resource's own request, then a rollback or a cleanup where one is
due. After every request it checks that the layer versions in moto are
exactly those the stack references, plus those CloudFormation has yet to
delete in cleanup: nothing leaked, nothing lost.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import aws
from .cfn import STACK_ID, Cloudformation, event
from .receiver import Received

Properties = dict[str, Any]


@dataclass
class Resource:
    properties: Properties
    physical_id: str


@dataclass
class Stack:
    cfn: Cloudformation
    endpoint: str
    stack_id: str = STACK_ID
    resources: dict[str, Resource] = field(default_factory=dict)
    # Every answer, in order, for assertions on what was sent.
    answers: list[dict[str, Any]] = field(default_factory=list)
    # Deliver every request twice, as Lambda may after an asynchronous retry.
    redeliver: bool = False
    layer_names: set[str] = field(default_factory=set)
    # Other stacks sharing the account: their versions are expected too.
    peers: list[Stack] = field(default_factory=list)

    # -- the requests ------------------------------------------------------------------

    def send(self, request_type: str, logical_id: str, properties: Any, **kwargs: Any) -> dict[str, Any]:
        if isinstance(properties, dict) and isinstance(properties.get("LayerName"), str):
            self.layer_names.add(properties["LayerName"])
        url = self.cfn.receiver.url()
        request = event(request_type, copy.deepcopy(properties), url, logical_id=logical_id,
                        stack_id=self.stack_id, **kwargs)
        first = self._deliver(request, url, 0)
        if self.redeliver:
            again = self._deliver(request, url, 1)
            assert (again["Status"], again["PhysicalResourceId"]) == (first["Status"], first["PhysicalResourceId"]), \
                f"a redelivered {request_type} answered differently: {first} then {again}"
        self.answers.append(first)
        return first

    def _deliver(self, request: dict[str, Any], url: str, index: int) -> dict[str, Any]:
        from .cfn import LambdaContext

        self.cfn.app.lambda_handler(copy.deepcopy(request), LambdaContext())
        responses: list[Received] = self.cfn.receiver.responses_for(url)
        assert len(responses) == index + 1, f"expected one answer per delivery, got {len(responses)}"
        return responses[index].body

    # -- the stack operations ------------------------------------------------------------

    def create(self, logical_id: str, properties: Properties, *, later_resource_fails: bool = False) -> str:
        """CREATE: our resource, then (if it or a later resource failed) the rollback Delete."""
        answer = self.send("Create", logical_id, properties)
        if answer["Status"] == "FAILED":
            self.check(pending=set())
            self._rollback_delete(logical_id, properties, answer["PhysicalResourceId"])
            return "FAILED"
        self.check(pending={answer["PhysicalResourceId"]})
        if later_resource_fails:
            self._rollback_delete(logical_id, properties, answer["PhysicalResourceId"])
            return "ROLLED_BACK"
        self.resources[logical_id] = Resource(properties, answer["PhysicalResourceId"])
        self.check()
        return "SUCCESS"

    def create_that_dies(self, logical_id: str, properties: Properties,
                         die: Callable[[dict[str, Any]], dict[str, Any]],
                         reap: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
        """CREATE whose invocation dies (``die`` runs it and returns Lambda's destination record), answered by
        the reaper (``reap``); then the rollback Delete of whatever id that answer holds."""
        if isinstance(properties.get("LayerName"), str):
            self.layer_names.add(properties["LayerName"])
        url = self.cfn.receiver.url()
        request = event("Create", copy.deepcopy(properties), url, logical_id=logical_id, stack_id=self.stack_id)
        record = die(request)
        assert self.cfn.receiver.responses_for(url) == [], "the dead invocation answered"
        reap(record)
        responses: list[Received] = self.cfn.receiver.responses_for(url)
        assert len(responses) == 1, f"expected the reaper's one answer, got {len(responses)}"
        answer = responses[0].body
        self.answers.append(answer)
        assert answer["Status"] == "FAILED"
        self.check(pending=set())
        self._rollback_delete(logical_id, properties, answer["PhysicalResourceId"])
        return answer

    def _rollback_delete(self, logical_id: str, properties: Properties, physical_id: str) -> None:
        answer = self.send("Delete", logical_id, properties, physical_id=physical_id)
        assert answer["Status"] == "SUCCESS", f"rollback Delete failed: {answer['Reason']}"
        self.check()

    def update(self, logical_id: str, properties: Properties, *, later_resource_fails: bool = False) -> str:
        """UPDATE, with CloudFormation's cleanup or rollback sequence after it."""
        old = self.resources[logical_id]
        answer = self.send("Update", logical_id, properties, physical_id=old.physical_id,
                            old_properties=old.properties)
        new_id = answer["PhysicalResourceId"]
        if answer["Status"] == "FAILED":
            assert new_id == old.physical_id, "a failed Update must answer with the event's own id"
            self.check()
            self._rollback_update(logical_id, failed_properties=properties, recorded_id=old.physical_id)
            return "FAILED"
        # Until cleanup, both the old and the new version must exist.
        self.check(pending={new_id, old.physical_id})
        if later_resource_fails:
            self._rollback_update(logical_id, failed_properties=properties, recorded_id=new_id)
            return "ROLLED_BACK"
        if new_id != old.physical_id:  # replacement: UPDATE_COMPLETE_CLEANUP_IN_PROGRESS
            cleanup = self.send("Delete", logical_id, old.properties, physical_id=old.physical_id)
            assert cleanup["Status"] == "SUCCESS", f"cleanup Delete failed: {cleanup['Reason']}"
        self.resources[logical_id] = Resource(properties, new_id)
        self.check()
        return "SUCCESS"

    def _rollback_update(self, logical_id: str, failed_properties: Properties, recorded_id: str) -> None:
        """UPDATE_ROLLBACK_IN_PROGRESS: old properties back, new ones as OldResourceProperties."""
        old = self.resources[logical_id]
        answer = self.send("Update", logical_id, old.properties, physical_id=recorded_id,
                            old_properties=failed_properties)
        assert answer["Status"] == "SUCCESS", f"rollback Update failed: {answer['Reason']}"
        restored = answer["PhysicalResourceId"]
        assert restored == old.physical_id, \
            f"rollback answered {restored}, not the pre-update version {old.physical_id}"
        if recorded_id != restored:  # UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS
            cleanup = self.send("Delete", logical_id, failed_properties, physical_id=recorded_id)
            assert cleanup["Status"] == "SUCCESS", f"rollback cleanup Delete failed: {cleanup['Reason']}"
        self.check()

    def delete(self) -> None:
        """DELETE of the whole stack."""
        for logical_id, resource in list(self.resources.items()):
            answer = self.send("Delete", logical_id, resource.properties, physical_id=resource.physical_id)
            assert answer["Status"] == "SUCCESS", f"Delete failed: {answer['Reason']}"
            del self.resources[logical_id]
            self.check()

    # -- the invariant -------------------------------------------------------------------

    def referenced(self) -> set[str]:
        return {r.physical_id for stack in (self, *self.peers) for r in stack.resources.values()}

    def live(self) -> set[str]:
        names = set().union(*(stack.layer_names for stack in (self, *self.peers)))
        return aws.live_versions(self.endpoint, *sorted(names))

    def check(self, pending: set[str] | None = None) -> None:
        expected = self.referenced() | (pending or set())
        live = self.live()
        assert live == expected, f"moto holds {sorted(live)}, the stack references {sorted(expected)}"


def stacks(cfn: Cloudformation, endpoint: str) -> Callable[..., Stack]:
    """A factory: ``make(stack_id=..., redeliver=...)``."""

    def make(**kwargs: Any) -> Stack:
        return Stack(cfn, endpoint, **kwargs)

    return make
