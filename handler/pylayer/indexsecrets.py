"""A private package index's credentials: a Secrets Manager secret, or a CodeArtifact token."""

from __future__ import annotations

from typing import Any

from .aws import Clients


class IndexSecrets:
    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    def codeartifact_index(self, domain: str, repository: str, owner: str = "") -> tuple[str, str]:
        """The repository's PyPI simple-API URL and a fresh authorization token (15 minutes)."""
        owner_argument: dict[str, Any] = {"domainOwner": owner} if owner else {}
        client = self.clients.client("codeartifact")
        endpoint = self.clients.call("CodeArtifact GetRepositoryEndpoint", client, "get_repository_endpoint",
                                     domain=domain, repository=repository, format="pypi", **owner_argument)
        token = self.clients.call("CodeArtifact GetAuthorizationToken", client, "get_authorization_token",
                                  domain=domain, durationSeconds=900, **owner_argument)
        url = str(endpoint["repositoryEndpoint"]).rstrip("/") + "/simple/"
        return url, str(token["authorizationToken"])

    def secret(self, secret_id: str) -> str:
        answer = self.clients.call("Reading the package index secret", self.clients.client("secretsmanager"),
                                   "get_secret_value", SecretId=secret_id)
        return str(answer.get("SecretString") or "")
