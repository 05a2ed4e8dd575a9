"""pylayer.worker.job (and __main__): one job on a small layer zip, with this interpreter and with every local one."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import marshal
import os
import platform
import subprocess
import sys
import types
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import pylayer.worker
from pylayer.worker import __main__ as worker_main
from pylayer.worker import job, pyc
from tests.support.imports import python_or_skip

HANDLER = str(Path(pylayer.worker.__file__).resolve().parents[2])
TAG = job.version_tag()  # python3.11
OTHER = "python3.12" if TAG != "python3.12" else "python3.11"
CACHE_TAG = sys.implementation.cache_tag  # cpython-311
ARCHITECTURE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), "")
VERSIONS = ("3.9", "3.10", "3.11", "3.12", "3.13")
SECRETS = {"AWS_SECRET_ACCESS_KEY": "not-a-real-secret", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
           "AWS_SESSION_TOKEN": "token", "PYLAYER_TEST_PRIVATE": "private"}
needs_lambda_machine = pytest.mark.skipif(ARCHITECTURE == "", reason=f"no Lambda architecture for "
                                                                       f"{platform.machine()}")


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as layer:
        for name, content in files.items():
            layer.writestr(name, content)
    return path


def request(archive: Path, output: Path, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "runtime": TAG, "architecture": ARCHITECTURE, "archive": str(archive), "output": str(output),
        "compile": True, "skip_dirs": ["tests"], "imports": [], "processes": 2,
        "paths": [f"python/lib/{TAG}/site-packages", "python"],
    }
    return {**base, **overrides}


def load_code(data: bytes) -> types.CodeType:
    code = marshal.loads(data[pyc.HEADER:])  # noqa: S302 - bytes the job under test made
    assert isinstance(code, types.CodeType)
    return code


# --- in_view and extract ----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [
    ("python/pkg/__init__.py", True),
    ("python/top.py", True),
    ("python/lib/python3.11/site-packages/mod.py", True),
    ("python/lib/python3.11/site-packages/pkg/_speed.cpython-311-x86_64-linux-gnu.so", True),
    ("python/lib/python3.12/site-packages/mod.py", False),
    ("python/lib/python3.9/site-packages/pkg/__init__.py", False),
    ("python/lib/python3.1/site-packages/mod.py", False),
    ("python/lib/python3.12/notes.txt", True),  # not a site-packages folder: part of python/
    ("python/pkg/", False),  # a folder entry
    ("python/", False),
    ("lib/libfoo.so", False),
    ("top.py", False),
    ("bin/tool", False),
])
def test_in_view(name: str, expected: bool) -> None:
    assert job.in_view(name, "python3.11") is expected


LAYER_FOR_EXTRACT = {
    "python/a.py": b"A = 1\n",
    "python/b.so": b"\x7fELF fake",
    "python/libs/libc2.so.1": b"\x7fELF fake",
    "python/d.txt": b"data\n",
    "python/e.pyc": b"stale bytecode",
    "python/f.json": b"{}",
    f"python/lib/{TAG}/site-packages/g.py": b"G = 1\n",
    f"python/lib/{OTHER}/site-packages/h.py": b"H = 1\n",
    f"python/lib/{OTHER}/site-packages/h.so": b"\x7fELF fake",
    "top.py": b"T = 1\n",
    "lib/libfoo.so": b"\x7fELF fake",
    "python/../evil.py": b"EVIL = 1\n",
    "python/dir/": b"",
}


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_extract_without_imports_keeps_only_shared_objects(tmp_path: Path) -> None:
    # The compile children read the modules from the archive itself.
    archive = write_zip(tmp_path / "layer.zip", LAYER_FOR_EXTRACT)
    root = tmp_path / "out" / "layer"

    names = job.extract(str(archive), str(root), TAG, everything=False)

    expected = ["python/b.so", "python/libs/libc2.so.1"]
    assert names == expected
    assert files_under(root) == sorted(expected)
    assert not (tmp_path / "out" / "evil.py").exists()


def test_extract_for_imports_keeps_every_file_of_the_view(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "layer.zip", LAYER_FOR_EXTRACT)
    root = tmp_path / "out" / "layer"

    names = job.extract(str(archive), str(root), TAG, everything=True)

    assert sorted(names) == sorted(["python/a.py", "python/b.so", "python/libs/libc2.so.1", "python/d.txt",
                                    "python/e.pyc", "python/f.json", f"python/lib/{TAG}/site-packages/g.py"])
    assert files_under(root) == sorted(names)
    assert not (tmp_path / "out" / "evil.py").exists()


# --- one whole job on this interpreter ----------------------------------------------------------------


def layer_files(env_file: Path) -> dict[str, bytes]:
    spy = f"import json, os\nwith open({str(env_file)!r}, 'w') as handle:\n    json.dump(sorted(os.environ), handle)\n"
    return {
        "python/pkg/__init__.py": b"from . import helper\nVALUE = helper.X + 1\n",
        "python/pkg/helper.py": b"X = 41\n",
        "python/pkg/data.txt": b"data\n",
        "python/pkg/bad_syntax.py": b"def broken(:\n",
        "python/pkg/tests/test_pkg.py": b"def test_it():\n    pass\n",
        "python/tests/conftest.py": b"X = 1\n",
        "python/top.py": b"import pkg\nFROM_PKG = pkg.VALUE\n",
        "python/colorsys.py": b"SHADOWS_THE_STANDARD_LIBRARY = True\n",
        "python/broken.py": b"raise RuntimeError('boom from broken')\n",
        "python/envspy.py": spy.encode(),
        f"python/lib/{TAG}/site-packages/sitemod.py": b"Y = 2\n",
        f"python/lib/{OTHER}/site-packages/othermod.py": b"Z = 3\n",
    }


COMPILED = ["python/broken.py", "python/colorsys.py", "python/envspy.py", f"python/lib/{TAG}/site-packages/sitemod.py",
            "python/pkg/__init__.py", "python/pkg/helper.py", "python/top.py"]


def pyc_member(source: str) -> str:
    folder, _, name = source.rpartition("/")
    return f"{folder}/__pycache__/{name[:-3]}.{CACHE_TAG}.pyc"


@dataclass
class Job:
    files: dict[str, bytes]
    output: Path
    env_file: Path
    report: dict[str, Any]
    made: list[dict[str, Any]] = field(default_factory=list)

    def imports(self) -> dict[str, dict[str, Any]]:
        return {entry["module"]: entry for entry in self.report["imports"]}


@pytest.fixture(scope="module")
def whole_job(tmp_path_factory: pytest.TempPathFactory) -> Job:
    if ARCHITECTURE == "":
        pytest.skip(f"no Lambda architecture for {platform.machine()}")
    tmp = tmp_path_factory.mktemp("job")
    env_file = tmp / "environ.json"
    files = layer_files(env_file)
    archive = write_zip(tmp / "layer.zip", files)
    output = tmp / "out" / "bytecode.zip"
    made: list[dict[str, Any]] = []

    def record(bytecode: dict[str, Any]) -> None:
        made.append({"bytecode": dict(bytecode), "zip_written": output.exists(),
                     "imported_yet": env_file.exists()})

    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in SECRETS.items():
            monkeypatch.setenv(name, value)
        report = job.run(request(archive, output, imports=["pkg", "top", "sitemod", "colorsys", "missing_mod",
                                                           "broken", "envspy", "othermod"]),
                         str(tmp / "scratch"), record)
    return Job(files, output, env_file, report, made)


@needs_lambda_machine
def test_the_bytecode_zip_holds_this_runtimes_pyc_sorted_with_fixed_dates(whole_job: Job) -> None:
    with zipfile.ZipFile(whole_job.output) as out:
        infos = out.infolist()
        names = [info.filename for info in infos]

        assert names == sorted(pyc_member(source) for source in COMPILED)
        assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {info.compress_type for info in infos} == {zipfile.ZIP_DEFLATED}
        for source in COMPILED:
            data = out.read(pyc_member(source))
            assert data[:4] == importlib.util.MAGIC_NUMBER
            assert int.from_bytes(data[4:8], "little") == 1
            assert data[8:16] == importlib.util.source_hash(whole_job.files[source])
            assert load_code(data).co_filename == f"/opt/{source}"
            # The children's bytes are the very bytes this process makes: nothing depends on the process.
            assert data == pyc.compile_source(whole_job.files[source], f"/opt/{source}")


@needs_lambda_machine
def test_no_bytecode_for_tests_folders_other_runtimes_or_failures(whole_job: Job) -> None:
    with zipfile.ZipFile(whole_job.output) as out:
        names = out.namelist()
    assert not [n for n in names if "/tests/" in n]
    assert not [n for n in names if OTHER in n]
    assert not [n for n in names if "bad_syntax" in n]
    assert all(n.endswith(f".{CACHE_TAG}.pyc") and "/__pycache__/" in n for n in names)


@needs_lambda_machine
def test_the_bytecode_report_describes_the_zip(whole_job: Job) -> None:
    bytecode = whole_job.report["bytecode"]
    data = whole_job.output.read_bytes()

    assert bytecode["sha256"] == hashlib.sha256(data).hexdigest()
    assert bytecode["size"] == len(data)
    assert bytecode["files"] == len(COMPILED)
    with zipfile.ZipFile(whole_job.output) as out:
        assert bytecode["bytes"] == sum(info.file_size for info in out.infolist())
    assert bytecode["failed_count"] == 1
    assert [entry[0] for entry in bytecode["failed"]] == ["/opt/python/pkg/bad_syntax.py"]
    assert bytecode["failed"][0][1].startswith("SyntaxError")


@needs_lambda_machine
def test_the_report_names_this_runtime(whole_job: Job) -> None:
    report = whole_job.report
    assert report["runtime"] == TAG
    assert report["python"] == platform.python_version()
    assert report["machine"] == platform.machine()
    assert report["protocol"] == pylayer.worker.PROTOCOL
    assert set(report["timings"]) == {"extract", "compile", "libraries", "imports"}
    libraries = report["libraries"]
    assert (libraries["objects"], libraries["errors"], libraries["warnings"]) == (0, [], [])
    assert "lambda_libraries.json" in libraries["source"]


@needs_lambda_machine
def test_made_is_called_once_with_the_zip_written_before_any_import(whole_job: Job) -> None:
    assert len(whole_job.made) == 1
    made = whole_job.made[0]
    assert made["zip_written"] is True
    assert made["imported_yet"] is False
    assert made["bytecode"]["sha256"] == whole_job.report["bytecode"]["sha256"]
    assert whole_job.env_file.exists()  # ... and the imports did run afterwards


@needs_lambda_machine
def test_imports_of_layer_modules_succeed_from_inside_the_layer(whole_job: Job) -> None:
    imports = whole_job.imports()
    assert list(imports) == ["pkg", "top", "sitemod", "colorsys", "missing_mod", "broken", "envspy", "othermod"]
    expected = {"pkg": "python/pkg/__init__.py", "top": "python/top.py",
                "sitemod": f"python/lib/{TAG}/site-packages/sitemod.py",
                "colorsys": "python/colorsys.py",  # the layer's folders come before the standard library
                "envspy": "python/envspy.py"}
    for module, file in expected.items():
        assert imports[module]["ok"] is True, imports[module]
        assert imports[module]["file"] == file
        assert imports[module]["seconds"] >= 0


@needs_lambda_machine
def test_a_missing_module_fails_with_module_not_found(whole_job: Job) -> None:
    imports = whole_job.imports()
    for module in ("missing_mod", "othermod"):  # othermod is another runtime's: not extracted
        assert imports[module]["ok"] is False
        assert "ModuleNotFoundError" in imports[module]["error"]
        assert module in imports[module]["error"]


@needs_lambda_machine
def test_a_module_that_raises_reports_the_exceptions_last_line(whole_job: Job) -> None:
    broken = whole_job.imports()["broken"]
    assert broken["ok"] is False
    assert broken["error"] == "RuntimeError: boom from broken"


@needs_lambda_machine
def test_the_import_child_gets_no_credentials(whole_job: Job) -> None:
    seen = set(json.loads(whole_job.env_file.read_text()))

    assert not seen & set(SECRETS)
    # Only what job passes on, and what the interpreter adds itself (C locale coercion).
    assert seen <= {*job._PASS_ENV, "PYTHONDONTWRITEBYTECODE", "LC_CTYPE"}
    assert "PYTHONDONTWRITEBYTECODE" in seen


# --- requests ------------------------------------------------------------------------------------------


SMALL_LAYER = {
    "python/small/__init__.py": b"from . import part\n",
    "python/small/part.py": b"P = 1\n",
    "python/small/tests/test_small.py": b"def test_it():\n    pass\n",
}


@needs_lambda_machine
@pytest.mark.parametrize("overrides", [{"compile": True}, {"compile": False, "imports": ["small"]}])
def test_another_python_version_cannot_compile_or_import(tmp_path: Path, overrides: dict[str, Any]) -> None:
    archive = write_zip(tmp_path / "layer.zip", SMALL_LAYER)
    output = tmp_path / "bytecode.zip"

    with pytest.raises(ValueError, match=f"this worker runs {TAG}, not {OTHER}"):
        job.run(request(archive, output, runtime=OTHER, **overrides), str(tmp_path / "scratch"))
    assert not output.exists()
    assert not (tmp_path / "scratch").exists()  # refused before extracting anything


@needs_lambda_machine
def test_another_python_version_gets_the_static_check(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "layer.zip", SMALL_LAYER)
    output = tmp_path / "bytecode.zip"

    report = job.run(request(archive, output, runtime=OTHER, compile=False), str(tmp_path / "scratch"))

    assert report["runtime"] == OTHER
    assert "libraries" in report
    assert "al2023" in report["libraries"]["source"] or "al2-" in report["libraries"]["source"]
    assert "bytecode" not in report
    assert "imports" not in report
    assert not output.exists()


@needs_lambda_machine
def test_libraries_off_skips_the_library_report(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "layer.zip", SMALL_LAYER)
    output = tmp_path / "bytecode.zip"

    report = job.run(request(archive, output, libraries_off=True), str(tmp_path / "scratch"))

    assert "libraries" not in report
    assert "libraries" not in report["timings"]
    assert report["bytecode"]["files"] == 2


@needs_lambda_machine
def test_a_layer_without_python_folder_has_no_objects(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "layer.zip", {"bin/tool": b"#!/bin/sh\n"})

    report = job.run(request(archive, tmp_path / "bytecode.zip", compile=False), str(tmp_path / "scratch"))

    assert report["libraries"]["objects"] == 0
    assert report["libraries"]["errors"] == []


@needs_lambda_machine
def test_main_reports_a_failed_job_as_an_error_and_cleans_its_scratch(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    archive = write_zip(tmp_path / "layer.zip", SMALL_LAYER)
    parent = tmp_path / "scratch-parent"
    parent.mkdir()
    body = request(archive, tmp_path / "bytecode.zip", runtime=OTHER, scratch_parent=str(parent))
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(body)))

    assert worker_main.main() == 1

    assert json.loads(capsys.readouterr().out) == {"error": f"ValueError: this worker runs {TAG}, not {OTHER}"}
    assert list(parent.iterdir()) == []


# --- bugs ----------------------------------------------------------------------------------------------


BARRIER = """
import io, os, sys, time
marks = {marks!r}
data = sys.stdin.read()  # a child has its work only once the job has written and closed its stdin
open(os.path.join(marks, str(os.getpid())), "w").close()
deadline = time.monotonic() + {wait}
while len(os.listdir(marks)) < {children} and time.monotonic() < deadline:
    time.sleep(0.01)
