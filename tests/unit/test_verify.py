"""Proving a layer loads before it is published: the pure parts (jobs, findings, bytecode state and entries)."""

from __future__ import annotations

import dataclasses
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from pylayer import archive, verify
from pylayer.archive import Entry
from pylayer.errors import NotLoadable
from pylayer.properties import BytecodeSetting, LayerSpec
from pylayer.sources import SourceJob
from pylayer.target import Target
from pylayer.worker.protocol import JobReport
from pylayer.workers import Capability, Delivered, Job, Report, StagedLayer

PY311 = Target("python3.11", "arm64")
PY312 = Target("python3.12", "arm64")
ABLE = Capability(compile=True, imports=True, where="worker fake")


def spec(bytecode: BytecodeSetting = "auto", import_check: tuple[str, ...] = ()) -> LayerSpec:
    # Runtimes written newest first: the spec's targets are oldest first whatever the order.
    # ImportCheck none unless a list is given: these tests are about the list and bytecode (auto: test_import_proof)
    return LayerSpec("demo", ("numpy",), "arm64", ("python3.12", "python3.11"), bytecode=bytecode,
                     import_check=import_check, import_auto=False)


# --------------------------------------------------------------------------- plan_jobs

def test_two_runtimes_with_workers_compile_and_import() -> None:
    jobs = verify.plan_jobs(spec(import_check=("numpy", "cv2")), {PY311: ABLE, PY312: ABLE})

    assert jobs.workers == (Job(PY311, True, ("numpy", "cv2")), Job(PY312, True, ("numpy", "cv2")))
    assert jobs.static == ()
    assert jobs.no_bytecode == ()


def test_bytecode_false_means_no_compile() -> None:
    jobs = verify.plan_jobs(spec(bytecode="false", import_check=("numpy",)), {PY311: ABLE, PY312: ABLE})

    assert jobs.workers == (Job(PY311, False, ("numpy",)), Job(PY312, False, ("numpy",)))
    assert jobs.no_bytecode == ()


def test_a_runtime_without_a_worker_gets_the_static_check_and_no_bytecode() -> None:
    jobs = verify.plan_jobs(spec(), {PY311: ABLE, PY312: None})

    assert jobs.workers == (Job(PY311, True, ()),)
    assert jobs.static == (Job(PY312, False),)
    assert jobs.no_bytecode == (PY312,)


def test_a_missing_capability_counts_as_none() -> None:
    jobs = verify.plan_jobs(spec(), {})

    assert jobs.workers == ()
    assert jobs.static == (Job(PY311, False), Job(PY312, False))
    assert jobs.no_bytecode == (PY311, PY312)


def test_bytecode_false_without_workers_is_not_missing_bytecode() -> None:
    jobs = verify.plan_jobs(spec(bytecode="false"), {})

    assert jobs.no_bytecode == ()
    assert len(jobs.static) == 2


def test_a_worker_that_cannot_compile_runs_without_compiling() -> None:
    importer = Capability(compile=False, imports=True, where="importer")

    jobs = verify.plan_jobs(spec(import_check=("numpy",)), {PY311: importer, PY312: ABLE})

    assert jobs.workers == (Job(PY311, False, ("numpy",)), Job(PY312, True, ("numpy",)))
    assert jobs.no_bytecode == (PY311,)


def test_bytecode_true_without_a_compiler_is_refused() -> None:
    with pytest.raises(NotLoadable) as raised:
        verify.plan_jobs(spec(bytecode="true"), {PY311: ABLE, PY312: None})

    reason = raised.value.reason
    assert "python3.12" in reason
    assert "python3.11" not in reason
    assert "WorkerRuntimes" in reason
    assert "Bytecode" in reason


def test_import_check_without_an_importing_worker_is_refused() -> None:
    compiler_only = Capability(compile=True, imports=False, where="compiler")

    with pytest.raises(NotLoadable) as raised:
        verify.plan_jobs(spec(import_check=("numpy",)), {PY311: ABLE, PY312: compiler_only})

    assert "ImportCheck" in raised.value.reason
    assert "python3.12 arm64" in raised.value.reason
    assert "WorkerRuntimes" in raised.value.reason


