"""The thin adapter over S3 and Lambda. Clients are made on first use, never at import."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import AwsCallFailed
from .properties import LayerSpec

LAYER_VERSION_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"layer:(?P<name>[A-Za-z0-9_-]{1,140}):(?P<version>[1-9]\d{0,9})$"
)


@dataclass(frozen=True)
class LayerVersionRef:
    arn: str
    region: str
    account: str
    name: str
    version: int

    @property
    def layer_arn(self) -> str:
        return self.arn.rsplit(":", 1)[0]


def parse_version_arn(value: object) -> LayerVersionRef | None:
    """The layer version an id names, or None when it is not a layer-version ARN."""
    if not isinstance(value, str):
        return None
    match = LAYER_VERSION_ARN.fullmatch(value)
    if not match:
        return None
    return LayerVersionRef(value, match["region"], match["account"], match["name"], int(match["version"]))


@dataclass(frozen=True)
class Published:
    arn: str
    layer_arn: str
    version: int
    code_sha256: str
    code_size: int


def _code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(error).__name__))


class LayerStore:
    """S3 artifacts and Lambda layer versions, with boto3's standard retries."""

    def __init__(self, bucket: str, region: str | None = None, session: Any = None) -> None:
        self.bucket = bucket
        self.region = region
        self._session = session
        self._clients: dict[tuple[str, str | None], Any] = {}

    def _client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        if key not in self._clients:
            import boto3
            from botocore.config import Config

            session = self._session or boto3.session.Session()
            config = Config(retries={"mode": "standard", "max_attempts": 6},
                            connect_timeout=10, read_timeout=120)
            make_client: Any = session.client  # boto3's overloads want a literal service name
            self._clients[key] = make_client(service, region_name=key[1], config=config)
        return self._clients[key]

    def upload(self, path: Path, key: str) -> bool:
        """Put the archive under key unless it is already there. True if uploaded."""
        s3 = self._client("s3")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            try:
                s3.head_object(Bucket=self.bucket, Key=key)
                return False
            except ClientError as exc:
                if _code(exc) not in ("404", "NoSuchKey", "NotFound"):
                    raise
            s3.upload_file(str(path), self.bucket, key)
            return True
        except (ClientError, BotoCoreError) as exc:
            raise AwsCallFailed(
                f"Uploading the layer archive to s3://{self.bucket} failed: {_code(exc)}.", str(exc)
            ) from None

    def publish(self, spec: LayerSpec, key: str) -> Published:
        from botocore.exceptions import BotoCoreError, ClientError

        request: dict[str, Any] = {
            "LayerName": spec.layer_name,
            "Content": {"S3Bucket": self.bucket, "S3Key": key},
            "CompatibleRuntimes": list(spec.compatible_runtimes),
            "CompatibleArchitectures": [spec.target.architecture],
        }
        if spec.description:
            request["Description"] = spec.description
        if spec.license_info:
            request["LicenseInfo"] = spec.license_info
        try:
            answer = self._client("lambda").publish_layer_version(**request)
        except (ClientError, BotoCoreError) as exc:
            raise AwsCallFailed(
                f"PublishLayerVersion for {spec.layer_name} failed: {_code(exc)}.", str(exc)
            ) from None
        return Published(
            arn=answer["LayerVersionArn"],
            layer_arn=answer["LayerArn"],
            version=int(answer["Version"]),
            code_sha256=answer["Content"]["CodeSha256"],
            code_size=int(answer["Content"]["CodeSize"]),
        )

    def delete(self, ref: LayerVersionRef) -> bool:
        """Delete a version; False when it was already gone."""
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client("lambda", ref.region)
        try:
            client.get_layer_version(LayerName=ref.layer_arn, VersionNumber=ref.version)
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return False
            raise AwsCallFailed(f"GetLayerVersion for {ref.arn} failed: {_code(exc)}.", str(exc)) from None
        except BotoCoreError as exc:
            raise AwsCallFailed(f"GetLayerVersion for {ref.arn} failed.", str(exc)) from None
        try:
            client.delete_layer_version(LayerName=ref.layer_arn, VersionNumber=ref.version)
        except (ClientError, BotoCoreError) as exc:
            raise AwsCallFailed(f"DeleteLayerVersion for {ref.arn} failed: {_code(exc)}.", str(exc)) from None
        return True

    def versions(self, layer_name: str) -> list[str]:
        """ARNs of the existing versions of a layer (for checks and the demo)."""
        client = self._client("lambda")
        arns: list[str] = []
        for page in client.get_paginator("list_layer_versions").paginate(LayerName=layer_name):
            arns += [v["LayerVersionArn"] for v in page.get("LayerVersions", [])]
        return arns
