"""ImportCheck auto: a layer is published only when its packages import on every runtime it lists.

The imports run in the local workers in a root file system that holds only
what Lambda's images hold (``.ci/setup-lambda-root``, ``pylayer.imageroot``):
this machine's libgomp, glib and libGL would hide what Lambda lacks.

Hermetic tests use wheels built here whose import needs an environment
variable, a module nobody installs, or a library Lambda lacks (loaded with
ctypes, as lightgbm loads libgomp). The ``network`` tests build the real
packages from PyPI.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from pylayer import imageroot
from pylayer.install import find_uv
from pylayer.target import Target
from pylayer.workers import RuntimeSite
from tests.support import aws, imports, wheels
from tests.support.cfn import Cloudformation
from tests.support.index import LocalIndex
from tests.support.played_lambda import PlayedLambda, functions_for

X86 = {"Runtime": "python3.12", "Architecture": "x86_64"}
THREE = ["python3.11", "python3.12", "python3.13"]


def lambda_like_root() -> None:
    """The proof is only a proof in the image's file system (a skip fails under CI: tests/conftest.py)."""
    if imageroot.find() is None:
        pytest.skip("no Lambda-like root here (make roots, as root)")


def needs(runtime: str, machine: str = "") -> None:
    if imports.interpreter(runtime, machine) is None:
        pytest.skip(f"no local {runtime} {machine}")


@pytest.fixture
def index(tmp_path: Path, cfn: Cloudformation, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalIndex]:
    folder = tmp_path / "wheels"
    folder.mkdir()
    built = [
        wheels.build(folder, "needs-env", "1.0", files={
            "needs_env/__init__.py": b"import os\nURL = os.environ['DATABASE_URL']\n"}),
        wheels.build(folder, "undeclared", "1.0", files={"undeclared/__init__.py": b"import not_installed_dep\n"}),
        # As lightgbm loads libgomp: with ctypes, at import, from no extension module the ELF check could follow.
        wheels.build(folder, "needs-gomp", "1.0", files={
            "needs_gomp/__init__.py": b"import ctypes\nLIB = ctypes.CDLL('libgomp.so.1')\n"}),
        wheels.build(folder, "crashes", "1.0", files={"crashes/__init__.py": b"import os\nos._exit(3)\n"}),
        wheels.build(folder, "fine", "1.0", files={"fine/__init__.py": b"X = 1\n", "_fine_speedups.py": b"Y = 2\n"}),
        # Imports that take a while, as a large package's do: the worker's bytecode is in long before they end.
        wheels.build(folder, "slow", "1.0", files={"slow/__init__.py": b"import time\ntime.sleep(2)\n"}),
        wheels.build(folder, "slow-broken", "1.0", files={
            "slow_broken/__init__.py": b"import time\ntime.sleep(2)\nimport not_installed_dep\n"}),
    ]
    with LocalIndex(built) as running:
        monkeypatch.setenv("PACKAGE_INDEX_URL", running.url)
        yield running


