"""Arbitrary property shapes thrown at the real handler: always a well-formed answer of at
most 4096 bytes, never an unhandled exception, never a hang."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.cfn import Cloudformation, LambdaContext, event

# Every property the provider knows (the list is checked against it below), CloudFormation's own, and any text.
KNOWN = ["LayerName", "Requirements", "Runtime", "Architecture", "CompatibleRuntimes", "Description", "LicenseInfo",
         "Slim", "ExcludeRuntimePackages", "ShareWith", "AllowPublicShare", "Bytecode", "ImportCheck", "Lock"]
KEYS = st.sampled_from([*KNOWN, "ServiceToken", "ServiceTimeout"]) | st.text(max_size=40)
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
           | st.sampled_from(["true", "false", "", "0", "python3.12", "arm64", "six==1.16.0",
                              "--index-url http://x", "six; rm -rf /", "a" * 5000, "\u2603" * 3000, "\x00",
                              "${AWS::StackName}", "arn:aws:lambda:us-east-1:123456789012:layer:x:1",
                              "*", "111122223333", "o-abcdefghij", "auto", "numpy", "python3.13"])
           | st.text(max_size=300))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=6) | st.dictionaries(KEYS, inner, max_size=6),
                    max_leaves=25)
PROPERTIES = st.dictionaries(KEYS, JSON, max_size=8) | JSON


def test_every_property_is_generated() -> None:
    from pylayer.properties import KNOWN as PROVIDER_KNOWN

    assert set(KNOWN) == PROVIDER_KNOWN


@pytest.fixture
def failing_installer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Some generated properties are valid: they must reach the installer, but not PyPI.
    script = tmp_path / "uv"
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.stderr.write('error: offline for this test\\n')\n"
                      "sys.exit(1)\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("UV_BIN", str(script))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(request_type=st.sampled_from(["Create", "Update", "Delete"]), properties=PROPERTIES,
       old_properties=PROPERTIES, physical_id=JSON)
def test_any_properties_get_a_well_formed_bounded_answer(
        cfn: Cloudformation, failing_installer: None, request_type: str, properties: Any,
        old_properties: Any, physical_id: Any) -> None:
    url = cfn.receiver.url()
    request = event(request_type, properties, url)
    if request_type != "Create":
        request["PhysicalResourceId"] = physical_id if isinstance(physical_id, str) and physical_id else "id"
        request["OldResourceProperties"] = old_properties

    cfn.app.lambda_handler(request, LambdaContext(timeout_seconds=120))

    [received] = cfn.receiver.responses_for(url)
    assert len(received.raw) <= 4096
    body = json.loads(received.raw)
    assert body["Status"] in ("SUCCESS", "FAILED")
    assert body["StackId"] == request["StackId"]
    assert body["RequestId"] == request["RequestId"]
    assert body["LogicalResourceId"] == request["LogicalResourceId"]
    assert isinstance(body["PhysicalResourceId"], str)
    assert body["PhysicalResourceId"]
    if body["Status"] == "FAILED":
        assert body["Reason"]
        assert not body["Reason"].startswith("Internal error"), body["Reason"]
    if request_type == "Delete":
        assert body["Status"] == "SUCCESS", body["Reason"]  # a Delete never fails on input


@pytest.mark.parametrize("extra", [{"CrHelperPoll": True}, {"CrHelperData": "x"}, {"CrHelperPoll": True,
                                                                                  "CrHelperPermission": True}])
def test_crhelpers_private_fields_in_an_event_change_nothing(cfn: Cloudformation, extra: dict[str, Any]) -> None:
    url = cfn.receiver.url()
    request = {**event("Create", {"LayerName": "bad name!", "Requirements": ["six==1.16.0"]}, url), **extra}
    cfn.app.lambda_handler(request, LambdaContext())

    answer = cfn.receiver.response_for(url).body
    assert answer["Status"] == "FAILED"  # the invalid Create is refused, not answered SUCCESS unrun
    assert answer["Reason"].startswith("LayerName bad name! is invalid")
