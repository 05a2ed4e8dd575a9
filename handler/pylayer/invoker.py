"""Invoking a runtime worker function: its report, or its own failure as ``{"error": ...}``."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from .aws import Clients

# The read timeout of the invoke client, rounded up to this step: one client serves a container's invokes
# (a new one takes 0.05-0.1 s to make), and none waits much past the time the request has left.
READ_TIMEOUT_STEP = 120


class Invoker:
    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    def client(self, timeout: float) -> Any:
        """The client an invoke with this much time left uses; made ahead of it by ``prepare``."""
        read_timeout = READ_TIMEOUT_STEP * math.ceil((max(timeout, 1.0) + 10) / READ_TIMEOUT_STEP)
        # Throttling is retried; a worker that ran past the timeout is not (it would only run again).
        return self.clients.client("lambda", read_timeout=read_timeout, max_attempts=2)

    def prepare(self, timeout: float) -> None:
        self.client(timeout)

    def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        client = self.client(timeout)
        answer = self.clients.call(f"Invoking the worker {function}", client, "invoke", FunctionName=function,
                                   InvocationType="RequestResponse", Payload=json.dumps(payload).encode())
        body = answer["Payload"].read()
        try:
            data = json.loads(body)
        except ValueError:
            data = {"error": body[:300].decode("utf-8", "replace")}
        if answer.get("FunctionError"):
            message = data.get("errorMessage") if isinstance(data, dict) else None
            return {"error": f"{answer['FunctionError']}: {message or body[:300].decode('utf-8', 'replace')}"}
        return data if isinstance(data, dict) else {"error": "the worker answered with something not an object"}
