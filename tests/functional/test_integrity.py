"""Only bytes the provider made are published or adopted: Lambda's CodeSha256 is checked against the
archive's own digest after every publish, and before a version is adopted again.

Against moto, which computes CodeSha256 from the S3 object it reads, as Lambda does.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from tests.support import aws, wheels
from tests.support.cfn import STACK_ID, Cloudformation
from tests.support.index import LocalIndex

SIX = {"LayerName": "six", "Requirements": ["six==1.16.0"], "Runtime": "python3.12", "Architecture": "x86_64",
       "Bytecode": "false", "ImportCheck": "none"}
OTHER_STACK = STACK_ID.replace("stack/consumer/", "stack/other/")


def another_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as made:
        made.writestr("python/six.py", "print('not what the provider built')\n")
    return buffer.getvalue()


def test_an_archive_swapped_in_the_bucket_is_never_published(cfn: Cloudformation, moto_endpoint: str) -> None:
    first = cfn.create(SIX).body
    assert first["Status"] == "SUCCESS", first["Reason"]
    [archive] = [k for k in aws.artifacts(moto_endpoint) if k.startswith("layers/")]
    aws.client("s3", moto_endpoint).put_object(Bucket=aws.BUCKET, Key=archive, Body=another_zip())

    second = cfn.create(SIX, stack_id=OTHER_STACK).body  # the same spec elsewhere: the archive is republished

    assert second["Status"] == "FAILED"
    assert "the archive in the bucket is not the one this provider built. The version was deleted" in second["Reason"]
    assert aws.live_versions(moto_endpoint, "six") == {first["PhysicalResourceId"]}


def test_a_copied_marker_is_never_adopted(cfn: Cloudformation, moto_endpoint: str) -> None:
    original = cfn.create(SIX).body
    arn = str(original["PhysicalResourceId"])
    lam = aws.client("lambda", moto_endpoint)
    layer, number = arn.rsplit(":", 1)
    description = lam.get_layer_version(LayerName=layer, VersionNumber=int(number))["Description"]
    updated = cfn.update({**SIX, "Description": "newer"}, SIX, arn).body
    cfn.delete(SIX, arn)  # CloudFormation's cleanup of the old version
    # Someone allowed to publish the layer's name copies the marker onto other content.
    forged = lam.publish_layer_version(LayerName="six", Description=description,
                                       Content={"ZipFile": another_zip()})["LayerVersionArn"]

    reverted = cfn.update(SIX, {**SIX, "Description": "newer"}, str(updated["PhysicalResourceId"])).body

    assert reverted["Status"] == "SUCCESS", reverted["Reason"]
    assert reverted["PhysicalResourceId"] != forged
    body, _ = aws.layer_zip(moto_endpoint, str(reverted["PhysicalResourceId"]))
    assert b"not what the provider built" not in zipfile.ZipFile(io.BytesIO(body)).read("python/six.py")


def test_a_wheel_that_lies_about_a_member_is_refused_by_name_and_nothing_is_recorded(
        cfn: Cloudformation, moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        installer_cache: Path) -> None:
    """Its members are checked beside the build (the workers start at once): the check's reason is the
    answer, even when a worker has read the lying member first, and nothing names the archive."""
    honest = wheels.build(tmp_path, "lies", "1.0", files={"lies/__init__.py": b"X = 1\n",
                                                          "lies/big.bin": bytes(5_000_000)})
    honest.write_bytes(wheels.lying(honest.read_bytes(), "lies/big.bin", size=1024))
    with LocalIndex([honest]) as index:
        monkeypatch.setenv("PACKAGE_INDEX_URL", index.url)
        answer = cfn.create({"LayerName": "lies", "Requirements": ["lies==1.0"], "Runtime": "python3.12",
                             "Architecture": "x86_64"}).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == (f"{honest.name} is corrupt or lies about lies/big.bin: it declares 1024 bytes, and "
                                "its data is not that; refusing the wheel.")
    assert [k for k in aws.artifacts(moto_endpoint) if k.startswith("specs/")] == []
    assert aws.live_versions(moto_endpoint, "lies") == set()
    assert not list((installer_cache / "wheels").glob(f"{hashlib.sha256(honest.read_bytes()).hexdigest()}*"))
