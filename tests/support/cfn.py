"""CloudFormation's side of the custom-resource protocol, played against the real handler."""

from __future__ import annotations

import importlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .receiver import Received, ResponseReceiver

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/consumer/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
SERVICE_TOKEN = "arn:aws:lambda:us-east-1:123456789012:function:python-layer-provider-ProviderFunction"


@dataclass
class LambdaContext:
    """What crhelper and powertools read from a Lambda context."""

    timeout_seconds: float = 900.0
    function_name: str = "python-layer-provider-ProviderFunction"
    memory_limit_in_mb: int = 3008
    invoked_function_arn: str = SERVICE_TOKEN
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000)


def event(request_type: str, properties: Any, response_url: str, *, logical_id: str = "Layer",
          physical_id: str | None = None, old_properties: Any = None,
          stack_id: str = STACK_ID) -> dict[str, Any]:
    """A request shaped as CloudFormation sends it (ServiceToken copied into the properties)."""
    if isinstance(properties, dict):
        properties = {"ServiceToken": SERVICE_TOKEN, **properties}
    body: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": SERVICE_TOKEN,
        "ResponseURL": response_url,
        "StackId": stack_id,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": logical_id,
        "ResourceType": "Custom::PythonLayer",
        "ResourceProperties": properties,
    }
    if physical_id is not None:
        body["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        body["OldResourceProperties"] = {"ServiceToken": SERVICE_TOKEN, **old_properties}
    return body


class Cloudformation:
    """Sends one request to ``app.lambda_handler`` and returns what came back on the ResponseURL."""

    def __init__(self, receiver: ResponseReceiver) -> None:
        self.receiver = receiver
        self.app = importlib.import_module("app")

    def send(self, request_type: str, properties: Any, *, timeout_seconds: float = 900.0,
             **kwargs: Any) -> Received:
        url = self.receiver.url()
        request = event(request_type, properties, url, **kwargs)
        self.app.lambda_handler(request, LambdaContext(timeout_seconds=timeout_seconds))
        answer = self.receiver.response_for(url)
        assert len(self.receiver.responses_for(url)) == 1, "more than one response for one request"
        return answer

    def create(self, properties: Any, **kwargs: Any) -> Received:
        return self.send("Create", properties, **kwargs)

    def update(self, properties: Any, old_properties: Any, physical_id: str, **kwargs: Any) -> Received:
        return self.send("Update", properties, old_properties=old_properties,
                         physical_id=physical_id, **kwargs)

    def delete(self, properties: Any, physical_id: str, **kwargs: Any) -> Received:
        return self.send("Delete", properties, physical_id=physical_id, **kwargs)
