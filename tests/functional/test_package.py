"""The reviewer tools outside this repository: the package built from a clone, installed into a fresh
virtual environment, gives the `pylayer` command and cfn-lint rules found by module name, with no copied
folder; the provider's Lambda package is not in it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BAD = """\
Resources:
  Layer:
    Type: Custom::PythonLayer
    Properties:
      ServiceToken: arn:aws:lambda:us-east-1:123456789012:function:provider
      ServiceTimeout: 900
      LayerName: deps
      Requirements: [six==1.16.0]
      ShareWith: ["*"]
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the venv it is installed into), as `pip install git+https://...` would make them."""
    base = tmp_path_factory.mktemp("package")
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run([str(BIN / "uv"), "build", "--wheel", "--out-dir", str(base / "dist"), str(ROOT)], env=env,
                   check=True, capture_output=True, timeout=600)
    wheel = next((base / "dist").glob("pylayer-*.whl"))
    venv = base / "venv"
    subprocess.run([str(BIN / "uv"), "venv", "--quiet", "--python", sys.executable, str(venv)], env=env, check=True,
                   capture_output=True, timeout=120)
    subprocess.run([str(BIN / "uv"), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                    str(wheel)], env=env, check=True, capture_output=True, timeout=600)
    return wheel, venv


@pytest.mark.network  # the package's dependencies (cfn-lint, uv, boto3) come from the index
def test_the_package_holds_the_tools_and_not_the_function(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "pylayer/lint/__init__.py" in names and "pylayer/devtools/cli.py" in names
    assert "pylayer/worker/lambda_libraries.json" in names
    assert not [n for n in names if n.startswith(("app.py", "tests/", "layers/"))]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


@pytest.mark.network
def test_the_installed_command_and_rules_work_outside_the_repository(installed: tuple[Path, Path],
                                                                    tmp_path: Path) -> None:
    _, venv = installed
    template = tmp_path / "template.yaml"
    template.write_text(BAD)
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path)}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                              check=False)

    assert run("pylayer", "--help").returncode == 0
    linted = run("pylayer", "lint", "--format", "parseable", "template.yaml")
    assert linted.returncode == 2, linted.stdout + linted.stderr
    assert ":E9104:Layer: ShareWith \"*\" shares the layer with every AWS account" in linted.stdout
    # The rules by module name, as a user's .cfnlintrc names them: no folder copied from this repository.
    (tmp_path / ".cfnlintrc").write_text("append_rules:\n  - pylayer.lint\n")
    plain = run("cfn-lint", "--format", "parseable", "template.yaml")
    assert plain.returncode == 2 and ":E9104:" in plain.stdout
