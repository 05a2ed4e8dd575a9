"""moto's server on loopback, standing in for S3 and Lambda."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
BUCKET = "python-layer-artifacts"


@contextmanager
def moto_server() -> Iterator[str]:
    """Yields the endpoint URL. ``localhost``, not an IP: S3 clients would read
    the bucket name from a bare IP's host."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        _, port = server.get_host_and_port()
        yield f"http://localhost:{port}"
    finally:
        server.stop()


def aws_environment(endpoint: str, bucket: str = BUCKET) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "LAYER_BUCKET": bucket,
    }


def client(service: str, endpoint: str) -> Any:
    make_client: Any = boto3.client  # its overloads want a literal service name
    return make_client(service, region_name=REGION, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def live_versions(endpoint: str, *layer_names: str) -> set[str]:
    """Every layer version ARN moto holds for the given layers."""
    lam = client("lambda", endpoint)
    arns: set[str] = set()
    for name in layer_names:
        for page in lam.get_paginator("list_layer_versions").paginate(LayerName=name):
            arns |= {v["LayerVersionArn"] for v in page["LayerVersions"]}
    return arns


def layer_zip(endpoint: str, arn: str) -> tuple[bytes, Any]:
    """The archive behind a published version, found through its content-addressed S3 key, and its details."""
    lam = client("lambda", endpoint)
    layer_arn, version = arn.rsplit(":", 1)
    info = lam.get_layer_version(LayerName=layer_arn, VersionNumber=int(version))
    sha_hex = base64.b64decode(info["Content"]["CodeSha256"]).hex()
    body: bytes = client("s3", endpoint).get_object(Bucket=BUCKET, Key=f"layers/sha256/{sha_hex}.zip")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha_hex
    return body, info


def artifacts(endpoint: str, bucket: str = BUCKET) -> list[str]:
    """The bucket's archives, spec pointers and staged files: what a build leaves (not the answer records)."""
    listed = client("s3", endpoint).list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(str(o["Key"]) for o in listed if not str(o["Key"]).startswith(("requests/", "reaped/")))


def reset(endpoint: str) -> None:
    """Forget everything moto holds (between tests)."""
    import urllib.request

    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
