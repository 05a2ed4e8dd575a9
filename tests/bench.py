"""`make bench`: our provider against the naive way, side by side, in one run.

Ours: a Create event in, the SUCCESS answer out: the real handler in its own
process (tests/bench_lambda.py, "the Lambda") against moto's server, timed
around the handler call.
Naive: what tutorials and most tools do: `pip install -r requirements.txt -t
python/` (for the target: --platform, --python-version, --only-binary) and
`zip -r layer.zip python`.

Both read packages from the same index: by default a local copy of the wheels
(downloaded once into .bench-cache/, served on loopback), so the network does
not decide the result; `--index public` uses the public index instead.

Modes for ours:
- cold: a new container (empty /tmp, no caches) and a spec never built;
- warm: the same container again (uv's and the wheel cache kept in /tmp), a
  spec whose archive is not in the bucket;
- rebuilt: a spec built before (a retry, a rollback, the same layer in another
  stack): the archive in the bucket is reused, nothing is installed.
The naive way has no such modes: it installs and zips every time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "handler"))

from pylayer.install import find_uv  # noqa: E402
from pylayer.target import Target  # noqa: E402
from pylayer.workers import RuntimeSite  # noqa: E402
from tests.support import aws, imports  # noqa: E402
from tests.support.cfn import event  # noqa: E402
from tests.support.index import LocalIndex  # noqa: E402
from tests.support.played_lambda import PlayedLambda, functions_for  # noqa: E402
from tests.support.receiver import ResponseReceiver  # noqa: E402

CACHE = ROOT / ".bench-cache"
SETS: dict[str, dict[str, Any]] = {
    "requests": {"Requirements": ["requests==2.32.3"], "Runtime": "python3.12", "Architecture": "x86_64"},
    "pydantic": {"Requirements": ["pydantic==2.10.4"], "Runtime": "python3.12", "Architecture": "x86_64"},
    "pandas": {"Requirements": ["pandas==2.2.3"], "Runtime": "python3.12", "Architecture": "x86_64"},
    # arm64 built on x86_64: compiled natively, imported under qemu (local workers only).
    "pandas-arm64": {"Requirements": ["pandas==2.2.3"], "Runtime": "python3.12", "Architecture": "arm64"},
}


@dataclass
class Sample:
    seconds: float
    zip_bytes: int = 0
    unzipped_bytes: int = 0
    peak_tmp_bytes: int = 0
    rss_kb: int = 0
    children_rss_kb: int = 0
    phases: dict[str, float] = field(default_factory=dict)


@dataclass
class Row:
    name: str
    mode: str
    ours: list[Sample] = field(default_factory=list)
    naive: list[Sample] = field(default_factory=list)


def tree_size(path: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            with suppress(OSError):  # a file removed while we walk
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


@contextmanager
def peak_size(path: Path) -> Iterator[Callable[[], int]]:
    """Samples the size of a directory every 50 ms while the block runs."""
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_size(path))
            done.wait(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield lambda: peak
    finally:
        done.set()
        thread.join()
        peak = max(peak, tree_size(path))


def pip_platform_args(target: Target) -> list[str]:
    return [a for tag in target.pip_platforms for a in ("--platform", tag)] + [
        "--implementation", "cp", "--python-version", target.python_version, "--only-binary=:all:"]


def report(name: str, result: str) -> None:
    """A benchmark's tables: printed, and kept as .bench-cache/last-NAME.md."""
    CACHE.mkdir(exist_ok=True)
    (CACHE / f"last-{name}.md").write_text(result + "\n")
    print(result)


def download_wheels(name: str, spec: dict[str, Any]) -> list[Path]:
    """The set's wheels for its target, downloaded once."""
    directory = CACHE / "wheels" / name
    marker = directory / ".complete"
    if not marker.exists():
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        target = Target(spec["Runtime"], spec["Architecture"])
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--isolated",
                        "--disable-pip-version-check", "-d", str(directory), *pip_platform_args(target),
                        *spec["Requirements"]], check=True, timeout=900)
        marker.touch()
    return sorted(directory.glob("*.whl"))


def naive(spec: dict[str, Any], index_url: str | None, scratch: Path) -> Sample:
    work = scratch / "naive"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    (work / "requirements.txt").write_text("\n".join(spec["Requirements"]) + "\n")
    target = Target(spec["Runtime"], spec["Architecture"])
    index = ["--index-url", index_url] if index_url else []
    with peak_size(work) as peak:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--isolated", "--no-cache-dir",
                        "--disable-pip-version-check", "--no-warn-conflicts", "-r", "requirements.txt", "-t", "python",
                        *pip_platform_args(target), *index], cwd=work, check=True, timeout=900)
        subprocess.run(["zip", "-qr", "layer.zip", "python"], cwd=work, check=True, timeout=900)
        seconds = time.perf_counter() - started
    sample = Sample(seconds, (work / "layer.zip").stat().st_size, tree_size(work / "python"), peak())
    shutil.rmtree(work, ignore_errors=True)
    return sample


