"""Every runtime a layer lists is served, with bytecode each loads, proven on real interpreters.

The handler builds through CloudFormation-shaped events against moto; the
published archive is then imported on a local interpreter of each runtime with
nothing on sys.path but the layer's two folders, the standard library and the
runtime's own boto3 (tests/support/imports.py), as Lambda would.
"""

from __future__ import annotations

import io
import marshal
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.support import aws, imports
from tests.support.cfn import Cloudformation

pytestmark = pytest.mark.network  # real wheels from PyPI: what only real packages can show
THREE = ["python3.11", "python3.12", "python3.13"]


def needs(*runtimes: str, machine: str = "") -> None:
    for runtime in runtimes:
        if imports.interpreter(runtime, machine) is None:
            pytest.skip(f"no local {runtime} {machine or 'interpreter'}")


def create(cfn: Cloudformation, moto_endpoint: str, props: dict[str, object]) -> tuple[dict[str, Any], bytes,
                                                                                     dict[str, Any]]:
    answer = cfn.create(props).body
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    body, info = aws.layer_zip(moto_endpoint, str(answer["PhysicalResourceId"]))
    return answer, body, info


def test_a_layer_listing_three_runtimes_serves_each_from_its_own_folder(
        cfn: Cloudformation, moto_endpoint: str, tmp_path: Path, installer_cache: Path) -> None:
    needs(*THREE)
    props: dict[str, object] = {
             "LayerName": "three", "Architecture": "x86_64", "Runtime": "python3.12", "CompatibleRuntimes": THREE,
             # markupsafe: an extension module per Python; six: one wheel for all; tomli: 3.11 only (a marker)
             "Requirements": ["markupsafe==3.0.2", "six==1.17.0", "tomli==2.2.1; python_version < '3.12'"],
             "ImportCheck": ["markupsafe._speedups", "six"]}
    answer, body, info = create(cfn, moto_endpoint, props)

    assert info["CompatibleRuntimes"] == THREE
    assert answer["Data"]["Bytecode"] == "included"
    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    assert "python/six.py" in names  # the same wheel for every runtime: shared
    for runtime in THREE:
        tag = runtime.replace("python3.", "cpython-3")
        site = f"python/lib/{runtime}/site-packages"
        assert any(n.startswith(f"{site}/markupsafe/_speedups.{tag}-x86_64") for n in names), runtime
        assert f"python/__pycache__/six.{tag}.pyc" in names  # a .pyc per runtime beside the shared source
        assert f"{site}/markupsafe/__pycache__/__init__.{tag}.pyc" in names
        assert not [n for n in names if n.startswith(f"{site}/") and n.endswith(".pyc") and f".{tag}." not in n]
    assert any(n.startswith("python/lib/python3.11/site-packages/tomli/") for n in names)
    assert not any("/tomli/" in n for n in names if "python3.11" not in n)
    locks = sorted(n for n in names if n.startswith("pylayer/") and n.endswith(".toml"))
    assert [n.rsplit("/", 1)[1] for n in locks] == ["pylock.python311.toml", "pylock.python312.toml",
                                                  "pylock.python313.toml"]

    root = imports.extract(body, tmp_path / "opt")
    for runtime in THREE:
        loaded = imports.import_layer(root, runtime, ["markupsafe._speedups", "six", "markupsafe"],
                                      installer_cache / "runtime")
        assert loaded.files["six"] == str(root / "python" / "six.py")
        assert f"/lib/{runtime}/site-packages/markupsafe/" in loaded.files["markupsafe._speedups"]
        if runtime == "python3.11":
            assert "tomli" in imports.import_layer(root, runtime, ["tomli"], installer_cache / "runtime").files