def test_import_check_without_any_worker_is_refused() -> None:
    with pytest.raises(NotLoadable, match=r"ImportCheck needs a python3\.11 arm64 worker"):
        verify.plan_jobs(spec(import_check=("numpy",)), {})


# --------------------------------------------------------------------------- evaluate

def report(target: Target = PY312, **data: Any) -> Report:
    return Report(Job(target, True, ("cv2",)), "worker fake", cast(JobReport, data))


def problem(path: str, what: str, detail: str, loaded_by: str = "") -> dict[str, str]:
    return {"path": path, "what": what, "detail": detail, "loaded_by": loaded_by}


CV2 = "python/cv2/cv2.abi3.so"
OWNERS = {CV2: "opencv-python", "python/lib/python3.11/site-packages/cv2/cv2.abi3.so": "opencv-python",
          "python/numpy/_core/_multiarray_umath.so": "numpy"}


def test_a_clean_report_gives_no_findings() -> None:
    found = verify.evaluate([report(libraries={"errors": [], "warnings": []},
                                    imports=[{"module": "cv2", "ok": True}], bytecode={"failed_count": 0})], OWNERS)

    assert found == verify.Findings((), ())


def test_a_missing_library_of_opencv_names_the_module_the_library_and_the_fix() -> None:
    found = verify.evaluate([report(libraries={"errors": [problem(CV2, "missing", "libGL.so.1", CV2)]})], OWNERS)

    assert found.errors == ("Not loadable on python3.12 arm64: cv2/cv2.abi3.so needs libGL.so.1, which the "
                            "python3.12 image (Amazon Linux 2023) does not have; use opencv-python-headless "
                            "instead of opencv-python.",)
    assert found.warnings == ()


def test_a_missing_library_of_another_package_has_no_fix() -> None:
    numpy = "python/numpy/_core/_multiarray_umath.so"

    found = verify.evaluate([report(libraries={"errors": [problem(numpy, "missing", "libgfortran.so.5", numpy)]})],
                            OWNERS)

    (error,) = found.errors
    assert "numpy/_core/_multiarray_umath.so needs libgfortran.so.5" in error
    assert " instead of " not in error


def test_a_library_loaded_through_another_object_names_both() -> None:
    through = "python/lib/python3.11/site-packages/opencv_python.libs/libavcodec-1a2b.so.59"
    loader = "python/lib/python3.11/site-packages/cv2/cv2.abi3.so"

    found = verify.evaluate([report(PY311, libraries={"errors": [problem(through, "missing", "libva.so.2",
                                                                         loader)]})], OWNERS)

    (error,) = found.errors
    assert error.startswith("Not loadable on python3.11 arm64: cv2/cv2.abi3.so (through "
                            "opencv_python.libs/libavcodec-1a2b.so.59) needs libva.so.2, which the python3.11 "
                            "image (Amazon Linux 2) does not have")
    assert error.endswith("; use opencv-python-headless instead of opencv-python.")


def test_machine_and_glibc_problems() -> None:
    wrong_machine = problem("python/fast/_fast.so", "machine", "x86_64", "python/fast/_fast.so")
    new_glibc = problem("python/lib/python3.12/site-packages/fast/_fast.so", "glibc", "GLIBC_2.38 (the image has "
                        "2.34)", "python/lib/python3.12/site-packages/fast/_fast.so")

    machine = verify.evaluate([report(libraries={"errors": [wrong_machine]})], {})
    glibc = verify.evaluate([report(libraries={"errors": [new_glibc]})], {})

    assert machine.errors == ("Not loadable on python3.12 arm64: fast/_fast.so is built for x86_64, not aarch64.",)
    assert glibc.errors == ("Not loadable on python3.12 arm64: fast/_fast.so needs GLIBC_2.38 (the image has "
                            "2.34).",)


