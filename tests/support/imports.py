"""Import a built layer the way Lambda would: on a real interpreter of its runtime, with nothing on
sys.path but the layer's two folders, the standard library and, last, the runtime's own boto3.

``python -S -E`` keeps site-packages and PYTHON* variables out; the layer is
extracted as Lambda extracts it under /opt (here under any folder: the paths
are set explicitly).
"""

from __future__ import annotations

import io
import json
import os
import platform
import subprocess
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from pylayer.install import find_uv
from pylayer.interpreters import Interpreter, Interpreters
from pylayer.target import Target
from pylayer.workers import RuntimeSite

_SCRIPT = """
import importlib, json, sys
spec = json.loads(sys.argv[1])
sys.path[:] = spec["front"] + [p for p in sys.path if p] + spec["back"]
found = {}
for name in spec["modules"]:
    module = importlib.import_module(name)
    found[name] = getattr(module, "__file__", None) or ""
print(json.dumps({"files": found, "version": "%d.%d" % sys.version_info[:2], "path": sys.path}))
"""
_INTERPRETERS = Interpreters(uv=find_uv())


def interpreter(runtime: str, machine: str = "") -> Interpreter | None:
    """A local interpreter of the runtime's Python, native by default (aarch64: emulated, if set up)."""
    return _INTERPRETERS.find(runtime.removeprefix("python"), machine or platform.machine())


def python_or_skip(version: str) -> list[str]:
    """The command of a native local pythonX.Y; the calling test is skipped where this machine has none."""
    found = interpreter(f"python{version}")
    if found is None:
        pytest.skip(f"no local python{version} for {platform.machine()} (PYLAYER_PYTHONS, PATH or pyenv)")
    return list(found.command)


def extract(body: bytes, root: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(body)) as layer:
        layer.extractall(root)
    return root


@dataclass(frozen=True)
class Imported:
    files: dict[str, str]  # module -> the file it was loaded from
    path: list[str]


def import_layer(root: Path, runtime: str, modules: Sequence[str], boto3_cache: Path,
                 machine: str = "") -> Imported:
    """Import modules from an extracted layer on the runtime's own interpreter; raises on failure."""
    found = interpreter(runtime, machine)
    assert found is not None, f"no {runtime} interpreter here"
    target = Target(runtime, "arm64" if found.machine == "aarch64" else "x86_64")
    spec = {"front": [str(root / target.site_packages), str(root / "python")], "modules": list(modules),
            "back": [str(RuntimeSite(boto3_cache, find_uv)(target))]}
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([*found.command, "-S", "-E", "-B", "-c", _SCRIPT, json.dumps(spec)], env=env, cwd=root,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["version"] == runtime.removeprefix("python")
    return Imported(result["files"], result["path"])
