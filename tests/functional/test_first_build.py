"""The first build of a fresh provider process resolves every runtime in parallel threads, and nothing
before it has looked for uv: with worker functions configured, no local worker search does it first.

On Python 3.11 ``sysconfig.get_config_var`` is not thread-safe on first use (it answered None to five of
eight threads), and uv's own lookup reads it: the first multi-runtime Create failed with ``Internal
error``. Each run here is a new 3.11 process, as a cold Lambda container is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.index import LocalIndex

HANDLER = Path(__file__).resolve().parents[2] / "handler"
FIVE = ["python3.9", "python3.10", "python3.11", "python3.12", "python3.13"]
_FIRST_BUILD = """
import json, sys, pathlib
sys.path.insert(0, sys.argv[1])
from pylayer.properties import Defaults, parse
from pylayer.provider import workers_for
from pylayer.settings import Settings
from pylayer.builder import Engine
from pylayer.index import Index
from pylayer.workers import LambdaWorkers
from pylayer.store import LayerStore
settings = Settings.from_env()
engine = Engine(settings.cache_root)
# No local search: uv not looked for yet.
assert isinstance(workers_for(settings, LayerStore.connect('b'), engine), LambdaWorkers)
spec = parse({"LayerName": "first", "Requirements": ["six==1.16.0"], "CompatibleRuntimes": json.loads(sys.argv[2]),
              "Architecture": "x86_64"}, Defaults("python3.12", "x86_64"))
chosen = engine.resolve_all(spec, pathlib.Path(sys.argv[3]), Index(sys.argv[4]), lambda: 300.0)
print(json.dumps({t.runtime: [w.filename for w in ws] for t, ws in chosen.items()}))
"""


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the race is in Python 3.11's sysconfig")
@pytest.mark.parametrize("attempt", range(3))
def test_a_multi_runtime_first_build_of_a_fresh_311_process_with_workers_resolves(
        packages: LocalIndex, tmp_path: Path, attempt: int) -> None:
    functions = ",".join(f"{r}/x86_64=arn:aws:lambda:us-east-1:123456789012:function:w{i}" for i, r in enumerate(FIVE))
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path),
           "WORKER_FUNCTIONS": functions, "PYLAYER_CACHE_DIR": str(tmp_path / "cache"),
           "PYLAYER_WORK_ROOT": str(tmp_path / "work"), "AWS_REGION": "us-east-1", "UV_PYTHON_DOWNLOADS": "never"}
    done = subprocess.run([sys.executable, "-c", _FIRST_BUILD, str(HANDLER), json.dumps(FIVE), str(tmp_path / "w"),
                           packages.url], env=env, capture_output=True, text=True, timeout=300, check=False)

    assert done.returncode == 0, done.stderr[-3000:]
    chosen = json.loads(done.stdout.strip().splitlines()[-1])
    assert chosen == {runtime: ["six-1.16.0-py3-none-any.whl"] for runtime in FIVE}