def test_several_problems_give_the_first_and_a_count() -> None:
    problems = [problem(f"python/m{i}/_m.so", "missing", "libX.so", f"python/m{i}/_m.so") for i in range(3)]

    found = verify.evaluate([report(libraries={"errors": problems})], {})

    (error,) = found.errors
    assert error.startswith("Not loadable on python3.12 arm64: m0/_m.so needs libX.so")
    assert error.endswith(" (and 2 more; see the log).")


def test_each_runtime_gets_its_own_error() -> None:
    broken = {"errors": [problem(CV2, "missing", "libGL.so.1", CV2)]}

    found = verify.evaluate([report(PY311, libraries=broken), report(PY312, libraries=broken)], OWNERS)

    assert [e.split(":")[0] for e in found.errors] == ["Not loadable on python3.11 arm64",
                                                       "Not loadable on python3.12 arm64"]


def test_a_problem_no_import_loads_is_a_warning() -> None:
    unused = problem("python/pkg/tests/_helper.so", "missing", "libfoo.so.1")

    found = verify.evaluate([report(libraries={"errors": [], "warnings": [unused]})], {})

    assert found.errors == ()
    assert found.warnings == ("python3.12 arm64: pkg/tests/_helper.so needs libfoo.so.1, which the python3.12 "
                              "image (Amazon Linux 2023) does not have, but no import loads it",)


def test_a_failed_import_is_an_error() -> None:
    imports = [{"module": "numpy", "ok": True},
               {"module": "cv2", "ok": False, "error": "ImportError: libGL.so.1: cannot open shared object file"}]

    found = verify.evaluate([report(imports=imports)], {})

    assert found.errors == ("ImportCheck: import cv2 failed on python3.12 arm64: ImportError: libGL.so.1: cannot "
                            "open shared object file",)


def test_a_long_import_error_is_clipped() -> None:
    found = verify.evaluate([report(imports=[{"module": "m", "ok": False, "error": "E" * 5000}])], {})

    (error,) = found.errors
    assert error.endswith("...")
    assert len(error) < 400


def test_compile_failures_are_a_warning() -> None:
    failed = [[f"/opt/python/bad{i}.py", "SyntaxError: invalid syntax"] for i in range(7)]

    found = verify.evaluate([report(bytecode={"failed_count": 7, "failed": failed})], {})

    assert found.errors == ()
    assert found.warnings == ("python3.12 arm64: 7 modules did not compile (kept as source): /opt/python/bad0.py, "
                              "/opt/python/bad1.py, /opt/python/bad2.py, /opt/python/bad3.py, /opt/python/bad4.py",)


# --------------------------------------------------------------------------- bytecode_state

@pytest.mark.parametrize(("bytecode", "compiled", "missing", "why", "state"), [
    ("false", [PY311, PY312], [], "", ("off", "Bytecode is false")),
    ("auto", [PY311, PY312], [], "", ("included", "compiled for python3.11, python3.12")),
    ("true", [PY311, PY312], [], "", ("included", "compiled for python3.11, python3.12")),
    ("auto", [PY311], [PY312], "", ("partial", "compiled for python3.11; no worker for python3.12")),
    ("auto", [], [PY311, PY312], "", ("omitted", "no worker for python3.11, python3.12")),
    ("auto", [PY311, PY312], [], "too large", ("omitted", "too large")),
])
def test_bytecode_state(bytecode: BytecodeSetting, compiled: list[Target], missing: list[Target], why: str,
                        state: tuple[str, str]) -> None:
    assert verify.bytecode_state(spec(bytecode=bytecode), compiled, missing, why) == state


# --------------------------------------------------------------------------- bytecode_entries

PYC = {
    "python/__pycache__/six.cpython-312.pyc": b"\xcb\r\r\n" + bytes(range(256)) * 40,
    "python/lib/python3.12/site-packages/numpy/__pycache__/__init__.cpython-312.pyc": b"\xcb\r\r\n" + b"n" * 3000,
    "python/pkg/__pycache__/tiny.cpython-312.pyc": b"\xcb\r\r\n",
}


