"""ImportCheck auto: what is imported where, which failures fail the layer, and the Proof attribute."""

from __future__ import annotations

from typing import Any, cast

import pytest

from pylayer import verify
from pylayer.errors import InvalidProperties
from pylayer.properties import Defaults, LayerSpec, parse
from pylayer.target import Target
from pylayer.worker.protocol import JobReport
from pylayer.workers import Capability, Job, Report

DEFAULTS = Defaults(runtime="python3.12", architecture="x86_64")
PY311, PY312 = Target("python3.11", "x86_64"), Target("python3.12", "x86_64")
ABLE = Capability(compile=True, imports=True, where="worker fake")
STATIC_ONLY = Capability(compile=True, imports=False, where="compiler only")
LIGHTGBM = ("OSError: libgomp.so.1: cannot open shared object file: No such file or directory")
WEASYPRINT = ("OSError: cannot load library 'libgobject-2.0-0': libgobject-2.0-0: cannot open shared object file: "
              "No such file or directory.  Additionally, ctypes.util.find_library() did not manage to locate a "
              "library called 'libgobject-2.0-0'")


def spec(**props: Any) -> LayerSpec:
    return parse({"LayerName": "x", "Requirements": ["LightGBM>=4", "uvicorn[standard]"],
                  "CompatibleRuntimes": ["python3.11", "python3.12"], **props}, DEFAULTS)


def report(job: Job, *imports: dict[str, Any], libraries: bool = True) -> Report:
    data: dict[str, Any] = {"imports": list(imports)}
    if libraries:
        data["libraries"] = {"errors": [], "warnings": []}
    return Report(job, "fake", cast(JobReport, data))


@pytest.mark.parametrize(("value", "mode"), [(None, "auto"), ("auto", "auto"), ("AUTO", "auto"), (["auto"], "auto"),
                                             ("none", "none"), ([], "none"), (["none"], "none"),
                                             (["lightgbm"], "modules")])
def test_import_check_is_auto_unless_told(value: object, mode: str) -> None:
    props = {} if value is None else {"ImportCheck": value}
    assert spec(**props).import_mode == mode


def test_auto_imports_the_requested_distributions_where_a_worker_can_import() -> None:
    jobs = verify.plan_jobs(spec(), {PY311: STATIC_ONLY, PY312: ABLE})
    assert [(j.target, j.imports, j.distributions) for j in jobs.workers] == [
        (PY311, (), ()), (PY312, (), ("lightgbm", "uvicorn"))]
    assert verify.plan_jobs(spec(ImportCheck="none"), {PY311: ABLE, PY312: ABLE}).workers[1].distributions == ()


def test_auto_without_any_worker_falls_back_to_the_library_check() -> None:
    jobs = verify.plan_jobs(spec(), {})
    assert [j.target for j in jobs.static] == [PY311, PY312] and not jobs.workers


def test_a_missing_library_at_import_fails_with_the_library_and_the_fix() -> None:
    job = Job(PY312, True, (), ("lightgbm",))
    found = verify.evaluate([report(job, {"module": "lightgbm", "distribution": "lightgbm", "ok": False,
                                          "error": LIGHTGBM, "category": "library"})], {})
    [reason] = found.errors
    assert reason.startswith("Not loadable on python3.12 x86_64: import lightgbm fails: libgomp.so.1 is not in "
                             "the python3.12 image (Amazon Linux 2023)")
    assert "under lib/" in reason and "/opt/lib" in reason


def test_cffi_libraries_are_named_too() -> None:
    assert verify.missing_library(WEASYPRINT) == "libgobject-2.0-0"
    assert verify.missing_library(LIGHTGBM) == "libgomp.so.1"
    assert verify.missing_library("ImportError: libxcb.so.1: cannot open shared object file") == "libxcb.so.1"
    assert verify.missing_library("KeyError: 'DATABASE_URL'") == ""


def test_a_known_replacement_is_offered() -> None:
    job = Job(PY312, True, (), ("opencv-python",))
    [reason] = verify.evaluate([report(job, {"module": "cv2", "distribution": "opencv-python", "ok": False,
                                             "error": "ImportError: libGL.so.1: cannot open shared object file",
                                             "category": "import"})], {}).errors
    assert "use opencv-python-headless instead of opencv-python" in reason


@pytest.mark.parametrize("category", ["other", "timeout"])
def test_a_failure_the_layer_cannot_fix_is_a_warning_with_auto(category: str) -> None:
    job = Job(PY312, True, (), ("needs-env",))
    found = verify.evaluate([report(job, {"module": "needs_env", "ok": False, "error": "KeyError: 'DATABASE_URL'",
                                          "category": category})], {})
    assert found.errors == ()
    assert "needs_env" in found.warnings[0] and "DATABASE_URL" in found.warnings[0]


@pytest.mark.parametrize("category", ["import", "library", "crash"])
def test_missing_modules_libraries_and_crashes_fail_with_auto(category: str) -> None:
    job = Job(PY312, True, (), ("x",))
    found = verify.evaluate([report(job, {"module": "x", "ok": False, "error": "E", "category": category})], {})
    assert len(found.errors) == 1


def test_an_explicit_list_fails_on_any_failure() -> None:
    job = Job(PY312, True, ("needs_env",))
    found = verify.evaluate([report(job, {"module": "needs_env", "ok": False, "error": "KeyError: 'X'",
                                          "category": "other"})], {})
    assert found.errors and found.errors[0].startswith("ImportCheck: import needs_env failed")


def test_proof_is_the_weakest_over_the_runtimes() -> None:
    imported = report(Job(PY312, True, (), ("six",)), {"module": "six", "ok": True})
    static = report(Job(PY311, False))
    assert verify.proof_of(imported) == "imported" and verify.proof_of(static) == "libraries"
    assert verify.weakest([verify.proof_of(imported), verify.proof_of(static)]) == "libraries"
    assert verify.weakest(["imported", "imported"]) == "imported"
    assert verify.proof_of(report(Job(PY312, False), libraries=False)) == "none"


def test_a_library_warning_says_when_every_import_passed() -> None:
    data = {"imports": [{"module": "lightgbm", "ok": True}],
            "libraries": {"errors": [], "warnings": [{"path": "python/lightgbm/lib/lib_lightgbm.so", "what": "missing",
                                                      "detail": "libgomp.so.1", "loaded_by": ""}]}}
    [warning] = verify.evaluate([Report(Job(PY312, True, (), ("lightgbm",)), "fake", cast(JobReport, data))],
                                {}).warnings
    assert "libgomp.so.1" in warning and "but no import loads it (every import passed" in warning


def test_import_check_words_and_lists_are_validated() -> None:
    with pytest.raises(InvalidProperties, match="auto stands alone"):
        spec(ImportCheck=["auto", "numpy"])
    with pytest.raises(InvalidProperties, match="not a module name"):
        spec(ImportCheck=["numpy-1"])