def test_auto_imports_the_requested_packages_and_says_so(cfn: Cloudformation, index: LocalIndex,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    needs("python3.12")
    with caplog.at_level(logging.INFO):
        answer = cfn.create({"LayerName": "fine", "Requirements": ["fine==1.0"], **X86}).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["Proof"] == "imported"
    assert "Proof imported: python3.12 imported (fine)" in caplog.text  # not _fine_speedups: private


def test_a_library_loaded_with_ctypes_that_lambda_lacks_fails_the_layer(cfn: Cloudformation, index: LocalIndex,
                                                                        moto_endpoint: str) -> None:
    needs("python3.12")
    lambda_like_root()
    answer = cfn.create({"LayerName": "gomp", "Requirements": ["needs-gomp==1.0"], **X86}).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("Not loadable on python3.12 x86_64: import needs_gomp fails: libgomp.so.1 is "
                                       "not in the python3.12 image (Amazon Linux 2023)")
    assert "publish a layer of your own that has libgomp.so.1 under lib/" in answer["Reason"]
    assert aws.live_versions(moto_endpoint, "gomp") == set()


def test_a_module_nobody_installs_fails_the_layer(cfn: Cloudformation, index: LocalIndex) -> None:
    needs("python3.12")
    answer = cfn.create({"LayerName": "undeclared", "Requirements": ["undeclared==1.0"], **X86}).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == ("Not loadable on python3.12 x86_64: import undeclared fails: ModuleNotFoundError: "
                                "No module named 'not_installed_dep'")


def test_an_import_that_kills_its_process_fails_the_layer(cfn: Cloudformation, index: LocalIndex) -> None:
    needs("python3.12")
    answer = cfn.create({"LayerName": "crashes", "Requirements": ["crashes==1.0"], **X86}).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == "Not loadable on python3.12 x86_64: import crashes fails: exit status 3"


def test_what_the_function_provides_is_only_a_warning(cfn: Cloudformation, index: LocalIndex,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    needs("python3.12")
    with caplog.at_level(logging.WARNING):
        answer = cfn.create({"LayerName": "env", "Requirements": ["needs-env==1.0"], **X86}).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["Proof"] == "libraries"  # nothing imported: the static check is all that holds
    assert "import needs_env failed for a reason the layer cannot fix (other): KeyError: 'DATABASE_URL'" \
        in caplog.text


def test_import_check_none_turns_the_proof_off(cfn: Cloudformation, index: LocalIndex) -> None:
    answer = cfn.create({"LayerName": "off", "Requirements": ["needs-gomp==1.0"], "ImportCheck": "none",
                         **X86}).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["Proof"] == "libraries"


def test_an_explicit_list_fails_on_any_error(cfn: Cloudformation, index: LocalIndex) -> None:
    needs("python3.12")
    answer = cfn.create({"LayerName": "listed", "Requirements": ["needs-env==1.0"], "ImportCheck": ["needs_env"],
                         **X86}).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == ("ImportCheck: import needs_env failed on python3.12 x86_64: "
                                "KeyError: 'DATABASE_URL'")


# --------------------------------------------------------------------------- real packages, from PyPI

FAILING = {"lightgbm": "libgomp.so.1", "weasyprint": "libgobject-2.0-0"}
TARGETS = [(runtime, "x86_64") for runtime in THREE] + [("python3.11", "arm64")]


@pytest.mark.network
@pytest.mark.parametrize("package", sorted(FAILING))
@pytest.mark.parametrize(("runtime", "architecture"), TARGETS)
def test_popular_packages_that_need_libraries_lambda_lacks_are_refused(
        cfn: Cloudformation, moto_endpoint: str, package: str, runtime: str, architecture: str) -> None:
    needs(runtime, "aarch64" if architecture == "arm64" else "")
    lambda_like_root()
    answer = cfn.create({"LayerName": package, "Requirements": [package], "Runtime": runtime,
                         "Architecture": architecture, "Bytecode": "false"}).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(f"Not loadable on {runtime} {architecture}: import {package} fails: "
                                       f"{FAILING[package]} is not in the {runtime} image"), answer["Reason"]
    assert "under lib/" in answer["Reason"]
    assert aws.live_versions(moto_endpoint, package) == set()


@pytest.mark.network
def test_popular_packages_import_and_say_so(cfn: Cloudformation, moto_endpoint: str) -> None:
    needs("python3.12")
    lambda_like_root()
    answer = cfn.create({"LayerName": "popular", **X86, "Requirements": [
        "requests", "pandas", "pydantic", "boto3", "grpcio", "google-cloud-storage", "uvicorn[standard]"]}).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["Proof"] == "imported"
    assert answer["Data"]["Bytecode"] == "included"


@pytest.fixture
def lambda_workers(cfn: Cloudformation, moto_endpoint: str, installer_cache: Path, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[PlayedLambda]:
    """The provider's python3.12 worker function, invoked through Lambda's API (played on loopback)."""
    needs("python3.12")
    target = Target("python3.12", "x86_64")
    python = imports.interpreter("python3.12")
    site = RuntimeSite(installer_cache / "runtime", find_uv)(target)
    assert python is not None and site is not None
    setting, named = functions_for({"python3.12/x86_64": (python, site)})
    with PlayedLambda(moto_endpoint, named) as played:
        monkeypatch.setenv("WORKER_FUNCTIONS", setting)
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", played.url)
        yield played


def bucket_keys(endpoint: str, prefix: str) -> list[str]:
    listed = aws.client("s3", endpoint).list_objects_v2(Bucket=aws.BUCKET, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def test_through_lambda_the_zip_is_made_while_the_worker_imports_and_is_what_is_published(
        cfn: Cloudformation, index: LocalIndex, lambda_workers: PlayedLambda, moto_endpoint: str,
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        answer = cfn.create({"LayerName": "slow", "Requirements": ["slow==1.0"], **X86}).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert lambda_workers.invoked  # the worker function ran: this is the Lambda transport
    assert answer["Data"]["Proof"] == "imported" and answer["Data"]["Bytecode"] == "included"
    assert "The layer's zip was written and uploaded while the workers imported" in caplog.text
    archives = bucket_keys(moto_endpoint, "layers/")
    assert len(archives) == 1
    digest = archives[0].removeprefix("layers/sha256/").removesuffix(".zip")
    layer, _, number = answer["PhysicalResourceId"].rpartition(":")
    published = aws.client("lambda", moto_endpoint).get_layer_version(LayerName=layer, VersionNumber=int(number))
    assert base64.b64decode(published["Content"]["CodeSha256"]).hex() == digest
    assert bucket_keys(moto_endpoint, "staging/") == []


def test_through_lambda_a_layer_that_fails_to_import_is_neither_recorded_nor_published(
        cfn: Cloudformation, index: LocalIndex, lambda_workers: PlayedLambda, moto_endpoint: str,
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        answer = cfn.create({"LayerName": "broken", "Requirements": ["slow-broken==1.0"], **X86}).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("Not loadable on python3.12 x86_64: import slow_broken fails")
    assert "Writing the layer's zip while the workers import" in caplog.text
    archives = bucket_keys(moto_endpoint, "layers/")
    assert len(archives) == 1  # uploaded while the worker imported; the lifecycle rule expires it
    assert f"{archives[0]} was uploaded ahead for a layer that is not published" in caplog.text
    assert bucket_keys(moto_endpoint, "specs/") == []  # no pointer: nothing will republish it
    assert bucket_keys(moto_endpoint, "staging/") == []
    assert aws.live_versions(moto_endpoint, "broken") == set()