def worker_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as out:
        out.writestr("python/__pycache__/", b"")
        for name, data in PYC.items():
            compress = zipfile.ZIP_STORED if name.endswith("tiny.cpython-312.pyc") else zipfile.ZIP_DEFLATED
            out.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data, compress_type=compress)
        out.writestr("elsewhere/__pycache__/x.cpython-312.pyc", b"not in python/")
        out.writestr("python/notes.txt", b"not bytecode")
    return path


def test_bytecode_entries_are_the_pyc_under_python(tmp_path: Path) -> None:
    made = worker_zip(tmp_path / "bytecode.zip")

    entries = verify.bytecode_entries(made)

    assert sorted(e.arcname for e in entries) == sorted(PYC)
    for entry in entries:
        assert entry.size == len(PYC[entry.arcname])
        assert not entry.executable
        assert entry.member is not None
        assert entry.member.wheel == made
        assert entry.path is None and entry.data is None


def test_bytecode_entries_are_copied_into_a_layer_unchanged(tmp_path: Path) -> None:
    made = worker_zip(tmp_path / "bytecode.zip")
    source = Entry("python/six.py", 12, False, data=b"import sys\n\n")
    layer = sorted([source, *verify.bytecode_entries(made)], key=lambda e: e.arcname)

    built = archive.write_zip(layer, tmp_path / "layer.zip")

    with zipfile.ZipFile(built.path) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == sorted([*PYC, "python/six.py"])
        for name, data in PYC.items():
            assert zf.read(name) == data
        assert zf.read("python/six.py") == b"import sys\n\n"
    assert built.file_count == 4
    assert built.unzipped_size == 12 + sum(len(d) for d in PYC.values())


# --------------------------------------------------------------------------- verify, with fake workers

@dataclasses.dataclass
class FakeWorkers:
    bytecode: Mapping[Target, Path]
    data: Mapping[str, Any]
    jobs: list[Job] = dataclasses.field(default_factory=list)
    workers_from = "fake workers"  # not a field

    def capability(self, target: Target) -> Capability | None:
        return ABLE

    def run(self, staged: StagedLayer, jobs: Sequence[Job], workdir: Path, time_left: Callable[[], float],
            delivered: Delivered | None = None) -> list[Report]:
        assert zipfile.is_zipfile(staged.archive())
        self.jobs += jobs
        for job in jobs:  # as the Lambda transport does: each runtime's bytecode before its imports end
            if delivered is not None and job.target in self.bytecode:
                delivered(job, self.bytecode[job.target])
        return [Report(job, "worker fake", cast(JobReport, self.data), self.bytecode.get(job.target)) for job in jobs]

    def build_source(self, job: SourceJob, workdir: Path, time_left: Callable[[], float]) -> Path:
        raise AssertionError("no source distribution is built in these tests")


