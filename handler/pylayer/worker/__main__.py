"""``python -S -m pylayer.worker``: one job, the request as JSON on stdin, the report as JSON on stdout.

How the provider runs the worker locally (tests, the demo, ``pylayer build``),
under an interpreter of the target version; ``lambda_function`` is the same
job behind S3 in AWS.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile

from . import job, sourcejob


def main() -> int:
    request = json.load(sys.stdin)
    scratch = tempfile.mkdtemp(prefix="pylayer-worker-", dir=request.get("scratch_parent") or None)
    try:
        building = request.get("action") == "build_sdist"
        report = sourcejob.run(request, scratch) if building else job.run(request, scratch)
    except Exception as exc:
        json.dump({"error": f"{type(exc).__name__}: {exc}"[:1000]}, sys.stdout)
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
