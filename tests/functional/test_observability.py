"""Metrics (embedded metric format) and trace segments of real requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.support.cfn import Cloudformation

SIX = {"LayerName": "six", "Requirements": ["six==1.16.0"], "Runtime": "python3.12", "Architecture": "x86_64"}


def emitted(output: str) -> list[dict[str, Any]]:
    """The EMF documents Powertools printed: one JSON line each, with an _aws key."""
    documents = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def values(documents: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "PythonLayerProvider"
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                merged[metric["Name"]] = sum(value) if isinstance(value, list) else value
                merged[f"{metric['Name']}.dimensions"] = {d: document[d] for ds in directive["Dimensions"] for d in ds}
    return merged


def test_a_build_reports_its_time_sizes_and_cache_use(cfn: Cloudformation,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    first = cfn.create(SIX, logical_id="First").body
    built = values(emitted(capsys.readouterr().out))
    cfn.create(SIX, logical_id="Second")
    reused = values(emitted(capsys.readouterr().out))

    assert built["CreateRequests"] == 1.0
    assert built["BuildSeconds"] > 0
    assert built["UnzippedBytes"] == float(first["Data"]["UnzippedSize"])
    assert built["ZipBytes"] == float(first["Data"]["CodeSize"])
    assert built["ArchiveReused"] == 0.0
    assert reused["ArchiveReused"] == 1.0
    assert built["BuildSeconds.dimensions"] == {"service": "python-layer-provider"}


def test_failures_are_counted_by_cause(cfn: Cloudformation, capsys: pytest.CaptureFixture[str]) -> None:
    cfn.create({**SIX, "Architecture": "sparc"})

    failures = [d for d in emitted(capsys.readouterr().out) if "Failures" in d]
    assert len(failures) == 1
    assert values(failures)["Failures"] == 1.0
    assert failures[0]["Cause"] == "InvalidProperties"


def test_retries_and_deletes_are_counted(cfn: Cloudformation, capsys: pytest.CaptureFixture[str]) -> None:
    arn = cfn.create(SIX).body["PhysicalResourceId"]
    capsys.readouterr()
    cfn.create(SIX)  # the same resource again: a retried event
    assert values(emitted(capsys.readouterr().out))["VersionReused"] == 1.0
    cfn.delete(SIX, arn)
    assert values(emitted(capsys.readouterr().out))["VersionsDeleted"] == 1.0


def test_install_zip_upload_and_publish_are_traced(cfn: Cloudformation, monkeypatch: pytest.MonkeyPatch) -> None:
    segments: list[str] = []

    class Segment:
        def put_annotation(self, key: str, value: object) -> None:
            pass

        def put_metadata(self, key: str, value: object, namespace: str = "") -> None:
            pass

    @contextmanager
    def in_subsegment(name: str, **kwargs: Any) -> Iterator[Segment]:
        segments.append(name)
        yield Segment()

    monkeypatch.setattr(cfn.app.tracer.provider, "in_subsegment", in_subsegment)

    assert cfn.create(SIX).body["Status"] == "SUCCESS"
    assert segments == ["## lambda_handler", "## install", "## verify", "## zip", "## upload", "## publish"]


def test_a_build_logs_one_line_per_stage_with_its_seconds(cfn: Cloudformation,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.INFO):
        answer = cfn.create(SIX).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    stages = [r for r in caplog.records if r.getMessage().startswith("Stage ")]
    named = [str(r.__dict__["stage"]) for r in stages]
    assert named == ["resolve", "download", "install", "compile and import", "verify", "zip", "upload", "publish"]
    assert all(isinstance(r.__dict__["seconds"], float) and r.__dict__["seconds"] >= 0 for r in stages)
    [imported] = [r.getMessage() for r in stages if r.__dict__["stage"] == "compile and import"]
    assert "python3.12 x86_64:" in imported  # where the worker's time went


def test_a_users_error_is_one_log_line_without_a_traceback(cfn: Cloudformation,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """docs/errors.md: a traceback is logged only for Internal; a user's error is one line with its Reason."""
    import logging

    with caplog.at_level(logging.INFO):
        answer = cfn.create({**SIX, "Requirements": ["no-such-package-pylayer-test==1.0"]}).body

    assert answer["Status"] == "FAILED"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [f"Request failed: {answer['Reason']}"]
    assert all(r.exc_info is None and "Traceback" not in r.getMessage() for r in caplog.records)
