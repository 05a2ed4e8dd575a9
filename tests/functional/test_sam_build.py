"""`sam build` of the real template, and the built function importing on the runtime's Python."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def python313() -> str | None:
    """The provider's runtime interpreter, where this machine has it (pyenv here)."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted(pyenv_root.glob("versions/3.13*/bin/python3.13"))
    if candidates:
        return str(candidates[-1])
    found = shutil.which("python3.13")
    return found if found and "shims" not in found else None


pytestmark = pytest.mark.network  # sam build installs the dependency layer (and uv) from PyPI


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sam = BIN / "sam"
    if not sam.exists():
        pytest.skip("aws-sam-cli is not installed (make venv installs it)")
    build_dir = tmp_path_factory.mktemp("sam-build")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0",
           "AWS_DEFAULT_REGION": "us-east-1", **({} if python313() else {"BYTECODE": "skip"})}
    done = subprocess.run([str(sam), "build", "--build-dir", str(build_dir), "--cache-dir",
                           str(build_dir / ".cache")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return build_dir


def test_sam_build_packages_the_function_and_its_dependency_layer(built: Path) -> None:
    function = built / "ProviderFunction"
    layer = built / "ProviderDependencies"

    assert (function / "app.py").is_file()
    assert (function / "pylayer" / "provider.py").is_file()
    # Bytecode for the provider's runtime only: unchecked-hash, co_filename as Lambda will have it.
    pycs = list(function.rglob("*.pyc"))
    assert {p.name.split(".")[-2] for p in pycs} <= {"cpython-313"}
    if python313() is not None:
        assert (function / "pylayer" / "__pycache__" / "provider.cpython-313.pyc") in pycs
        assert list((layer / "python" / "aws_lambda_powertools").rglob("*.cpython-313.pyc"))
    assert not (function / "pylayer" / "devtools").exists()  # developer tools stay out of the function
    assert not (function / "pylayer" / "lint").exists()  # the cfn-lint rules neither
    assert not (function / "__main__.py").exists()
    for package in ("aws_lambda_powertools", "packaging"):
        assert (layer / "python" / package).is_dir(), package
    assert not (layer / "python" / "crhelper").exists()  # the answer path is the provider's own (dispatch)
    for machine, e_machine in (("x86_64", 62), ("aarch64", 183)):
        header = (layer / "uv" / machine / "uv").read_bytes()[:20]
        assert header[:4] == b"\x7fELF"
        assert int.from_bytes(header[18:20], "little") == e_machine
    assert "ProviderFunction" in (built / "template.yaml").read_text()
    # Each runtime worker gets the worker package and nothing of the provider.
    worker = built / "WorkerPython312Arm64"
    assert sorted(p.name for p in worker.iterdir()) == ["pylayer"]
    assert sorted(p.name for p in (worker / "pylayer").iterdir()) == ["__init__.py", "worker"]
    assert (worker / "pylayer" / "worker" / "lambda_libraries.json").is_file()


def test_the_bytecode_of_a_build_is_byte_identical_the_next_time(built: Path, tmp_path: Path) -> None:
    if python313() is None:
        pytest.skip("no python3.13 interpreter on this machine: the build makes no bytecode")
    again = tmp_path / "again"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["make", "-s", "-C", str(ROOT / "handler"), "build-ProviderFunction", f"ARTIFACTS_DIR={again}"],
                   env=env, check=True, capture_output=True, timeout=300)
    first = {p.relative_to(built / "ProviderFunction"): p.read_bytes()
             for p in (built / "ProviderFunction").rglob("*.pyc")}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*.pyc")}
    assert first and first == second
    import marshal

    code = marshal.loads(first[Path("pylayer/__pycache__/provider.cpython-313.pyc")][16:])  # noqa: S302 - ours
    assert code.co_filename == "/var/task/pylayer/provider.py"


@pytest.mark.network  # real wheels from PyPI: what only real packages can show
def test_the_built_handler_imports_on_the_runtimes_python(built: Path, tmp_path: Path) -> None:
    # An import error would crash before anything answers and leave a stack waiting for the reaper.
    interpreter = python313()
    if interpreter is None:
        pytest.skip("no python3.13 interpreter on this machine")
    runtime = tmp_path / "runtime"  # what the Lambda runtime itself provides: boto3
    subprocess.run([str(BIN / "uv"), "pip", "install", "--quiet", "--target", str(runtime),
                    "--python-version", "3.13", "--python-platform", "x86_64-manylinux_2_34",
                    "--only-binary", ":all:", "boto3==1.40.4"], check=True, timeout=300,
                   env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    path = os.pathsep.join(str(p) for p in (built / "ProviderFunction",
                                            built / "ProviderDependencies" / "python", runtime))
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": path, "AWS_REGION": "us-east-1",
           "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13", "LAYER_BUCKET": "b"}
    script = "import app, sys; print(app.lambda_handler.__name__, 'crhelper' in sys.modules)"
    done = subprocess.run([interpreter, "-c", script], env=env, capture_output=True, text=True,
                          timeout=120, check=False)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "lambda_handler False"
