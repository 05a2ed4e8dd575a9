from __future__ import annotations

import pytest

from pylayer.errors import ConfigurationError
from pylayer.index import Index, credentials_from_secret, scrub, validate_url


def test_credentials_are_quoted_into_the_url() -> None:
    index = Index("https://pkgs.example.com:8443/simple/", "me@corp", "p@ss:w/rd")
    assert index.authenticated_url == "https://me%40corp:p%40ss%3Aw%2Frd@pkgs.example.com:8443/simple/"
    assert "p@ss" not in repr(index)


def test_an_index_without_credentials_is_used_as_is() -> None:
    assert Index("https://pkgs.example.com/simple/").authenticated_url == "https://pkgs.example.com/simple/"
    assert Index().authenticated_url == ""


@pytest.mark.parametrize(("secret", "expected"), [
    ('{"username": "u", "password": "p"}', ("u", "p")),
    ('{"password": "token-only"}', ("", "token-only")),
    ("user:pa:ss", ("user", "pa:ss")),
])
def test_secret_formats(secret: str, expected: tuple[str, str]) -> None:
    assert credentials_from_secret(secret) == expected


@pytest.mark.parametrize("secret", ['{"user": "u"}', "no-colon", "[1, 2]"])
def test_unreadable_secrets_are_a_configuration_error(secret: str) -> None:
    with pytest.raises(ConfigurationError, match="must hold"):
        credentials_from_secret(secret)


def test_scrub_removes_the_password_in_both_spellings() -> None:
    index = Index("https://x/simple", "u", "p@ss:word")
    text = "failed https://u:p%40ss%3Aword@x/simple and p@ss:word"
    assert scrub(text, index.secrets) == "failed https://u:***@x/simple and ***"


def test_index_urls_are_checked() -> None:
    assert validate_url(" https://x/simple ") == "https://x/simple"
    assert validate_url("") == ""
    with pytest.raises(ConfigurationError):
        validate_url("file:///etc/passwd")
