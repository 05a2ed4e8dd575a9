"""The package index: provider configuration, never a resource property.

Credentials come from a Secrets Manager secret, are handed to the installer in
its environment only, and are scrubbed from anything the provider logs or
answers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

from .errors import ConfigurationError


@dataclass(frozen=True)
class Index:
    url: str = ""  # empty: the installer's default, PyPI
    username: str = ""
    password: str = field(default="", repr=False)

    @property
    def authenticated_url(self) -> str:
        if not self.url or not (self.username or self.password):
            return self.url
        parts = urlsplit(self.url)
        credentials = f"{quote(self.username, safe='')}:{quote(self.password, safe='')}"
        return urlunsplit(parts._replace(netloc=f"{credentials}@{parts.hostname}"
                                         + (f":{parts.port}" if parts.port else "")))

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings that must never appear in a log line or a response."""
        values = [self.password, quote(self.password, safe="")] if self.password else []
        return tuple(v for v in values if len(v) >= 4)


def validate_url(url: str) -> str:
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError("PACKAGE_INDEX_URL must be an http(s) URL of a simple index.")
    if parts.username or parts.password:
        raise ConfigurationError("PACKAGE_INDEX_URL must not hold credentials: use PACKAGE_INDEX_SECRET_ARN.")
    return url


def credentials_from_secret(secret: str) -> tuple[str, str]:
    """A secret holding {"username": ..., "password": ...} (or "username:password")."""
    try:
        value = json.loads(secret)
    except ValueError:
        value = secret
    if isinstance(value, dict) and isinstance(value.get("password"), str):
        return str(value.get("username") or ""), value["password"]
    if isinstance(value, str) and ":" in value:
        username, _, password = value.partition(":")
        return username, password
    raise ConfigurationError(
        'The package index secret must hold {"username": ..., "password": ...} or "username:password".'
    )


def scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
