"""The artifact bucket: layer archives, the workers' staging objects and the provider's small JSON records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from .aws import MISSING, Clients
from .errors import AwsCallFailed

EXISTS = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")  # If-None-Match found one


class Artifacts:
    def __init__(self, bucket: str, clients: Clients) -> None:
        self.bucket = bucket
        self.clients = clients

    def _call(self, action: str, operation: str, tolerate: dict[str, Any] | None = None, **request: Any) -> Any:
        return self.clients.call(action, self.clients.client("s3"), operation, tolerate=tolerate,
                                 Bucket=self.bucket, **request)

    def upload(self, path: Path, key: str) -> bool:
        """Put the archive under key unless it is already there. True if uploaded."""
        if self.exists(key):
            return False
        self.put_file(path, key)
        return True

    def put_file(self, path: Path, key: str) -> None:
        """Put a file under key (a fresh key: nothing is looked up first)."""
        with path.open("rb") as body:  # one PUT: a layer zip is far below S3's 5 GB limit
            self._call(f"Uploading the layer archive to s3://{self.bucket}", "put_object", Key=key, Body=body)

    def presign(self, key: str, method: Literal["get", "put"], seconds: int) -> str:
        """A URL that lets its holder GET (or PUT) this one object for ``seconds``, with no credentials of its
        own: what a runtime worker gets instead of access to the bucket. Signed here, no call to S3."""
        operation = {"get": "get_object", "put": "put_object"}[method]
        url = self.clients.call(f"Presigning s3://{self.bucket}/{key}", self.clients.client("s3"),
                                lambda client: client.generate_presigned_url(
                                    operation, Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=seconds))
        return str(url)

    def claim(self, key: str) -> bool:
        """Create an empty object only if none is there (S3's If-None-Match: *): True for the first caller."""
        made = self._call(f"Claiming s3://{self.bucket}/{key}", "put_object", dict.fromkeys(EXISTS, False),
                          Key=key, Body=b"", IfNoneMatch="*")
        return made is not False

    def download(self, key: str, dest: Path) -> None:
        with dest.open("wb") as out:
            body = self._call(f"Reading s3://{self.bucket}/{key}", "get_object", Key=key)["Body"]
            for chunk in iter(lambda: body.read(1 << 20), b""):
                out.write(chunk)

    def keys(self, prefix: str) -> list[str]:
        """The keys under a prefix (at most a page: records of one resource are few)."""
        answer = self._call(f"Listing s3://{self.bucket}/{prefix}", "list_objects_v2", Prefix=prefix, MaxKeys=1000)
        return [str(item["Key"]) for item in answer.get("Contents", [])]

    def remove(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        answer = self._call(f"Deleting from s3://{self.bucket}", "delete_objects",
                            Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
        # DeleteObjects answers 200 when some keys were refused (AccessDenied): each is listed in Errors.
        refused = answer.get("Errors") or []
        if refused:
            first = refused[0]
            raise AwsCallFailed(f"Deleting s3://{self.bucket}/{first.get('Key', '?')} failed: "
                                f"{first.get('Code', '?')}.", json.dumps(refused)[:2000])

    def read_json(self, key: str) -> dict[str, Any] | None:
        """A small JSON object from the bucket, or None when it is not there (or not readable as JSON)."""
        answer = self._call(f"Reading s3://{self.bucket}/{key}", "get_object", dict.fromkeys(MISSING), Key=key)
        if answer is None:
            return None
        try:
            value = json.loads(answer["Body"].read())
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def write_json(self, key: str, value: dict[str, Any]) -> None:
        self._call(f"Writing s3://{self.bucket}/{key}", "put_object", Key=key,
                   Body=json.dumps(value, sort_keys=True).encode(), ContentType="application/json")

    def exists(self, key: str) -> bool:
        found = self._call(f"Reading s3://{self.bucket}/{key}", "head_object", dict.fromkeys(MISSING, False),
                           Key=key)
        return found is not False
