"""The thin adapter over S3, Lambda and Secrets Manager. Clients are made on first use, never at import."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import AwsCallFailed
from .layerversion import LayerVersion
from .properties import LayerSpec
from .sharing import Statement

THROTTLING = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException", "SlowDown",
                        "RequestLimitExceeded", "503"})
DEFAULT_MAX_ATTEMPTS = 6


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


def _attempts(client: Any, default: int) -> int:
    """The attempts this client makes in all (botocore counts max_attempts as retries after the first)."""
    retries = getattr(getattr(getattr(client, "meta", None), "config", None), "retries", None) or {}
    return int(retries.get("total_max_attempts", default))


class LayerStore:
    """S3 artifacts and Lambda layer versions, with boto3's standard retries (backoff with jitter)."""

    def __init__(self, bucket: str, region: str | None = None, session: Any = None,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self.bucket = bucket
        self.region = region
        self.max_attempts = max_attempts
        self._session = session
        self._clients: dict[tuple[str, str | None, int, int | None], Any] = {}

    @property
    def attempts(self) -> int:
        """Attempts per call in all: botocore's max_attempts counts the retries after the first."""
        return self.max_attempts + 1

    def _client(self, service: str, region: str | None = None, read_timeout: int = 120,
                max_attempts: int | None = None) -> Any:
        key = (service, region or self.region, read_timeout, max_attempts)
        if key not in self._clients:
            import boto3
            from botocore.config import Config

            session = self._session or boto3.session.Session()
            config = Config(retries={"mode": "standard", "max_attempts": max_attempts or self.max_attempts},
                            connect_timeout=10, read_timeout=read_timeout)
            make_client: Any = session.client  # boto3's overloads want a literal service name
            self._clients[key] = make_client(service, region_name=key[1], config=config)
        return self._clients[key]

    def _call(self, action: str, service: str, operation: str, region: str | None = None,
              **request: Any) -> Any:
        return self._call_with(self._client(service, region), action, operation, **request)

    def _call_with(self, client: Any, action: str, operation: str, **request: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(client, operation)(**request)
        except (ClientError, BotoCoreError) as exc:
            raise _explain(action, exc, _attempts(client, self.attempts)) from None

    def upload(self, path: Path, key: str) -> bool:
        """Put the archive under key unless it is already there. True if uploaded."""
        if self.exists(key):
            return False
        action = f"Uploading the layer archive to s3://{self.bucket}"
        with path.open("rb") as body:  # one PUT: a layer zip is far below S3's 5 GB limit
            self._call(action, "s3", "put_object", Bucket=self.bucket, Key=key, Body=body)
        return True

    def claim(self, key: str) -> bool:
        """Create an empty object only if none is there (S3's If-None-Match: *): True for the first caller."""
        from botocore.exceptions import ClientError

        try:
            self._client("s3").put_object(Bucket=self.bucket, Key=key, Body=b"", IfNoneMatch="*")
        except ClientError as exc:
            if error_code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                return False
            raise _explain(f"Claiming s3://{self.bucket}/{key}", exc, self.attempts) from None
        return True

    def download(self, key: str, dest: Path) -> None:
        with dest.open("wb") as out:
            body = self._call(f"Reading s3://{self.bucket}/{key}", "s3", "get_object", Bucket=self.bucket,
                              Key=key)["Body"]
            for chunk in iter(lambda: body.read(1 << 20), b""):
                out.write(chunk)

    def keys(self, prefix: str) -> list[str]:
        """The keys under a prefix (at most a page: records of one resource are few)."""
        answer = self._call(f"Listing s3://{self.bucket}/{prefix}", "s3", "list_objects_v2", Bucket=self.bucket,
                            Prefix=prefix, MaxKeys=1000)
        return [str(item["Key"]) for item in answer.get("Contents", [])]

    def remove(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        answer = self._call(f"Deleting from s3://{self.bucket}", "s3", "delete_objects", Bucket=self.bucket,
                            Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
        # DeleteObjects answers 200 when some keys were refused (AccessDenied): each is listed in Errors.
        refused = answer.get("Errors") or []
        if refused:
            first = refused[0]
            raise AwsCallFailed(f"Deleting s3://{self.bucket}/{first.get('Key', '?')} failed: "
                                f"{first.get('Code', '?')}.", json.dumps(refused)[:2000])

    def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        """A runtime worker's answer; its own failure (FunctionError) as {"error": ...}."""
        # Throttling is retried; a worker that ran past the timeout is not (it would only run again).
        client = self._client("lambda", read_timeout=int(timeout) + 10, max_attempts=2)
        answer = self._call_with(client, f"Invoking the worker {function}", "invoke", FunctionName=function,
                                 InvocationType="RequestResponse", Payload=json.dumps(payload).encode())
        body = answer["Payload"].read()
        try:
            data = json.loads(body)
        except ValueError:
            data = {"error": body[:300].decode("utf-8", "replace")}
        if answer.get("FunctionError"):
            message = data.get("errorMessage") if isinstance(data, dict) else None
            return {"error": f"{answer['FunctionError']}: {message or body[:300].decode('utf-8', 'replace')}"}
        return data if isinstance(data, dict) else {"error": "the worker answered with something not an object"}

    def read_json(self, key: str) -> dict[str, Any] | None:
        """A small JSON object from the bucket, or None when it is not there (or not readable as JSON)."""
        from botocore.exceptions import ClientError

        try:
            body = self._client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise _explain(f"Reading s3://{self.bucket}/{key}", exc, self.attempts) from None
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
            raise _explain(f"Reading s3://{self.bucket}/{key}", exc, self.attempts) from None

    def publish(self, spec: LayerSpec, key: str, description: str) -> tuple[LayerVersion, bool]:
        """The new version, and whether boto3 retried the call (a lost answer may have published a twin)."""
        request: dict[str, Any] = {
            "LayerName": spec.layer_name,
            "Content": {"S3Bucket": self.bucket, "S3Key": key},
            "CompatibleRuntimes": [t.runtime for t in spec.targets],
            "CompatibleArchitectures": [spec.architecture],
            "Description": description,
        }
        if spec.license_info:
            request["LicenseInfo"] = spec.license_info
        answer = self._call(f"PublishLayerVersion for {spec.layer_name}", "lambda",
                            "publish_layer_version", **request)
        return _version(answer), bool(answer.get("ResponseMetadata", {}).get("RetryAttempts"))

    def share(self, arn: str, statement: Statement) -> None:
        """Add one permission to a version; one already there (a retry) counts as added."""
        from botocore.exceptions import BotoCoreError, ClientError

        ref = LayerVersion.parse(arn)
        if ref is None:
            raise ValueError(f"not a layer version ARN: {arn}")
        request: dict[str, Any] = {"LayerName": ref.layer_arn, "VersionNumber": ref.number,
                                   "StatementId": statement.sid, "Action": "lambda:GetLayerVersion",
                                   "Principal": statement.principal}
        if statement.organization_id:
            request["OrganizationId"] = statement.organization_id
        try:
            self._client("lambda", ref.region).add_layer_version_permission(**request)
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) != "ResourceConflictException":
                raise _explain(f"AddLayerVersionPermission for {ref.arn}", exc, self.attempts) from None

    def versions(self, layer_name: str) -> list[LayerVersion]:
        """Every existing version of a layer (none if the layer does not exist)."""
        from botocore.exceptions import BotoCoreError, ClientError

        found: list[LayerVersion] = []
        try:
            pages = self._client("lambda").get_paginator("list_layer_versions").paginate(LayerName=layer_name)
            for page in pages:
                for listed in page.get("LayerVersions", []):
                    version = LayerVersion.parse(listed.get("LayerVersionArn"), listed.get("Description", ""))
                    if version is not None:
                        found.append(version)
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return []
            raise _explain(f"ListLayerVersions for {layer_name}", exc, self.attempts) from None
        return found

    def get(self, ref: LayerVersion) -> LayerVersion | None:
        """The version's details, or None when it does not exist."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client("lambda", ref.region).get_layer_version(
                LayerName=ref.layer_arn, VersionNumber=ref.number)
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise _explain(f"GetLayerVersion for {ref.arn}", exc, self.attempts) from None
        return _version(answer)

    def delete(self, ref: LayerVersion) -> None:
        """Delete a version; one that is already gone counts as deleted."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client("lambda", ref.region).delete_layer_version(LayerName=ref.layer_arn,
                                                                    VersionNumber=ref.number)
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise _explain(f"DeleteLayerVersion for {ref.arn}", exc, self.attempts) from None

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


def _version(answer: dict[str, Any]) -> LayerVersion:
    version = LayerVersion.parse(answer["LayerVersionArn"], answer.get("Description", ""),
                                 answer["Content"]["CodeSha256"], int(answer["Content"]["CodeSize"]))
    if version is None:
        raise AwsCallFailed(f"Lambda answered with an unexpected layer version ARN: {answer['LayerVersionArn']}.")
    return version
