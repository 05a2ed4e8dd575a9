"""Keep a custom-resource response within CloudFormation's 4096-byte limit.

CloudFormation rejects a longer body ("Response object is too long") and the
stack waits for a timeout; crhelper does not check. We trim the Reason first,
then drop Data (only ever on a FAILED answer in practice).
"""

from __future__ import annotations

import json
from typing import Any

MAX_BODY_BYTES = 4096
MAX_REASON_CHARS = 1000
MAX_ID_CHARS = 1024


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
