"""A layer is published only when it loads on its runtime; bytecode as the Bytecode property asks.

Hermetic: wheels built here (extension modules compiled with gcc) served by a
local index on loopback, the handler driven against moto.
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import pylayer.archive
from pylayer import builder, identity
from pylayer.index import Index
from pylayer.interpreters import Interpreters
from pylayer.properties import Defaults, parse
from pylayer.verify import verify
from pylayer.workers import LocalWorkers
from tests.support import aws, elf_fixtures, imports, wheels
from tests.support.cfn import Cloudformation
from tests.support.index import LocalIndex

X86 = "cp312-cp312-manylinux_2_17_x86_64"
CONSTANTS = "def kind(x):\n    return x in {'alpha', 'beta', 'gamma', 'delta'}\n"  # a frozenset constant


def gui_extension(directory: Path, module: str, needed: str) -> bytes:
    """An extension module (PyInit_<module>) that needs a library Lambda's images lack."""
    stub = elf_fixtures.stub_library(directory / "stubs", needed, "gl_entry")
    built = elf_fixtures.extension(directory / f"{module}.so", module, libraries=[stub])
    return built.read_bytes()


def gui_plugin(directory: Path, needed: str) -> bytes:
    """A plain shared object (no PyInit_: a Qt platform plugin, say) that needs such a library."""
    stub = elf_fixtures.stub_library(directory / "stubs", needed, "xcb_entry")
    source = elf_fixtures.PLAIN_SOURCE.format(name="plugin")
    return elf_fixtures.build_shared(directory / "libplugin.so", source, libraries=[stub]).read_bytes()


@pytest.fixture
def index(tmp_path: Path, cfn: Cloudformation, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalIndex]:
    if elf_fixtures.HOST_MACHINE != "x86_64":
        pytest.skip("the synthetic extension modules are built for x86_64")
    folder = tmp_path / "wheels"
    folder.mkdir()
    so = gui_extension(tmp_path / "gcc", "cv2", "libGL.so.1")
    plugin = gui_plugin(tmp_path / "gcc-plugin", "libxcb.so.1")
    built = [
        # Named as the real one, so the reason can name the fix.
        wheels.build(folder, "opencv-python", "9.9.9", X86, files={"cv2/__init__.py": b"from .cv2 import *\n",
                                                                  "cv2/cv2.abi3.so": so}),
        # A plugin no import loads: its missing library is only a warning.
        wheels.build(folder, "plugged", "1.0", X86, files={"plugged/__init__.py": b"X = 1\n",
                                                          "plugged/plugins/libqxcb.so": plugin}),
        wheels.build(folder, "breaks", "1.0", files={"breaks/__init__.py": b"raise RuntimeError('no config')\n"}),
        wheels.build(folder, "constants", "1.0", files={"constants/__init__.py": CONSTANTS.encode(),
                                                      "constants/more.py": b"TABLE = {'x': 1, 'y': 2}\n"}),
        wheels.build(folder, "big", "1.0", files={"big/__init__.py": b"DATA = " + repr("x" * 4000).encode() * 1 +
                                                 b"\n" + b"\n".join(f"def f{i}(): return {i}".encode()
                                                                     for i in range(3000)) + b"\n"}),
        # Amazon Linux 2 (glibc 2.26): 2.0 needs manylinux_2_28; 1.0 loads; dual's 2_24 tag loads.
        wheels.build(folder, "fitpkg", "2.0", "py3-none-manylinux_2_28_x86_64"),
        wheels.build(folder, "fitpkg", "1.0", "py3-none-manylinux2014_x86_64"),
        wheels.build(folder, "dual", "3.0", "py3-none-manylinux_2_24_x86_64.manylinux_2_28_x86_64"),
    ]
    with LocalIndex(built) as running:
        monkeypatch.setenv("PACKAGE_INDEX_URL", running.url)
        yield running


def test_an_extension_that_needs_a_library_lambda_lacks_is_refused_with_the_fix(
        cfn: Cloudformation, index: LocalIndex, moto_endpoint: str) -> None:
    answer = cfn.create({"LayerName": "cv", "Requirements": ["opencv-python==9.9.9"], "Runtime": "python3.12",
                         "Architecture": "x86_64"}).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == ("Not loadable on python3.12 x86_64: cv2/cv2.abi3.so needs libGL.so.1, which the "
                                "python3.12 image (Amazon Linux 2023) does not have; use opencv-python-headless "
                                "instead of opencv-python.")
    assert aws.live_versions(moto_endpoint, "cv") == set()
    assert aws.artifacts(moto_endpoint) == []  # nothing uploaded either


