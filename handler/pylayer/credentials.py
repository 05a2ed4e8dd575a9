"""The package index a build installs from, with its credentials fetched at build time."""

from __future__ import annotations

from typing import Protocol

from .index import Index, credentials_from_secret
from .settings import Settings


class Secrets(Protocol):
    def secret(self, secret_id: str) -> str: ...
    def codeartifact_index(self, domain: str, repository: str, owner: str = "") -> tuple[str, str]: ...


def index_for(settings: Settings, secrets: Secrets) -> Index:
    codeartifact = settings.codeartifact
    if codeartifact is not None:
        url, token = secrets.codeartifact_index(codeartifact.domain, codeartifact.repository, codeartifact.owner)
        return Index(url, "aws", token)  # CodeArtifact's pip login uses the user "aws"
    if not settings.index_url:
        return Index()
    if not settings.index_secret:
        return Index(settings.index_url)
    username, password = credentials_from_secret(secrets.secret(settings.index_secret))
    return Index(settings.index_url, username, password)
