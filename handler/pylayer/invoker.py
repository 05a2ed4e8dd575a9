"""Invoking a runtime worker function: its report, or its own failure as ``{"error": ...}``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .aws import Clients

# The invoke client's read timeout: longer than any function may run (Lambda's 900 s), so one client
# serves every invoke of a container (a new one takes 0.05-0.1 s to make). How long the provider waits
# is the caller's to bound: ``LambdaWorkers`` stops waiting when the request's time is up.
READ_TIMEOUT = 910


class Invoker:
    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    def client(self) -> Any:
        # Throttling and a dropped connection are retried (the worker's job is idempotent: the same
        # presigned output); a worker's own failure or timeout is its answer, not retried.
        return self.clients.client("lambda", read_timeout=READ_TIMEOUT, max_attempts=2)

    def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        """The worker's answer. ``timeout``: what the request has left; the caller stops waiting then."""
        client = self.client()
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
