"""Every bad input is answered FAILED with a short, clear reason, and nothing is left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.functional.conftest import builds_left
from tests.support import aws
from tests.support.cfn import Cloudformation, LambdaContext, event

VALID = {"LayerName": "six", "Requirements": ["six==1.16.0"], "Runtime": "python3.12",
         "Architecture": "x86_64"}


@pytest.mark.parametrize(("change", "expected"), [
    ({"Requirements": None}, "Requirements is required."),
    ({"Requirements": ["--index-url http://x"]}, "is a pip option"),
    ({"Requirements": ["-r requirements.txt"]}, "is a pip option"),
    ({"Requirements": ["./local/package"]}, "is a path or URL"),
    ({"Requirements": ["pkg @ https://example.com/pkg.whl"]}, "direct URL reference"),
    ({"Requirements": ["six==1.16.0; rm -rf /"]}, "not a valid PEP 508 requirement"),
    ({"Architecture": "sparc"}, "Architecture sparc is not supported: use one of x86_64, arm64."),
    ({"Runtime": "python2.7"}, "Runtime python2.7 is not supported"),
    ({"LayerName": "no spaces allowed"}, "LayerName no spaces allowed is invalid"),
    ({"Requirement": ["six"]}, "Unknown properties: Requirement."),
])
def test_invalid_properties_are_refused_before_any_install(
        cfn: Cloudformation, moto_endpoint: str, work_root: Path,
        change: dict[str, object], expected: str) -> None:
    props = {k: v for k, v in {**VALID, **change}.items() if v is not None}

    answer = cfn.create(props).body

    assert answer["Status"] == "FAILED"
    assert expected in answer["Reason"]
    assert len(answer["Reason"]) < 300
    assert aws.live_versions(moto_endpoint, "six") == set()
    assert builds_left(work_root) == []


def test_a_package_that_does_not_exist_names_the_package(cfn: Cloudformation, moto_endpoint: str,
                                                         work_root: Path) -> None:
    props = {**VALID, "Requirements": ["no-such-package-pylayer-test==1.0"]}

    answer = cfn.create(props).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("Install failed for python3.12 x86_64:")
    assert "no-such-package-pylayer-test" in answer["Reason"]
    assert builds_left(work_root) == []  # /tmp is clean after a failure too
    assert aws.live_versions(moto_endpoint, "six") == set()


def test_a_failed_update_answers_with_the_events_own_id(cfn: Cloudformation, moto_endpoint: str) -> None:
    arn = cfn.create(VALID).body["PhysicalResourceId"]

    answer = cfn.update({**VALID, "Architecture": "mips"}, VALID, arn).body

    assert answer["Status"] == "FAILED"
    assert answer["PhysicalResourceId"] == arn
    assert aws.live_versions(moto_endpoint, "six") == {arn}


def test_an_oversized_layer_fails_before_upload_naming_the_largest_packages(
        cfn: Cloudformation, moto_endpoint: str, work_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pylayer.archive

    monkeypatch.setattr(pylayer.archive, "MAX_UNZIPPED_BYTES", 40_000)  # each of the two is ~30 kB
    props = {**VALID, "Requirements": ["six==1.16.0", "attrs==24.2.0"]}

    answer = cfn.create(props).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("Layer is ")
    assert "Lambda allows 0.0 MB" in answer["Reason"] and "Largest: " in answer["Reason"]
    assert "attrs" in answer["Reason"]
    assert aws.artifacts(moto_endpoint) == []
    assert builds_left(work_root) == []


def test_missing_bucket_configuration_fails_create_clearly(cfn: Cloudformation,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAYER_BUCKET")
    answer = cfn.create(VALID).body
    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == "The provider has no LAYER_BUCKET configured."


@pytest.mark.parametrize("properties", [
    {"LayerName": "x" * 5000, "Requirements": ["y" * 5000]},
    {"Requirements": ["a" * 100 + "-"] * 5000},
    {f"Unknown{i}" * 20: "v" for i in range(300)},
    {"LayerName": "ok", "Requirements": ["\u2603" * 2000]},
    "not a map",
])
def test_every_answer_fits_in_4096_bytes(cfn: Cloudformation, properties: object) -> None:
    received = cfn.create(properties, logical_id="L" * 255)

    assert len(received.raw) <= 4096
    assert received.body["Status"] == "FAILED"
    assert received.body["Reason"]


def test_the_response_url_is_never_logged(cfn: Cloudformation, capfd: pytest.CaptureFixture[str],
                                          caplog: pytest.LogCaptureFixture) -> None:
    url = cfn.receiver.url()
    cfn.app.lambda_handler(event("Create", {**VALID, "Architecture": "sparc"}, url), LambdaContext())
    assert cfn.receiver.response_for(url).body["Status"] == "FAILED"

    output = capfd.readouterr()
    logged = output.out + output.err + caplog.text
    assert "Architecture sparc" in logged  # the failure is logged in full ...
    assert "X-Amz-Signature" not in logged  # ... the presigned URL is not
    assert url.split("?")[0] not in logged


def test_logs_are_json_keyed_by_stack_logical_id_and_request_type(
        cfn: Cloudformation, caplog: pytest.LogCaptureFixture) -> None:
    cfn.create({**VALID, "Architecture": "sparc"}, logical_id="KeyedLayer")

    record = next(r for r in caplog.records if r.getMessage().startswith("Request failed"))
    # Format it as the function's log stream gets it: powertools' JSON formatter.
    logged = json.loads(cfn.app.logger.registered_formatter.format(record))
    assert logged["logical_resource_id"] == "KeyedLayer"
    assert logged["request_type"] == "Create"
    assert logged["stack_id"].startswith("arn:aws:cloudformation:")
    assert logged["cause"] == "InvalidProperties"
    assert logged["level"] == "ERROR"


def test_an_event_without_response_url_is_dropped_without_error(cfn: Cloudformation) -> None:
    broken = event("Create", VALID, "https://localhost/unused")
    del broken["ResponseURL"]
    assert cfn.app.lambda_handler(broken, LambdaContext()) is None


def test_work_directories_left_by_a_killed_invocation_are_removed_by_the_next(
        cfn: Cloudformation, work_root: Path) -> None:
    stale = work_root / "builds" / "build-killed"
    (stale / "python" / "pkg").mkdir(parents=True)
    (stale / "layer.zip").write_bytes(b"partial")

    cfn.create({**VALID, "Architecture": "sparc"})

    assert builds_left(work_root) == []
