"""`pylayer inspect` of a zip and of a version published by the provider (GetLayerVersion against moto).

moto answers GetLayerVersion with everything but a usable archive location ("s3://"), so the archive of a
published version is read here from the bucket by its CodeSha256, as Lambda would hand it out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pylayer.devtools import cli
from tests.support import aws
from tests.support.cfn import Cloudformation

ROOT = Path(__file__).resolve().parents[2]
SIX = {"LayerName": "six", "Requirements": ["six==1.16.0", "idna==3.7"], "CompatibleRuntimes": ["python3.12",
                                                                                              "python3.13"],
       "Architecture": "x86_64"}


def test_inspect_reads_a_published_version_and_its_zip(cfn: Cloudformation, moto_endpoint: str,
                                                       tmp_path: Path) -> None:
    answer = cfn.create(SIX).body
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    arn = str(answer["PhysicalResourceId"])
    body, _ = aws.layer_zip(moto_endpoint, arn)

    def archive_of(url: str, dest: Path) -> None:
        dest.write_bytes(body)

    info = cli.inspect_source(arn, tmp_path, aws.client("lambda", moto_endpoint), archive_of)

    assert [v.runtime for v in info.runtimes] == ["python3.12", "python3.13"]
    for view in info.runtimes:
        assert view.packages == {"idna": "3.7", "six": "1.16.0"}
        assert view.compiled == view.modules > 0  # every module has this runtime's bytecode
        assert view.sys_path[1] == "/opt/python"
    assert info.marker is not None and info.marker["bytecode"] == answer["Data"]["Bytecode"]
    assert info.marker["proof"] == answer["Data"]["Proof"]
    assert info.version["compatible_runtimes"] == ["python3.12", "python3.13"]
    assert len(info.locks) == 2 and info.unzipped_size == int(answer["Data"]["UnzippedSize"])

    zipped = tmp_path / "layer.zip"
    zipped.write_bytes(body)
    done = subprocess.run([sys.executable, "-m", "pylayer", "inspect", str(zipped), "--format", "json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert [r["packages"] for r in shown["runtimes"]] == [{"idna": "3.7", "six": "1.16.0"}] * 2
    assert shown["marker"] is None  # a zip alone has no description
    text = subprocess.run([sys.executable, "-m", "pylayer", "inspect", str(zipped)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True).stdout
    assert "python3.12: 2 packages, bytecode for" in text and "sys.path" in text