def test_a_missing_library_only_a_plugin_needs_is_a_warning(cfn: Cloudformation, index: LocalIndex,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        answer = cfn.create({"LayerName": "plugged", "Requirements": ["plugged==1.0"], "Runtime": "python3.12",
                             "Architecture": "x86_64"}).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert "plugged/plugins/libqxcb.so needs libxcb.so.1, which the python3.12 image (Amazon Linux 2023) " \
           "does not have, but no import loads it" in caplog.text


def test_a_failed_import_check_gives_the_exceptions_last_line(cfn: Cloudformation, index: LocalIndex,
                                                              moto_endpoint: str) -> None:
    if imports.interpreter("python3.12") is None:
        pytest.skip("no local python3.12")
    answer = cfn.create({"LayerName": "breaks", "Requirements": ["breaks==1.0"], "Runtime": "python3.12",
                         "Architecture": "x86_64", "ImportCheck": ["breaks"]}).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == "ImportCheck: import breaks failed on python3.12 x86_64: RuntimeError: no config"
    assert aws.live_versions(moto_endpoint, "breaks") == set()


def test_bytecode_follows_the_workers_there_are(cfn: Cloudformation, index: LocalIndex) -> None:
    if imports.interpreter("python3.14") is not None or imports.interpreter("python3.13") is None:
        pytest.skip("needs a local python3.13 and no python3.14")
    base = {"LayerName": "c", "Requirements": ["constants==1.0"], "Architecture": "x86_64"}

    only_13 = cfn.create({**base, "Runtime": "python3.13"}).body
    both = cfn.create({**base, "CompatibleRuntimes": ["python3.13", "python3.14"]}, logical_id="Both").body
    only_14 = cfn.create({**base, "Runtime": "python3.14"}, logical_id="Only14").body
    required = cfn.create({**base, "Runtime": "python3.14", "Bytecode": "true"}, logical_id="Required").body
    off = cfn.create({**base, "Runtime": "python3.13", "Bytecode": "false"}, logical_id="Off").body

    assert [a["Data"].get("Bytecode") for a in (only_13, both, only_14, off)] == [
        "included", "partial", "omitted", "off"]
    assert required["Status"] == "FAILED"
    assert required["Reason"] == ("Bytecode is true, but there is no python3.14 x86_64 worker to compile for it "
                                  f"({LocalWorkers.workers_from}); set Bytecode to auto or false.")


def test_auto_leaves_bytecode_out_when_it_would_pass_lambdas_limit(
        cfn: Cloudformation, index: LocalIndex, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if imports.interpreter("python3.12") is None:
        pytest.skip("no local python3.12")
    props = {"LayerName": "big", "Requirements": ["big==1.0"], "Runtime": "python3.12", "Architecture": "x86_64"}
    # The layer's files fit; with their bytecode they would not.
    monkeypatch.setattr(pylayer.archive, "MAX_UNZIPPED_BYTES", 120_000)

    answer = cfn.create(props).body
    required = cfn.create({**props, "Bytecode": "true"}, logical_id="Required").body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["Bytecode"] == "omitted"
    body, _ = aws.layer_zip(moto_endpoint, answer["PhysicalResourceId"])
    assert not [n for n in zipfile.ZipFile(io.BytesIO(body)).namelist() if n.endswith(".pyc")]
    assert required["Status"] == "FAILED"
    assert required["Reason"].startswith("Layer is 0.")


def test_amazon_linux_2_gets_the_newest_wheel_its_glibc_loads(cfn: Cloudformation, index: LocalIndex,
                                                              moto_endpoint: str) -> None:
    answer = cfn.create({"LayerName": "fit", "Requirements": ["fitpkg", "dual"], "Architecture": "x86_64",
                         "CompatibleRuntimes": ["python3.11", "python3.12"], "Bytecode": "false"}).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    body, _ = aws.layer_zip(moto_endpoint, answer["PhysicalResourceId"])
    names = set(zipfile.ZipFile(io.BytesIO(body)).namelist())
    # dual 3.0 fits both (its manylinux_2_24 tag): shared. fitpkg differs: 1.0 on 3.11, 2.0 on 3.12.
    assert "python/dual-3.0.dist-info/METADATA" in names
    assert "python/lib/python3.11/site-packages/fitpkg-1.0.dist-info/METADATA" in names
    assert "python/lib/python3.12/site-packages/fitpkg-2.0.dist-info/METADATA" in names
    assert not [n for n in names if n.startswith("python/fitpkg")]


def test_identical_inputs_give_byte_identical_archives_with_bytecode(index: LocalIndex, tmp_path: Path) -> None:
    found = Interpreters()
    if found.find("3.12", "x86_64") is None or found.find("3.11", "x86_64") is None:
        pytest.skip("needs local python3.11 and python3.12")
    spec = parse({"LayerName": "c", "Requirements": ["constants==1.0", "big==1.0"], "Architecture": "x86_64",
                  "CompatibleRuntimes": ["python3.11", "python3.12"]}, Defaults("python3.12", "x86_64"))
    digests = []
    for run, processes in (("one", 1), ("two", 2), ("three", 3)):  # other work folders, other worker counts
        workdir = tmp_path / run
        workdir.mkdir()
        engine = builder.Engine(tmp_path / f"cache-{run}")
        built = engine.build(spec, workdir, Index(index.url), lambda: 900.0,
                             identity.content_key(spec, identity.BuildOptions()))
        verified = verify(spec, built.entries, built.owners, LocalWorkers(found, processes=processes), workdir,
                          lambda: 900.0)
        assert verified.bytecode == "included"
        zipped = pylayer.archive.write_zip(verified.entries, workdir / "layer.zip")
        digests.append(hashlib.sha256(zipped.path.read_bytes()).hexdigest())
    assert len(set(digests)) == 1
