"""Invoking a runtime worker function: its report, or its own failure as ``{"error": ...}``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .aws import Clients


class Invoker:
    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        # Throttling is retried; a worker that ran past the timeout is not (it would only run again).
        client = self.clients.client("lambda", read_timeout=int(timeout) + 10, max_attempts=2)
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
