"""`make demo`: the provider's main job, locally.

moto's server on loopback stands in for S3 and Lambda, a local HTTPS receiver
for CloudFormation's ResponseURL. Real CloudFormation-shaped events drive the
real handler through a stack's life: Create a layer from the public index
for two runtimes (each gets its own wheels where they differ, and bytecode
compiled by a local interpreter of its own version: the local runtime workers),
Update it (the replacement), the cleanup Delete of the old version, and the
stack's Delete. Exits non-zero if an answer was not SUCCESS or the layer
versions in moto differ from what the stack should hold.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "handler"))

from tests.support import aws  # noqa: E402
from tests.support.cfn import Cloudformation  # noqa: E402
from tests.support.receiver import Received, ResponseReceiver  # noqa: E402

CREATE = {"LayerName": "demo-layer", "Requirements": ["requests==2.32.3"],
          "CompatibleRuntimes": ["python3.12", "python3.13"], "Architecture": "x86_64"}
# A popular package that publishes everywhere else and fails at import in Lambda (libgomp.so.1).
REFUSED = {"LayerName": "demo-refused", "Requirements": ["lightgbm"], "Runtime": "python3.12",
           "Architecture": "x86_64", "Bytecode": "false"}
UPDATE = {**CREATE, "Requirements": ["requests==2.32.3", "pydantic==2.10.4"]}


class DemoFailed(Exception):
    pass


def packages_in(endpoint: str, answer: dict[str, Any]) -> list[str]:
    sha_hex = base64.b64decode(answer["Data"]["CodeSha256"]).hex()
    body = aws.client("s3", endpoint).get_object(
        Bucket=aws.BUCKET, Key=f"layers/sha256/{sha_hex}.zip")["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        names = zf.namelist()
        shared = sum(1 for n in names if n.endswith(".so"))
        found = []
        for name in sorted(n for n in names if n.endswith(".dist-info/METADATA")):
            parts = name.split("/")
            folder = "python/" if len(parts) == 3 else f"{parts[2]} only"
            found.append(f"{parts[-2].removesuffix('.dist-info').replace('-', '==', 1):<32} {folder}")
        tags = sorted({n.rsplit(".", 2)[-2] for n in names if n.endswith(".pyc")})
        pycs = ", ".join(f"{sum(1 for n in names if n.endswith(f'.{t}.pyc'))} {t}" for t in tags)
        locks = [f"lock {n}: {locked(zf.read(n))}" for n in names if n.startswith("pylayer/")]
    return [*found, f"({len(names)} files: {shared} shared objects, .pyc {pycs or 'none'})", *locks]


def locked(text: bytes) -> str:
    """What one of the archive's PEP 751 locks holds: each package at its version, with its wheel's sha256."""
    packages = tomllib.loads(text.decode()).get("packages", [])
    return ", ".join(f"{p['name']}=={p['version']} (sha256 {p['wheels'][0]['hashes']['sha256'][:12]}...)"
                     for p in packages)


def _number(value: object) -> str:
    first = value[0] if isinstance(value, list) and value else value
    return f"{first:g}" if isinstance(first, (int, float)) else str(first)


def quietly(send: Callable[[], Received]) -> tuple[Received, str]:
    """The request, with the handler's metric lines (CloudWatch's embedded format, which a Lambda function
    prints for CloudWatch to read) kept out of the demo's output and summed up in one labelled line."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        received = send()
    metrics: list[str] = []
    for line in printed.getvalue().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and "_aws" in record:
            for directive in record["_aws"].get("CloudWatchMetrics", []):
                metrics += [f"{m['Name']} {_number(record.get(m['Name']))}" for m in directive.get("Metrics", [])]
        elif isinstance(record, dict) and "message" in record:
            print(f"   log {record.get('level', ''):<16}{record['message']}")  # the provider's own log lines
        else:
            print(line)
    return received, ", ".join(metrics)


