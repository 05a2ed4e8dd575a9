"""Lambda's layer versions: publish, list, read, share and delete (the provider's only writes to Lambda)."""

from __future__ import annotations

from typing import Any

from .aws import Clients
from .errors import AwsCallFailed
from .layerversion import LayerVersion
from .properties import LayerSpec
from .sharing import Statement

GONE = {"ResourceNotFoundException": None}


class Layers:
    def __init__(self, bucket: str, clients: Clients) -> None:
        self.bucket = bucket  # where the archives a version is published from are
        self.clients = clients

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
        answer = self.clients.call(f"PublishLayerVersion for {spec.layer_name}", self.clients.client("lambda"),
                                   "publish_layer_version", **request)
        return _version(answer), bool(answer.get("ResponseMetadata", {}).get("RetryAttempts"))

    def share(self, arn: str, statement: Statement) -> None:
        """Add one permission to a version; one already there (a retry) counts as added."""
        ref = LayerVersion.parse(arn)
        if ref is None:
            raise ValueError(f"not a layer version ARN: {arn}")
        request: dict[str, Any] = {"LayerName": ref.layer_arn, "VersionNumber": ref.number,
                                   "StatementId": statement.sid, "Action": "lambda:GetLayerVersion",
                                   "Principal": statement.principal}
        if statement.organization_id:
            request["OrganizationId"] = statement.organization_id
        self.clients.call(f"AddLayerVersionPermission for {ref.arn}", self.clients.client("lambda", ref.region),
                          "add_layer_version_permission", tolerate={"ResourceConflictException": None}, **request)

    def versions(self, layer_name: str) -> list[LayerVersion]:
        """Every existing version of a layer (none if the layer does not exist)."""
        def listing(client: Any) -> list[LayerVersion]:
            found = []
            for page in client.get_paginator("list_layer_versions").paginate(LayerName=layer_name):
                for listed in page.get("LayerVersions", []):
                    version = LayerVersion.parse(listed.get("LayerVersionArn"), listed.get("Description", ""))
                    if version is not None:
                        found.append(version)
            return found

        found: list[LayerVersion] = self.clients.call(f"ListLayerVersions for {layer_name}",
                                                      self.clients.client("lambda"), listing,
                                                      tolerate={"ResourceNotFoundException": []})
        return found

    def get(self, ref: LayerVersion) -> LayerVersion | None:
        """The version's details, or None when it does not exist."""
        client = self.clients.client("lambda", ref.region)
        answer = self.clients.call(f"GetLayerVersion for {ref.arn}", client, "get_layer_version", tolerate=GONE,
                                   LayerName=ref.layer_arn, VersionNumber=ref.number)
        return None if answer is None else _version(answer)

    def delete(self, ref: LayerVersion) -> None:
        """Delete a version; one that is already gone counts as deleted."""
        self.clients.call(f"DeleteLayerVersion for {ref.arn}", self.clients.client("lambda", ref.region),
                          "delete_layer_version", tolerate=GONE, LayerName=ref.layer_arn, VersionNumber=ref.number)


def _version(answer: dict[str, Any]) -> LayerVersion:
    version = LayerVersion.parse(answer["LayerVersionArn"], answer.get("Description", ""),
                                 answer["Content"]["CodeSha256"], int(answer["Content"]["CodeSize"]))
    if version is None:
        raise AwsCallFailed(f"Lambda answered with an unexpected layer version ARN: {answer['LayerVersionArn']}.")
    return version