class Container:
    """One provider process: a Lambda execution environment, handling events in turn."""

    def __init__(self, endpoint: str, receiver: ResponseReceiver, index_url: str | None, work_root: Path,
                 workers: dict[str, str] | None = None) -> None:
        self.receiver = receiver
        self.work_root = work_root
        work_root.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **aws.aws_environment(endpoint), "SSL_CERT_FILE": str(receiver.ca_bundle),
               "PYLAYER_WORK_ROOT": str(work_root), "POWERTOOLS_LOG_LEVEL": "WARNING",
               "PYLAYER_RESPONSE_HOSTS": "localhost",  # the receiver stands in for CloudFormation's
               "PYTHONPATH": os.pathsep.join([str(ROOT / "handler"), str(ROOT)])}
        env.pop("PYLAYER_CACHE_DIR", None)
        env.update(workers or {})  # the Lambda transport: WORKER_FUNCTIONS, and Lambda's endpoint played
        if index_url:
            env["PACKAGE_INDEX_URL"] = index_url
        self.log = (work_root.parent / f"{work_root.name}.log").open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "tests.bench_lambda"], env=env, cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)

    def invoke(self, spec: dict[str, Any], logical_id: str) -> Sample:
        url = self.receiver.url()
        request = event("Create", {"LayerName": "bench", **spec}, url, logical_id=logical_id)
        assert self.process.stdin is not None and self.process.stdout is not None
        with peak_size(self.work_root) as peak:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the provider process died; its log: {self.log.name}")
        measured = json.loads(line)
        answer = self.receiver.response_for(url).body
        if answer["Status"] != "SUCCESS":
            raise SystemExit(f"the provider answered {answer['Status']}: {answer['Reason']}")
        return Sample(measured["seconds"], int(answer["Data"]["CodeSize"]), int(answer["Data"]["UnzippedSize"]),
                      peak(), measured["maxrss_kb"], measured["children_maxrss_kb"], measured.get("phases", {}))

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)
        self.log.close()
        shutil.rmtree(self.work_root, ignore_errors=True)


def forget_archives(endpoint: str) -> None:
    """Remove the spec pointers and the archives, so the next build of a spec can neither reuse its archive
    nor skip uploading it."""
    s3 = aws.client("s3", endpoint)
    for item in s3.list_objects_v2(Bucket=aws.BUCKET).get("Contents", []):
        if item["Key"].startswith(("specs/", "layers/")):
            s3.delete_object(Bucket=aws.BUCKET, Key=item["Key"])


def measure(name: str, spec: dict[str, Any], runs: int, endpoint: str, receiver: ResponseReceiver,
            index_url: str | None, scratch: Path, workers: dict[str, str] | None = None) -> list[Row]:
    rows = {mode: Row(name, mode) for mode in ("cold", "warm", "rebuilt")}
    for run in range(runs):
        print(f"  {name}: run {run + 1}/{runs}", file=sys.stderr, flush=True)
        forget_archives(endpoint)
        container = Container(endpoint, receiver, index_url, scratch / f"container-{run}", workers)
        try:
            rows["cold"].ours.append(container.invoke(spec, f"Cold{run}"))
            # Built before: its archive is in the bucket; another resource, the same warm container.
            rows["rebuilt"].ours.append(container.invoke(spec, f"Rebuilt{run}"))
            # Warm: uv's and the wheel cache in /tmp, but no archive to reuse.
            forget_archives(endpoint)
            rows["warm"].ours.append(container.invoke(spec, f"Warm{run}"))
        finally:
            container.close()
        naive_sample = naive(spec, index_url, scratch)
        for row in rows.values():
            row.naive.append(naive_sample)
    return list(rows.values())


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


def mb(size: float) -> str:
    return f"{size / 1_000_000:.1f}"


