"""A Lambda container running the provider, in its own process, for `make bench`.

Like a Lambda execution environment it is started once and then handles
events one after the other, keeping its /tmp and its AWS clients: each line
on stdin is one CloudFormation event (JSON); for each it runs the real handler
and prints one line of JSON: the handler's wall time and the peak memory of
this process and of its children (uv) so far.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time
from pathlib import Path

# Results go to the original stdout; everything else written there (the
# provider's JSON logs) goes to stderr.
RESULTS = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "handler"))

import app  # noqa: E402
from tests.support.cfn import LambdaContext  # noqa: E402


class Timings(logging.Handler):
    """Keeps the phase timings the provider logs with each publish."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.last: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        timings = getattr(record, "timings", None)
        if isinstance(timings, dict):
            self.last.update(timings)
        worker = getattr(record, "worker", None)  # a worker's report: its own steps, "worker <step>"
        if isinstance(worker, dict) and isinstance(worker.get("timings"), dict):
            self.last.update({f"worker {k}": v for k, v in worker["timings"].items()})


def main() -> None:
    timings = Timings()
    for name in ("pylayer.provider", "pylayer.verify"):
        logging.getLogger(name).addHandler(timings)
        logging.getLogger(name).setLevel(logging.INFO)
    for line in sys.stdin:
        timings.last = {}
        event = json.loads(line)
        started = time.perf_counter()
        app.lambda_handler(event, LambdaContext())
        seconds = time.perf_counter() - started
        print(json.dumps({
            "seconds": seconds,
            "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "children_maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            "phases": timings.last,
        }), file=RESULTS, flush=True)


if __name__ == "__main__":
    main()
