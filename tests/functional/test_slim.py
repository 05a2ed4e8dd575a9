"""Slim and ExcludeRuntimePackages remove files, never the ability to import."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import aws
from tests.support.cfn import Cloudformation

# This interpreter's own target, so the built layer can be imported here.
HERE = {"Runtime": f"python{sys.version_info.major}.{sys.version_info.minor}", "Architecture": "x86_64"}


def layer_files(moto_endpoint: str, answer: dict[str, object], into: Path) -> list[str]:
    data = answer["Data"]
    assert isinstance(data, dict)
    key = f"layers/sha256/{base64.b64decode(data['CodeSha256']).hex()}.zip"
    body = aws.client("s3", moto_endpoint).get_object(Bucket=aws.BUCKET, Key=key)["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        zf.extractall(into)
        return zf.namelist()


def imports(layer: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(layer / "python")}
    return subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(layer / 'python')!r}); "
                           + code], env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.network  # real wheels from PyPI: what only real packages can show
def test_a_slim_layer_is_smaller_and_still_imports(cfn: Cloudformation, moto_endpoint: str, tmp_path: Path) -> None:
    props = {"LayerName": "numpy", "Requirements": ["numpy==2.1.3"], **HERE}
    full = cfn.create(props, logical_id="Full").body
    slim = cfn.create({**props, "Slim": "true"}, logical_id="Slim").body
    assert full["Status"] == slim["Status"] == "SUCCESS", (full["Reason"], slim["Reason"])

    full_names = layer_files(moto_endpoint, full, tmp_path / "full")
    slim_names = layer_files(moto_endpoint, slim, tmp_path / "slim")

    assert any("/tests/" in n for n in full_names)
    assert not any("/tests/" in n for n in slim_names)
    assert not any(n.endswith(".pyi") for n in slim_names)
    assert any(n.endswith(".so") for n in slim_names)  # shared objects are never stripped
    assert any(n.endswith(".dist-info/METADATA") for n in slim_names)  # nor metadata
    assert int(slim["Data"]["UnzippedSize"]) < int(full["Data"]["UnzippedSize"]) * 0.9
    done = imports(tmp_path / "slim", "import numpy; print(numpy.__version__, int(numpy.arange(4).sum()))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2.1.3", "6"]


@pytest.mark.network  # real wheels from PyPI: what only real packages can show
def test_runtime_packages_are_excluded_and_the_rest_still_imports(cfn: Cloudformation, moto_endpoint: str,
                                                                 tmp_path: Path) -> None:
    props = {"LayerName": "sdk", "Requirements": ["requests==2.32.3", "boto3==1.35.0"],
             "ExcludeRuntimePackages": "true", **HERE}
    answer = cfn.create(props).body
    assert answer["Status"] == "SUCCESS", answer["Reason"]

    names = layer_files(moto_endpoint, answer, tmp_path / "layer")
    tops = {n.split("/")[1].split("-")[0].lower() for n in names}

    assert not tops & {"boto3", "botocore", "s3transfer", "jmespath"}
    assert {"requests", "urllib3", "dateutil"} <= tops  # the SDK's dependencies stay
    done = imports(tmp_path / "layer", "import requests, urllib3, dateutil; print(requests.__version__)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2.32.3"
