"""`make bench-import`: how fast a published layer imports on its runtime, against no bytecode and the floor.

For each reference layer (pandas, pydantic, requests, boto3 with a client) built
for python3.11, python3.12 and python3.13 (x86_64) the way the provider builds
it (the engine, then the local runtime workers), the import is timed in a fresh
`python -S -E` process of each runtime, with only the layer's two Lambda folders
on sys.path, read-only as /opt is on Lambda:

- published: the archive as the provider publishes it (unchecked-hash .pyc per runtime);
- no bytecode: the same files without any .pyc (every cold start compiles them);
- floor: the same files compiled in place by the runtime itself (`compileall`,
  timestamp .pyc), the best an import can do.

Best of --runs. Needs local interpreters of the runtimes (pyenv's here) and PyPI
(or a warm .bench-cache).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "handler"))

from pylayer import archive, builder, identity  # noqa: E402
from pylayer.errors import LayerTooLarge  # noqa: E402
from pylayer.index import Index  # noqa: E402
from pylayer.install import find_uv  # noqa: E402
from pylayer.interpreters import Interpreters  # noqa: E402
from pylayer.properties import Defaults, parse  # noqa: E402
from pylayer.verify import verify  # noqa: E402
from pylayer.workers import LocalWorkers, RuntimeSite  # noqa: E402
from tests.bench import CACHE, report  # noqa: E402

RUNTIMES = ["python3.11", "python3.12", "python3.13"]
SETS = {
    "pandas": (["pandas==2.2.3"], "import pandas"),
    "pydantic": (["pydantic==2.10.4"], "import pydantic; pydantic.TypeAdapter(list[int]).validate_python([1])"),
    "requests": (["requests==2.32.3"], "import requests"),
    "boto3": (["boto3==1.40.4"], "import boto3; boto3.client('s3', region_name='us-east-1')"),
}
_TIMER = """
import json, sys, time
spec = json.loads(sys.argv[1])
sys.path[:] = spec["front"] + [p for p in sys.path if p]
started = time.perf_counter()
exec(spec["statement"])
print(json.dumps(time.perf_counter() - started))
"""


def build(name: str, requirements: list[str], folder: Path, interpreters: Interpreters,
          runtimes: list[str]) -> Path:
    """The layer as the provider publishes it, extracted into folder/published."""
    spec = parse({"LayerName": name, "Requirements": requirements, "Architecture": "x86_64",
                  "CompatibleRuntimes": runtimes}, Defaults("python3.12", "x86_64"))
    work = folder / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    engine = builder.Engine(CACHE / "import-engine")
    built = engine.build(spec, work, Index(), lambda: 3600.0, identity.content_key(spec, identity.BuildOptions()))
    workers = LocalWorkers(interpreters, RuntimeSite(engine.cache("runtime"), find_uv))
    verified = verify(spec, built.entries, built.owners, workers, work, lambda: 3600.0)
    assert verified.bytecode == "included", verified.bytecode_note
    zipped = archive.write_zip(verified.entries, work / "layer.zip")
    published = folder / "published"
    with zipfile.ZipFile(zipped.path) as layer:
        layer.extractall(published)
    shutil.rmtree(work)
    return published


def variants(published: Path, folder: Path, runtime: str, python: list[str]) -> dict[str, Path]:
    """The three trees to time for one runtime."""
    bare = folder / "no-bytecode"
    if not bare.exists():
        shutil.copytree(published, bare, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    floor = folder / f"floor-{runtime}"
    shutil.copytree(bare, floor)
    writable(floor)  # the copy kept the read-only modes of the tree it was copied from
    for part in ("python", f"python/lib/{runtime}/site-packages"):
        if (floor / part).is_dir():
            subprocess.run([*python, "-m", "compileall", "-q", "-j", "0", "-x", "/lib/python3", str(floor / part)],
                           check=False, capture_output=True, timeout=900)
    for tree in (published, bare, floor):
        read_only(tree)
    return {"published": published, "no bytecode": bare, "floor": floor}


def read_only(tree: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(tree):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def writable(tree: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(tree):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def best(python: list[str], tree: Path, runtime: str, statement: str, runs: int) -> float:
    spec = {"front": [str(tree / f"python/lib/{runtime}/site-packages"), str(tree / "python")],
            "statement": statement}
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    times = []
    for _ in range(runs):
        # -B: nothing is written, as on Lambda's read-only /opt (file modes alone do not stop root).
        done = subprocess.run([*python, "-S", "-E", "-B", "-c", _TIMER, json.dumps(spec)], env=env, cwd=tree,
                              capture_output=True, text=True, timeout=600, check=True)
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sets", default=",".join(SETS))
    args = parser.parse_args(argv)
    interpreters = Interpreters(uv=find_uv())
    pythons = {r: interpreters.find(r.removeprefix("python"), "x86_64") for r in RUNTIMES}
    missing = [r for r, found in pythons.items() if found is None]
    if missing:
        raise SystemExit(f"no local interpreter for {', '.join(missing)}")
    lines = [f"Best of {args.runs}, seconds; x86_64, `python -S -E -B` (nothing written, as on read-only /opt) "
             "with the layer's two folders on sys.path.",
             "", "| layer | runtime | published | no bytecode | floor | published / floor | no bytecode / floor |",
             "|---|---|---|---|---|---|---|"]
    ratios = []
    with tempfile.TemporaryDirectory(prefix="pylayer-bench-import-") as scratch:
        for name in [n for n in args.sets.split(",") if n]:
            requirements, statement = SETS[name]
            folder = Path(scratch) / name
            print(f"  {name}: building for {', '.join(RUNTIMES)}", file=sys.stderr, flush=True)
            try:
                layers = dict.fromkeys(RUNTIMES, build(name, requirements, folder, interpreters, RUNTIMES))
            except LayerTooLarge as exc:  # pandas for three runtimes is over Lambda's limit: a layer each
                print(f"  {name}: {exc.reason} One layer per runtime instead.", file=sys.stderr, flush=True)
                layers = {r: build(name, requirements, folder / r, interpreters, [r]) for r in RUNTIMES}
            for runtime in RUNTIMES:
                published = layers[runtime]
                found = pythons[runtime]
                assert found is not None
                python = list(found.command)
                trees = variants(published, published.parent, runtime, python)
                seconds = {label: best(python, tree, runtime, statement, args.runs) for label, tree in trees.items()}
                ratio = seconds["published"] / seconds["floor"]
                ratios.append(ratio)
                lines.append(f"| {name} | {runtime} | {seconds['published']:.3f} | {seconds['no bytecode']:.3f} "
                             f"| {seconds['floor']:.3f} | {ratio:.2f} | "
                             f"{seconds['no bytecode'] / seconds['floor']:.2f} |")
                writable(trees["floor"])
            for published in set(layers.values()):
                writable(published)
                writable(published.parent / "no-bytecode")
    lines += ["", f"Worst published / floor: {max(ratios):.2f} (target: within 1.10); "
                  f"median {statistics.median(ratios):.2f}."]
    report("import", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
