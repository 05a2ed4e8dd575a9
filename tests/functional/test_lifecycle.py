"""Create, Update and Delete through the real handler, with real installs from the index."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.functional.conftest import builds_left
from tests.support import aws
from tests.support.cfn import Cloudformation

SIX = {"LayerName": "six", "Requirements": ["six==1.16.0"], "Runtime": "python3.12",
       "Architecture": "x86_64"}
ATTRIBUTES = {"LayerVersionArn", "LayerArn", "Version", "CodeSha256", "CodeSize", "UnzippedSize", "Bytecode",
              "Proof"}


def test_create_publishes_a_pure_python_layer(cfn: Cloudformation, moto_endpoint: str,
                                              work_root: Path) -> None:
    answer = cfn.create(SIX).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    arn = answer["PhysicalResourceId"]
    assert arn.startswith("arn:aws:lambda:us-east-1:123456789012:layer:six:")
    data = answer["Data"]
    assert set(data) == ATTRIBUTES
    assert data["LayerVersionArn"] == arn and data["LayerArn"] == arn.rsplit(":", 1)[0]
    assert all(isinstance(v, str) for v in data.values())
    assert aws.live_versions(moto_endpoint, "six") == {arn}

    body, info = aws.layer_zip(moto_endpoint, arn)
    assert int(data["CodeSize"]) == len(body) == info["Content"]["CodeSize"]
    assert info["CompatibleRuntimes"] == ["python3.12"]
    assert info["CompatibleArchitectures"] == ["x86_64"]
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        names = zf.namelist()
        assert int(data["UnzippedSize"]) == sum(i.file_size for i in zf.infolist())
    assert "python/six.py" in names
    assert "python/six-1.16.0.dist-info/METADATA" in names
    assert all(n.startswith(("python/", "pylayer/")) for n in names)
    # Bytecode by python3.12's own interpreter, for every module: nothing else's.
    assert "python/__pycache__/six.cpython-312.pyc" in names
    assert [n for n in names if n.endswith(".pyc") and ".cpython-312." not in n] == []
    assert data["Bytecode"] == "included"
    assert builds_left(work_root) == []


def test_properties_arrive_as_strings(cfn: Cloudformation, moto_endpoint: str) -> None:
    answer = cfn.create({
        "LayerName": "typed_as_strings",
        "Requirements": "six==1.16.0\n# a comment line\n\n",
        "Runtime": "python3.11",
        "Architecture": "arm64",
        "CompatibleRuntimes": ["python3.11", "python3.12"],
        "Description": "six, for tests",
        "LicenseInfo": "MIT",
        "ServiceTimeout": "900",
    }).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["Version"] == "1"
    _, info = aws.layer_zip(moto_endpoint, answer["PhysicalResourceId"])
    assert info["CompatibleRuntimes"] == ["python3.11", "python3.12"]
    assert info["CompatibleArchitectures"] == ["arm64"]
    assert info["Description"].startswith("six, for tests [pylayer ")  # + the provider's marker
    assert info["LicenseInfo"] == "MIT"


def elf_machines(body: bytes) -> dict[str, int]:
    """e_machine of every shared object in the zip (62 = x86-64, 183 = AArch64)."""
    found = {}
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        for name in zf.namelist():
            if name.endswith(".so"):
                header = zf.read(name)[:20]
                assert header[:4] == b"\x7fELF"
                found[name] = int.from_bytes(header[18:20], "little")
    return found


@pytest.mark.network  # real wheels from PyPI: what only real packages can show
def test_arm64_build_from_this_machine_yields_aarch64_objects(cfn: Cloudformation, moto_endpoint: str) -> None:
    props = {"LayerName": "markupsafe", "Requirements": ["markupsafe==3.0.2"],
             "Runtime": "python3.12", "Architecture": "arm64"}
    answer = cfn.create(props).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    body, _ = aws.layer_zip(moto_endpoint, answer["PhysicalResourceId"])
    machines = elf_machines(body)
    assert machines, "a compiled package must bring shared objects"
    assert set(machines.values()) == {183}
    assert all("cpython-312-aarch64-linux-gnu" in name for name in machines)
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        wheel_file = next(n for n in zf.namelist() if n.lower() == "python/markupsafe-3.0.2.dist-info/wheel")
        wheel = zf.read(wheel_file).decode()
        pycs = [n for n in zf.namelist() if n.endswith(".pyc")]
    assert pycs and all(".cpython-312." in n for n in pycs)  # bytecode does not depend on the machine
    assert "aarch64" in wheel and "cp312" in wheel


@pytest.mark.network  # real wheels from PyPI: what only real packages can show
def test_x86_64_build_yields_x86_64_objects(cfn: Cloudformation, moto_endpoint: str) -> None:
    props = {"LayerName": "markupsafe", "Requirements": ["markupsafe==3.0.2"],
             "Runtime": "python3.13", "Architecture": "x86_64"}
    answer = cfn.create(props).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    machines = elf_machines(aws.layer_zip(moto_endpoint, answer["PhysicalResourceId"])[0])
    assert machines and set(machines.values()) == {62}
    assert all("cpython-313-x86_64-linux-gnu" in name for name in machines)


def test_identical_specs_give_byte_identical_archives(cfn: Cloudformation, moto_endpoint: str,
                                                      work_root: Path) -> None:
    first = cfn.create(SIX, logical_id="First").body
    second = cfn.create({**SIX, "Requirements": ["six == 1.16.0"]}, logical_id="Second").body

    assert first["Status"] == second["Status"] == "SUCCESS"
    assert first["PhysicalResourceId"] != second["PhysicalResourceId"]
    assert first["Data"]["CodeSha256"] == second["Data"]["CodeSha256"]
    assert aws.layer_zip(moto_endpoint, first["PhysicalResourceId"])[0] == \
        aws.layer_zip(moto_endpoint, second["PhysicalResourceId"])[0]


def test_update_publishes_a_new_version_and_keeps_the_old_one(cfn: Cloudformation,
                                                              moto_endpoint: str) -> None:
    created = cfn.create(SIX).body
    old_arn = created["PhysicalResourceId"]
    new_props = {**SIX, "Requirements": ["six==1.17.0"]}

    updated = cfn.update(new_props, SIX, old_arn).body

    assert updated["Status"] == "SUCCESS", updated["Reason"]
    new_arn = updated["PhysicalResourceId"]
    assert new_arn != old_arn and new_arn.endswith(":2")
    # The old version must survive the Update: rollback needs it.
    assert aws.live_versions(moto_endpoint, "six") == {old_arn, new_arn}
    with zipfile.ZipFile(io.BytesIO(aws.layer_zip(moto_endpoint, new_arn)[0])) as zf:
        assert "python/six-1.17.0.dist-info/METADATA" in zf.namelist()

    # UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: CloudFormation deletes the old id.
    assert cfn.delete(SIX, old_arn).body["Status"] == "SUCCESS"
    assert aws.live_versions(moto_endpoint, "six") == {new_arn}
    # Stack deletion.
    assert cfn.delete(new_props, new_arn).body["Status"] == "SUCCESS"
    assert aws.live_versions(moto_endpoint, "six") == set()


def test_delete_of_an_already_deleted_version_succeeds(cfn: Cloudformation, moto_endpoint: str) -> None:
    arn = cfn.create(SIX).body["PhysicalResourceId"]
    assert cfn.delete(SIX, arn).body["Status"] == "SUCCESS"

    again = cfn.delete(SIX, arn).body

    assert again["Status"] == "SUCCESS"
    assert again["PhysicalResourceId"] == arn


def test_delete_of_an_id_that_is_not_a_layer_version_succeeds(cfn: Cloudformation,
                                                              moto_endpoint: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # A failed Create leaves a made-up id (crhelper's form); Delete must never fail on it,
    # not even when the provider is misconfigured.
    monkeypatch.delenv("LAYER_BUCKET")
    for garbage in ("consumer_Layer_ABCDEFGH", "arn:aws:lambda:us-east-1:123456789012:layer:six",
                    "arn:aws:lambda:us-east-1:123456789012:function:six:1"):
        answer = cfn.delete(SIX, garbage).body
        assert answer["Status"] == "SUCCESS", answer["Reason"]
        assert answer["PhysicalResourceId"] == garbage



def test_each_version_is_shared_as_share_with_says(cfn: Cloudformation, moto_endpoint: str) -> None:
    import json

    props = {**SIX, "ShareWith": ["111122223333", "o-abcdefghij", "*"], "AllowPublicShare": "true"}

    answer = cfn.create(props).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    layer_arn, version = answer["PhysicalResourceId"].rsplit(":", 1)
    policy = json.loads(aws.client("lambda", moto_endpoint).get_layer_version_policy(
        LayerName=layer_arn, VersionNumber=int(version))["Policy"])
    grants = {(s["Sid"], s["Principal"], s.get("OrganizationId")) for s in policy["Statement"]}
    assert grants == {("pylayer-account-111122223333", "111122223333", None),
                      ("pylayer-organization-o-abcdefghij", "*", "o-abcdefghij"),
                      ("pylayer-everyone", "*", None)}
    assert all(s["Action"] == "lambda:GetLayerVersion" for s in policy["Statement"])
