"""The thin adapter over S3, Lambda and Secrets Manager. Clients are made on first use, never at import."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import AwsCallFailed
from .plan import Existing
from .properties import LayerSpec
from .sharing import Statement

LAYER_VERSION_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"layer:(?P<name>[A-Za-z0-9_-]{1,140}):(?P<version>[1-9]\d{0,9})"
)
THROTTLING = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException", "SlowDown",
                        "RequestLimitExceeded", "503"})
DEFAULT_MAX_ATTEMPTS = 6


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
    description: str = ""
    # A publish that boto3 had to retry may have published twice (the first answer lost).
    retried: bool = False


def error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(error).__name__))


def _explain(action: str, error: Exception, attempts: int) -> AwsCallFailed:
    code = error_code(error)
    if code in THROTTLING:
        return AwsCallFailed(f"{action} failed: {code} (throttled, still after {attempts} attempts). "
                             "Retry the deployment.", str(error))
    if code in ("AccessDenied", "AccessDeniedException", "403"):
        return AwsCallFailed(f"{action} failed: {code}. Check the provider role's permissions.", str(error))
    return AwsCallFailed(f"{action} failed: {code}.", str(error))


class LayerStore:
    """S3 artifacts and Lambda layer versions, with boto3's standard retries (backoff with jitter)."""

    def __init__(self, bucket: str, region: str | None = None, session: Any = None,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self.bucket = bucket
        self.region = region
        self.max_attempts = max_attempts
        self._session = session
        self._clients: dict[tuple[str, str | None], Any] = {}

    def _client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        if key not in self._clients:
            import boto3
            from botocore.config import Config

            session = self._session or boto3.session.Session()
            config = Config(retries={"mode": "standard", "max_attempts": self.max_attempts},
                            connect_timeout=10, read_timeout=120)
            make_client: Any = session.client  # boto3's overloads want a literal service name
            self._clients[key] = make_client(service, region_name=key[1], config=config)
        return self._clients[key]

    def _call(self, action: str, service: str, operation: str, region: str | None = None,
              **request: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client(service, region), operation)(**request)
        except (ClientError, BotoCoreError) as exc:
            raise _explain(action, exc, self.max_attempts) from None

    def upload(self, path: Path, key: str) -> bool:
        """Put the archive under key unless it is already there. True if uploaded."""
        if self.exists(key):
            return False
        action = f"Uploading the layer archive to s3://{self.bucket}"
        with path.open("rb") as body:  # one PUT: a layer zip is far below S3's 5 GB limit
            self._call(action, "s3", "put_object", Bucket=self.bucket, Key=key, Body=body)
        return True

    def read_json(self, key: str) -> dict[str, Any] | None:
        """A small JSON object from the bucket, or None when it is not there (or not readable as JSON)."""
        from botocore.exceptions import ClientError

        try:
            body = self._client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise _explain(f"Reading s3://{self.bucket}/{key}", exc, self.max_attempts) from None
        try:
            value = json.loads(body)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def write_json(self, key: str, value: dict[str, Any]) -> None:
        self._call(f"Writing s3://{self.bucket}/{key}", "s3", "put_object", Bucket=self.bucket, Key=key,
                   Body=json.dumps(value, sort_keys=True).encode(), ContentType="application/json")

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client("s3").head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise _explain(f"Reading s3://{self.bucket}/{key}", exc, self.max_attempts) from None

    def publish(self, spec: LayerSpec, key: str, description: str) -> Published:
        request: dict[str, Any] = {
            "LayerName": spec.layer_name,
            "Content": {"S3Bucket": self.bucket, "S3Key": key},
            "CompatibleRuntimes": list(spec.compatible_runtimes),
            "CompatibleArchitectures": [spec.target.architecture],
            "Description": description,
        }
        if spec.license_info:
            request["LicenseInfo"] = spec.license_info
        answer = self._call(f"PublishLayerVersion for {spec.layer_name}", "lambda",
                            "publish_layer_version", **request)
        return _published(answer)

    def share(self, arn: str, statement: Statement) -> None:
        """Add one permission to a version; one already there (a retry) counts as added."""
        from botocore.exceptions import BotoCoreError, ClientError

        ref = parse_version_arn(arn)
        if ref is None:
            raise ValueError(f"not a layer version ARN: {arn}")
        request: dict[str, Any] = {"LayerName": ref.layer_arn, "VersionNumber": ref.version,
                                   "StatementId": statement.sid, "Action": "lambda:GetLayerVersion",
                                   "Principal": statement.principal}
        if statement.organization_id:
            request["OrganizationId"] = statement.organization_id
        try:
            self._client("lambda", ref.region).add_layer_version_permission(**request)
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) != "ResourceConflictException":
                raise _explain(f"AddLayerVersionPermission for {ref.arn}", exc, self.max_attempts) from None

    def versions(self, layer_name: str) -> list[Existing]:
        """Every existing version of a layer (none if the layer does not exist)."""
        from botocore.exceptions import BotoCoreError, ClientError

        found: list[Existing] = []
        try:
            pages = self._client("lambda").get_paginator("list_layer_versions").paginate(LayerName=layer_name)
            for page in pages:
                found += [Existing(v["LayerVersionArn"], int(v["Version"]), v.get("Description", ""))
                          for v in page.get("LayerVersions", [])]
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return []
            raise _explain(f"ListLayerVersions for {layer_name}", exc, self.max_attempts) from None
        return found

    def get(self, ref: LayerVersionRef) -> Published | None:
        """The version's details, or None when it does not exist."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client("lambda", ref.region).get_layer_version(
                LayerName=ref.layer_arn, VersionNumber=ref.version)
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise _explain(f"GetLayerVersion for {ref.arn}", exc, self.max_attempts) from None
        return _published(answer)

    def delete(self, ref: LayerVersionRef) -> None:
        """Delete a version; one that is already gone counts as deleted."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client("lambda", ref.region).delete_layer_version(LayerName=ref.layer_arn,
                                                                    VersionNumber=ref.version)
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise _explain(f"DeleteLayerVersion for {ref.arn}", exc, self.max_attempts) from None

    def codeartifact_index(self, domain: str, repository: str, owner: str = "") -> tuple[str, str]:
        """The repository's PyPI simple-API URL and a fresh authorization token (15 minutes)."""
        owner_argument = {"domainOwner": owner} if owner else {}
        endpoint = self._call("CodeArtifact GetRepositoryEndpoint", "codeartifact", "get_repository_endpoint",
                              domain=domain, repository=repository, format="pypi", **owner_argument)
        token = self._call("CodeArtifact GetAuthorizationToken", "codeartifact", "get_authorization_token",
                           domain=domain, durationSeconds=900, **owner_argument)
        url = str(endpoint["repositoryEndpoint"]).rstrip("/") + "/simple/"
        return url, str(token["authorizationToken"])

    def secret(self, secret_id: str) -> str:
        answer = self._call("Reading the package index secret", "secretsmanager", "get_secret_value",
                            SecretId=secret_id)
        return str(answer.get("SecretString") or "")


def _published(answer: dict[str, Any]) -> Published:
    return Published(
        arn=answer["LayerVersionArn"],
        layer_arn=answer["LayerArn"],
        version=int(answer["Version"]),
        code_sha256=answer["Content"]["CodeSha256"],
        code_size=int(answer["Content"]["CodeSize"]),
        description=answer.get("Description", ""),
        retried=bool(answer.get("ResponseMetadata", {}).get("RetryAttempts")),
    )