with open({log!r}, "a") as handle:
    handle.write("%d\\n" % len(os.listdir(marks)))
code = sys.argv[sys.argv.index("-c") + 1]
sys.argv = ["-c"]
sys.stdin = io.StringIO(data)
exec(compile(code, "<compile child>", "exec"), {{"__name__": "__main__"}})
"""


@needs_lambda_machine
def test_compile_children_all_have_their_work_at_once(tmp_path: Path) -> None:
    """Each child, once it has its work, waits (up to a bound) until every child has its own.

    Children that really run side by side all get there; children fed one after the other cannot,
    the first one waits out the bound alone.
    """
    marks, log = tmp_path / "marks", tmp_path / "log"
    marks.mkdir()
    wrapper = tmp_path / "barrier.py"
    wrapper.write_text(BARRIER.format(marks=str(marks), log=str(log), wait=8, children=2))
    archive = write_zip(tmp_path / "layer.zip", {"python/one.py": b"A = 1\n" * 50, "python/two.py": b"B = 2\n" * 50})

    report = job.run(request(archive, tmp_path / "bytecode.zip", processes=2, libraries_off=True,
                             python=[sys.executable, "-S", str(wrapper)]), str(tmp_path / "scratch"))

    assert report["bytecode"]["files"] == 2  # the wrapper did run the real compile child
    assert log.read_text().split() == ["2", "2"]  # every child saw both children holding their work


@needs_lambda_machine
def test_jobs_writing_into_one_folder_at_once_keep_to_their_own_files(tmp_path: Path) -> None:
    # The local transport runs every runtime's job at the same time, outputs side by side.
    from concurrent.futures import ThreadPoolExecutor

    modules = {f"python/m{i}.py": f"VALUE = {i}\n".encode() * 200 for i in range(40)}
    archive = write_zip(tmp_path / "layer.zip", modules)
    outputs = [tmp_path / "out" / f"bytecode-{n}.zip" for n in range(3)]

    def one(n: int) -> dict[str, Any]:
        return job.run(request(archive, outputs[n], processes=2, libraries_off=True), str(tmp_path / f"s{n}"))

    with ThreadPoolExecutor(3) as pool:
        reports = list(pool.map(one, range(3)))

    assert [r["bytecode"]["files"] for r in reports] == [40, 40, 40]
    assert len({o.read_bytes() for o in outputs}) == 1  # the same bytes: nothing mixed between them
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [o.name for o in outputs]  # no parts left


@needs_lambda_machine
@pytest.mark.parametrize("printed", ["{not json", '{"level": "info", "message": "flushed at exit"}'])
def test_what_a_module_prints_at_exit_does_not_replace_the_result(tmp_path: Path, printed: str) -> None:
    chatty = f"import atexit\natexit.register(print, {printed!r})\n"
    archive = write_zip(tmp_path / "layer.zip", {"python/chatty.py": chatty.encode()})

    report = job.run(request(archive, tmp_path / "bytecode.zip", imports=["chatty"], libraries_off=True),
                     str(tmp_path / "scratch"))

    [entry] = report["imports"]
    assert entry["module"] == "chatty"
    assert entry["ok"] is True
    assert entry["file"] == "python/chatty.py"


# --- every local interpreter, through python -S -m pylayer.worker ----------------------------------------


def run_worker(python: list[str], body: dict[str, Any], cwd: Path) -> tuple[int, dict[str, Any]]:
    done = subprocess.run([*python, "-S", "-m", "pylayer.worker"], input=json.dumps(body), capture_output=True,
                          text=True, cwd=cwd, check=False, timeout=300,
                          env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": HANDLER,
                               "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.stdout, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, report


@needs_lambda_machine
@pytest.mark.parametrize("version", VERSIONS, ids=[f"python{v}" for v in VERSIONS])
def test_the_worker_compiles_and_imports_on_each_interpreter(tmp_path: Path, version: str) -> None:
    python = python_or_skip(version)
    runtime = f"python{version}"
    files = {**SMALL_LAYER, f"python/lib/{runtime}/site-packages/sitemod.py": b"S = 1\n"}
    archive = write_zip(tmp_path / "layer.zip", files)
    output = tmp_path / "bytecode.zip"
    body = request(archive, output, runtime=runtime, python=python, imports=["small", "sitemod"],
                   paths=[f"python/lib/{runtime}/site-packages", "python"], runtime_site="")

    code, report = run_worker(python, body, tmp_path)

    assert code == 0, report
    assert report["python"].startswith(f"{version}.")
    tag = f"cpython-{version.replace('.', '')}"
    with zipfile.ZipFile(output) as out:
        assert out.namelist() == [f"python/lib/{runtime}/site-packages/__pycache__/sitemod.{tag}.pyc",
                                  f"python/small/__pycache__/__init__.{tag}.pyc",
                                  f"python/small/__pycache__/part.{tag}.pyc"]
        data = out.read(f"python/small/__pycache__/part.{tag}.pyc")
    # That interpreter's own magic number and source hash (the hash is keyed by the magic number).
    own = subprocess.run([*python, "-S", "-c", "import importlib.util; "
                          "print(importlib.util.MAGIC_NUMBER.hex(), importlib.util.source_hash(b'P = 1\\n').hex())"],
                         capture_output=True, text=True, check=True, timeout=60).stdout.split()
    assert [data[:4].hex(), data[8:16].hex()] == own
    assert int.from_bytes(data[4:8], "little") == 1
    assert report["bytecode"]["sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    assert [(i["module"], i["ok"], i.get("file")) for i in report["imports"]] == [
        ("small", True, "python/small/__init__.py"),
        ("sitemod", True, f"python/lib/{runtime}/site-packages/sitemod.py")]


@needs_lambda_machine
@pytest.mark.parametrize("version", VERSIONS, ids=[f"python{v}" for v in VERSIONS])
def test_the_static_check_runs_on_each_interpreter_for_any_runtime(tmp_path: Path, version: str) -> None:
    python = python_or_skip(version)
    runtime = "python3.13" if version != "3.13" else "python3.9"
    archive = write_zip(tmp_path / "layer.zip", SMALL_LAYER)
    body = request(archive, tmp_path / "bytecode.zip", runtime=runtime, compile=False, python=python)

    code, report = run_worker(python, body, tmp_path)

    assert code == 0, report
    assert report["runtime"] == runtime
    assert report["python"].startswith(f"{version}.")
    assert report["libraries"]["objects"] == 0
    assert "bytecode" not in report


@needs_lambda_machine
def test_test_suites_are_extracted_for_an_import_only_when_it_fails_without_them(tmp_path: Path) -> None:
    """Importing a package does not import its tests: they stay in the archive, unless an import fails
    without them; then the failed imports run again with the whole layer, so no import fails for the skip."""
    archive = write_zip(tmp_path / "layer.zip", {
        "python/plain/__init__.py": b"VALUE = 1\n",
        "python/plain/tests/test_plain.py": b"raise SystemExit('never imported')\n",
        "python/odd/__init__.py": b"from odd.tests import helper\n",  # a package that imports its own tests
        "python/odd/tests/__init__.py": b"",
        "python/odd/tests/helper.py": b"HELP = 1\n",
        "python/gone/__init__.py": b"import not_in_the_layer\n",  # fails with or without them
    })
    scratch = tmp_path / "scratch"

    report = job.run(request(archive, tmp_path / "out.zip", imports=["plain", "odd", "gone"]), str(scratch))

    assert [(i["module"], i["ok"]) for i in report["imports"]] == [("plain", True), ("odd", True), ("gone", False)]
    assert "not_in_the_layer" in report["imports"][2]["error"]
    assert (scratch / "layer" / "python" / "odd" / "tests" / "helper.py").is_file()  # extracted for the retry


@needs_lambda_machine
def test_a_passing_import_never_extracts_the_test_suites(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "layer.zip", {"python/plain/__init__.py": b"VALUE = 1\n",
                                                 "python/plain/tests/test_plain.py": b"X = 1\n",
                                                 "python/plain/tests/_speedups.so": b"\x7fELF not really\n"})
    scratch = tmp_path / "scratch"
    report = job.run(request(archive, tmp_path / "out.zip", imports=["plain"], libraries_off=True), str(scratch))
    assert report["imports"][0]["ok"]
    extracted = scratch / "layer" / "python" / "plain" / "tests"
    assert not (extracted / "test_plain.py").exists()
    assert (extracted / "_speedups.so").exists()  # shared objects are all extracted: the library check reads them