def step(endpoint: str, title: str, send: Callable[[], Received],
         expected_live: Callable[[str], set[str]]) -> dict[str, Any]:
    """Send one request; check the answer and that moto holds exactly the versions expected."""
    started = time.monotonic()
    received, metrics = quietly(send)
    answer = received.body
    elapsed = time.monotonic() - started
    print(f"\n== {title}: {answer['Status']} in {elapsed:.1f} s")
    print(f"   metrics (EMF)       {metrics or 'none'}")
    if answer["Status"] != "SUCCESS":
        raise DemoFailed(f"{title} answered {answer['Status']}: {answer.get('Reason')}")
    print(f"   PhysicalResourceId  {answer['PhysicalResourceId']}")
    data = answer.get("Data") or {}
    if data:
        print(f"   CodeSize            {int(data['CodeSize']):>12,} bytes (zip)")
        print(f"   UnzippedSize        {int(data['UnzippedSize']):>12,} bytes")
        print(f"   CodeSha256          {data['CodeSha256']}")
        print(f"   Bytecode            {data['Bytecode']}")
        print(f"   Proof               {data['Proof']}")
        for line in packages_in(endpoint, answer):
            print(f"   {'lock' if line.startswith('lock ') else 'package':<20}{line.removeprefix('lock ')}")
    live = aws.live_versions(endpoint, str(CREATE["LayerName"]))
    wanted = expected_live(answer["PhysicalResourceId"])
    print(f"   versions in moto    {sorted(live) or 'none'}")
    if live != wanted:
        raise DemoFailed(f"after {title}, moto holds {sorted(live)} but the stack should hold {sorted(wanted)}")
    return answer


def refused(endpoint: str, cfn: Cloudformation) -> None:
    """lightgbm: imported on its runtime where Lambda's libraries are all there is, so refused, not published."""
    from pylayer import imageroot

    if imageroot.find() is None:
        print("\n== Create of lightgbm: skipped (no Lambda-like root here: `make roots` as root)")
        return
    started = time.monotonic()
    received, metrics = quietly(lambda: cfn.create(REFUSED, logical_id="Refused"))
    answer = received.body
    print(f"\n== Create of lightgbm (expected to fail): {answer['Status']} in {time.monotonic() - started:.1f} s")
    print(f"   metrics (EMF)       {metrics or 'none'}")
    print(f"   Reason              {answer.get('Reason')}")
    live = aws.live_versions(endpoint, str(REFUSED["LayerName"]))
    print(f"   versions in moto    {sorted(live) or 'none'}")
    if answer["Status"] != "FAILED" or "libgomp.so.1" not in str(answer.get("Reason")) or live:
        raise DemoFailed("lightgbm should have been refused for libgomp.so.1, with nothing published")


def run(create: dict[str, Any], update: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="pylayer-demo-") as scratch, aws.moto_server() as endpoint:
        root = Path(scratch)
        receiver = ResponseReceiver(root).start()
        try:
            os.environ.update(aws.aws_environment(endpoint))
            os.environ.update(SSL_CERT_FILE=str(receiver.ca_bundle), PYLAYER_WORK_ROOT=str(root / "work"),
                              POWERTOOLS_LOG_LEVEL=os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
                              # The local receiver is the only CloudFormation here.
                              PYLAYER_RESPONSE_HOSTS="localhost")
            aws.client("s3", endpoint).create_bucket(Bucket=aws.BUCKET)
            print(f"moto server at {endpoint}; CloudFormation responses to https://localhost:{receiver.port}")
            cfn = Cloudformation(receiver)

            created = step(endpoint, "Create", lambda: cfn.create(create), lambda new: {new})
            old_id = created["PhysicalResourceId"]
            # A replacement: the old version must survive the Update itself.
            updated = step(endpoint, "Update", lambda: cfn.update(update, create, old_id),
                           lambda new: {old_id, new})
            new_id = updated["PhysicalResourceId"]
            step(endpoint, "Delete of the old version (update cleanup)",
                 lambda: cfn.delete(create, old_id), lambda _: {new_id})
            step(endpoint, "Delete (stack deletion)", lambda: cfn.delete(update, new_id), lambda _: set())
            refused(endpoint, cfn)
            left = list((root / "work" / "builds").iterdir()) if (root / "work" / "builds").exists() else []
            print(f"\nwork directories left in the build root: {len(left)}")
            if left:
                raise DemoFailed(f"build directories left behind: {left}")
        finally:
            receiver.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requirement", action="append", help="requirement for the Create (repeatable)")
    parser.add_argument("--runtime", action="append", help="a runtime the layer serves (repeatable; default: "
                        + ", ".join(CREATE["CompatibleRuntimes"]) + ")")
    parser.add_argument("--architecture", default=CREATE["Architecture"])
    args = parser.parse_args(argv)
    create = {**CREATE, "CompatibleRuntimes": args.runtime or CREATE["CompatibleRuntimes"],
              "Architecture": args.architecture}
    if args.requirement:
        create["Requirements"] = args.requirement
    update = {**create, "Requirements": [*create["Requirements"], "pydantic==2.10.4"]}
    try:
        run(create, update)
    except DemoFailed as failure:
        print(f"\nDEMO FAILED: {failure}", file=sys.stderr)
        return 1
    print("\nDemo passed: every answer was as expected and moto holds exactly what the stack references.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