def test_the_bytecode_is_what_the_runtime_loads(cfn: Cloudformation, moto_endpoint: str, tmp_path: Path,
                                                installer_cache: Path) -> None:
    needs("python3.12", "python3.13")
    props: dict[str, object] = {
             "LayerName": "pyc", "Architecture": "x86_64", "CompatibleRuntimes": ["python3.12", "python3.13"],
             "Requirements": ["markupsafe==3.0.2", "six==1.17.0"]}
    _, body, _ = create(cfn, moto_endpoint, props)
    root = imports.extract(body, tmp_path / "opt")

    pyc = (root / "python" / "__pycache__" / "six.cpython-312.pyc").read_bytes()
    assert struct.unpack("<I", pyc[4:8])[0] == 1  # PEP 552: hash-based, not checked against the source
    assert marshal.loads(pyc[16:]).co_filename == "/opt/python/six.py"  # noqa: S302 - our own build's bytes
    # Every source file replaced by garbage: the imports still work, from the .pyc alone.
    sources = list(root.rglob("*.py"))
    for source in sources:
        source.write_text("raise SystemExit('the source was read, not the bytecode')\n")
    for runtime in ("python3.12", "python3.13"):
        loaded = imports.import_layer(root, runtime, ["six", "markupsafe"], installer_cache / "runtime")
        assert loaded.files["six"].endswith("/python/six.py")


def test_an_arm64_layer_imports_on_an_emulated_arm64_interpreter(
        cfn: Cloudformation, moto_endpoint: str, tmp_path: Path, installer_cache: Path) -> None:
    needs("python3.11", machine="aarch64")
    props: dict[str, object] = {"LayerName": "arm", "Architecture": "arm64", "Runtime": "python3.11",
             "Requirements": ["markupsafe==3.0.2", "pydantic==2.10.4"],
             # The worker imports these on the emulated interpreter before the version is published.
             "ImportCheck": ["markupsafe._speedups", "pydantic_core._pydantic_core"]}
    answer, body, _ = create(cfn, moto_endpoint, props)

    assert answer["Data"]["Bytecode"] == "included"
    root = imports.extract(body, tmp_path / "opt")
    loaded = imports.import_layer(root, "python3.11", ["markupsafe._speedups", "pydantic_core._pydantic_core"],
                                  installer_cache / "runtime", machine="aarch64")
    assert "aarch64-linux-gnu" in loaded.files["pydantic_core._pydantic_core"]


def test_an_amazon_linux_2_runtime_gets_the_newest_release_it_can_load(
        cfn: Cloudformation, moto_endpoint: str, tmp_path: Path, installer_cache: Path) -> None:
    needs("python3.11")
    props: dict[str, object] = {
             "LayerName": "pandas311", "Architecture": "x86_64", "Runtime": "python3.11", "Requirements": ["pandas"],
             "ImportCheck": ["pandas"], "Slim": "true"}
    _, body, _ = create(cfn, moto_endpoint, props)

    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    pandas = next(n for n in names if n.startswith("python/pandas-") and n.endswith(".dist-info/METADATA"))
    numpy = next(n for n in names if n.startswith("python/numpy-") and n.endswith(".dist-info/METADATA"))
    # manylinux2014 alone gives pandas 2.3.2; pandas 3 ships manylinux_2_24 wheels glibc 2.26 loads.
    assert int(pandas.removeprefix("python/pandas-").split(".")[0]) >= 3, pandas
    # numpy 2.3+ ships only manylinux_2_27/2_28 wheels: 2.2.6 is the newest python3.11 loads.
    assert numpy == "python/numpy-2.2.6.dist-info/METADATA"
    root = imports.extract(body, tmp_path / "opt")
    assert imports.import_layer(root, "python3.11", ["pandas"], installer_cache / "runtime").files["pandas"]


def test_opencv_python_is_refused_with_the_headless_build_named(cfn: Cloudformation, moto_endpoint: str) -> None:
    props = {"LayerName": "cv", "Architecture": "x86_64", "Runtime": "python3.12",
             "Requirements": ["opencv-python==4.10.0.84"]}
    answer = cfn.create(props).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("Not loadable on python3.12 x86_64: cv2/cv2.abi3.so (through ")
    assert "needs libGL.so.1, which the python3.12 image (Amazon Linux 2023) does not have; " \
           "use opencv-python-headless instead of opencv-python" in answer["Reason"]
    assert aws.live_versions(moto_endpoint, "cv") == set()
