from __future__ import annotations

import json
from pathlib import Path

import pytest

from pylayer.response import MAX_BODY_BYTES, fit


def body(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "Status": "FAILED", "PhysicalResourceId": "stack_Layer_ABCDEFGH",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
        "RequestId": "r", "LogicalResourceId": "Layer", "Reason": "bad", "Data": {}, "NoEcho": False,
    }
    base.update(changes)
    return base


def size(b: dict[str, object]) -> int:
    return len(json.dumps(b).encode())


def test_a_small_body_is_unchanged() -> None:
    assert fit(body()) == body()


@pytest.mark.parametrize("reason", ["x" * 100_000, "\u2603" * 5000, "\U0001f600" * 3000])
def test_a_long_reason_is_cut_to_fit(reason: str) -> None:
    fitted = fit(body(Reason=reason))
    assert size(fitted) <= MAX_BODY_BYTES
    assert fitted["Reason"].endswith("...")
    assert fitted["Reason"][:10] == reason[:10]


def test_oversized_data_on_success_turns_into_a_clear_failure() -> None:
    fitted = fit(body(Status="SUCCESS", Reason="", Data={f"k{i}": "v" * 100 for i in range(100)}))
    assert size(fitted) <= MAX_BODY_BYTES
    assert fitted["Status"] == "FAILED"
    assert fitted["Data"] == {}
    assert fitted["Reason"] == "The response was too large for CloudFormation."


def test_oversized_ids_of_a_malformed_event_are_cut() -> None:
    fitted = fit(body(StackId="s" * 5000, LogicalResourceId="l" * 5000, PhysicalResourceId="p" * 5000))
    assert size(fitted) <= MAX_BODY_BYTES


def test_sending_gives_up_after_its_attempts_instead_of_forever() -> None:
    import socket

    from pylayer.response import send

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pauses: list[float] = []
    with pytest.raises(OSError):
        send(f"https://localhost:{port}/response?X-Amz-Signature=x", body(), attempts=3, sleep=pauses.append)
    assert pauses == [1.0, 2.0]


def test_only_https_response_urls_are_answered() -> None:
    from pylayer.response import send

    with pytest.raises(ValueError, match="not an HTTPS URL"):
        send("http://example.com/x", body())


def test_one_function_makes_every_response_body() -> None:
    """The handler, its rejections and the reaper answer through response.answer; only response.body makes a
    body (answers.py copies one for the record)."""
    handler = Path(__file__).resolve().parents[2] / "handler"
    making = sorted(str(p.relative_to(handler)) for p in handler.rglob("*.py")
                    if '"Status": ' in p.read_text() and p.name not in ("response.py", "answers.py"))
    assert making == []