def test_verify_adds_the_workers_bytecode(tmp_path: Path) -> None:
    made = {PY312: worker_zip(tmp_path / "bytecode-312.zip"), PY311: tmp_path / "bytecode-311.zip"}
    with zipfile.ZipFile(made[PY311], "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("python/__pycache__/six.cpython-311.pyc", b"\xa7\r\r\n" + b"6" * 100)
    workers = FakeWorkers(made, {"libraries": {"errors": [], "warnings": []}})
    entries = [Entry("python/six.py", 3, False, data=b"x=1")]

    verified = verify.verify(spec(bytecode="true"), entries, {}, workers, tmp_path, lambda: 600.0)

    assert [j.target for j in workers.jobs] == [PY311, PY312]
    assert verified.bytecode == "included"
    assert not verified.unchanged
    assert verified.staged.file_count == 1
    names = [e.arcname for e in verified.entries]
    # The staged entries as staged, then the bytecode sorted: the layer's zip is the staged one, appended to.
    assert names == ["python/six.py", *sorted(["python/__pycache__/six.cpython-311.pyc", *PYC])]
    assert verified.bytecode_note == "compiled for python3.11, python3.12"


def test_verify_refuses_a_layer_that_would_not_load(tmp_path: Path) -> None:
    workers = FakeWorkers({}, {"libraries": {"errors": [problem(CV2, "missing", "libGL.so.1", CV2)]}})

    with pytest.raises(NotLoadable, match="opencv-python-headless") as raised:
        verify.verify(spec(), [Entry(CV2, 3, False, data=b"ELF")], OWNERS, workers, tmp_path, lambda: 600.0)

    assert "python3.11" in raised.value.detail and "python3.12" in raised.value.detail


def test_the_entries_with_bytecode_are_handed_ahead_once_every_runtime_has_delivered(tmp_path: Path) -> None:
    made = {PY312: worker_zip(tmp_path / "bytecode-312.zip"), PY311: tmp_path / "bytecode-311.zip"}
    with zipfile.ZipFile(made[PY311], "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("python/__pycache__/six.cpython-311.pyc", b"\xa7\r\r\n" + b"6" * 100)
    workers = FakeWorkers(made, {"libraries": {"errors": [], "warnings": []}})
    handed: list[list[Entry]] = []

    verified = verify.verify(spec(bytecode="true"), [Entry("python/six.py", 3, False, data=b"x=1")], {}, workers,
                             tmp_path, lambda: 600.0, ahead=lambda staged, layer: handed.append(layer))

    assert handed == [verified.entries]  # once, after both runtimes: exactly what verify ends with


def test_nothing_is_handed_ahead_when_a_runtime_never_delivers(tmp_path: Path) -> None:
    workers = FakeWorkers({PY312: worker_zip(tmp_path / "bytecode-312.zip")},
                          {"libraries": {"errors": [], "warnings": []}})
    handed: list[list[Entry]] = []

    verify.verify(spec(bytecode="auto"), [Entry("python/six.py", 3, False, data=b"x=1")], {}, workers, tmp_path,
                  lambda: 600.0, ahead=lambda staged, layer: handed.append(layer))

    assert handed == []  # python3.11 compiled nothing: the layer's zip is made after the answers, as before


def test_entries_handed_ahead_of_a_layer_that_fails_are_not_what_is_returned(tmp_path: Path) -> None:
    made = {PY311: worker_zip(tmp_path / "a.zip"), PY312: worker_zip(tmp_path / "b.zip")}
    workers = FakeWorkers(made, {"libraries": {"errors": [problem(CV2, "missing", "libGL.so.1", CV2)]}})
    handed: list[list[Entry]] = []

    with pytest.raises(NotLoadable):
        verify.verify(spec(), [Entry(CV2, 3, False, data=b"ELF")], OWNERS, workers, tmp_path, lambda: 600.0,
                      ahead=lambda staged, layer: handed.append(layer))

    assert len(handed) == 1  # handed before the verdict: the caller must discard what it made of them


def test_the_modules_go_first_only_for_a_compiling_job_of_a_large_layer() -> None:
    big = Entry("python/numpy/core.so", 20 << 20, False, data=b"")
    module = Entry("python/numpy/__init__.py", 10, False, data=b"")
    suite = Entry("python/numpy/tests/test_core.py", 10, False, data=b"")
    other_runtime = Entry("python/lib/python3.11/site-packages/six.py", 10, False, data=b"")
    stub = Entry("python/numpy/__init__.pyi", 10, False, data=b"")
    outside = Entry("bin/tool.py", 10, False, data=b"")
    entries = [big, module, suite, other_runtime, stub, outside]
    compiling, importing = Job(PY312, True), Job(PY312, False, ("numpy",))

    assert verify.modules_first(entries, [compiling]) == [module, other_runtime]  # each worker takes its view
    assert verify.modules_first(entries, [importing]) == []  # nothing to compile
    assert verify.modules_first(entries, [compiling], rest_bytes=(20 << 20) + 100) == []  # the rest is small
    assert verify.modules_first([big, suite], [compiling]) == []  # no module to send