def table(rows: list[Row], index: str, runs: int) -> str:
    lines = [
        f"Index: {index}; {runs} runs each; median (min-max). Sizes in MB.",
        "",
        "| set | mode | ours | naive | ours/naive | speed-up | zip ours / naive | unzipped ours / naive "
        "| peak RSS provider / uv | peak /tmp ours (x unzipped) / naive |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ours = statistics.median(s.seconds for s in row.ours)
        naive_median = statistics.median(s.seconds for s in row.naive)
        o, n = row.ours[-1], row.naive[-1]
        peak = max(s.peak_tmp_bytes for s in row.ours)
        lines.append(
            f"| {row.name} | {row.mode} | {spread([s.seconds for s in row.ours])} "
            f"| {spread([s.seconds for s in row.naive])} | {ours / naive_median:.3f} | {naive_median / ours:.1f}x "
            f"| {mb(o.zip_bytes)} / {mb(n.zip_bytes)} | {mb(o.unzipped_bytes)} / {mb(n.unzipped_bytes)} "
            f"| {max(s.rss_kb for s in row.ours) // 1024} MB / {max(s.children_rss_kb for s in row.ours) // 1024} MB "
            f"| {mb(peak)} ({peak / max(o.unzipped_bytes, 1):.2f}x) / {mb(max(s.peak_tmp_bytes for s in row.naive))} |")
    return "\n".join(lines)


def phases_table(rows: list[Row]) -> str:
    """Where the provider's time goes: median seconds per phase."""
    names = ("install", "verify", "zip", "upload", "publish", "worker extract", "worker compile", "worker libraries",
             "worker imports")
    lines = ["| set | mode | " + " | ".join(names) + " | handler total |", "|---|---|" + "---|" * (len(names) + 1)]
    for row in rows:
        cells = []
        for name in names:
            values = [s.phases[name] for s in row.ours if name in s.phases]
            cells.append(f"{statistics.median(values):.2f}" if values else "-")
        total = statistics.median(s.seconds for s in row.ours)
        lines.append(f"| {row.name} | {row.mode} | " + " | ".join(cells) + f" | {total:.2f} |")
    return "\n".join(lines)


@contextmanager
def played_workers(kind: str, specs: list[dict[str, Any]], endpoint: str, scratch: Path
                   ) -> Iterator[tuple[dict[str, str], PlayedLambda | None]]:
    """The container's environment for the Lambda transport, and the played Lambda API behind it."""
    if kind == "local":
        yield {}, None
        return
    targets = sorted({(s["Runtime"], s["Architecture"]) for s in specs})
    functions = {}
    for runtime, architecture in targets:
        target = Target(runtime, architecture)
        found = imports.interpreter(runtime, target.machine)
        if found is None:
            raise SystemExit(f"no local {runtime} {target.machine} to play its worker function")
        site = RuntimeSite(scratch / "runtime", find_uv)(target)
        assert site is not None
        functions[f"{runtime}/{architecture}"] = (found, site)
    setting, named = functions_for(functions)
    with PlayedLambda(endpoint, named) as played:
        yield {"WORKER_FUNCTIONS": setting, "AWS_ENDPOINT_URL_LAMBDA": played.url}, played


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", choices=("local", "public"), default="local")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sets", default="requests,pydantic,pandas", help="comma-separated, from: " + ", ".join(SETS))
    parser.add_argument("--workers", choices=("lambda", "local"), default="lambda",
                        help="lambda: worker functions invoked through Lambda's API (played on loopback: "
                             "tests/support/played_lambda.py); local: the local transport")
    args = parser.parse_args(argv)
    names = [n for n in args.sets.split(",") if n]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="pylayer-bench-") as scratch_dir, aws.moto_server() as endpoint:
        scratch = Path(scratch_dir)
        receiver = ResponseReceiver(scratch).start()
        try:
            aws.client("s3", endpoint).create_bucket(Bucket=aws.BUCKET)
            with played_workers(args.workers, [SETS[n] for n in names], endpoint, scratch) as (workers, played):
                for name in names:
                    spec = SETS[name]
                    if args.index == "local":
                        with LocalIndex(download_wheels(name, spec)) as index:
                            rows += measure(name, spec, args.runs, endpoint, receiver, index.url, scratch, workers)
                    else:
                        rows += measure(name, spec, args.runs, endpoint, receiver, None, scratch, workers)
                invokes = played.seconds if played else []
        finally:
            receiver.stop()
    transport = ("worker functions through Lambda's Invoke, played on loopback (verify = staging upload, the "
                 "worker's invocation and the bytecode's download)" if args.workers == "lambda"
                 else "local workers")
    worker_share = (f"\n\nWorker invocations: {len(invokes)}, median {statistics.median(invokes):.2f} s "
                    f"({min(invokes):.2f}-{max(invokes):.2f}): extract, compile, check libraries, import."
                    if invokes else "")
    result = (table(rows, "local copy served on loopback" if args.index == "local" else "public", args.runs)
              + f"\n\nWorkers: {transport}."
              + "\n\nWhere the provider's time goes (median seconds; install = resolve with uv + fetch wheels):\n\n"
              + phases_table(rows) + worker_share)
    report(args.index, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

