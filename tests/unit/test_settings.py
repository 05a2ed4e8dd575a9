from __future__ import annotations

import platform
from pathlib import Path

import pytest

from pylayer.errors import ConfigurationError
from pylayer.settings import Settings, own_defaults


def test_settings_from_the_functions_environment() -> None:
    settings = Settings.from_env({"LAYER_BUCKET": "b", "AWS_REGION": "eu-west-1",
                                  "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13"})
    assert settings.require_bucket() == "b"
    assert settings.region == "eu-west-1"
    assert settings.installer == "uv"
    assert settings.build_root == Path("/tmp/pylayer/builds")
    assert settings.cache_root == Path("/tmp/pylayer/cache")
    assert settings.defaults.runtime == "python3.13"


def test_a_missing_bucket_fails_only_when_a_build_needs_it() -> None:
    settings = Settings.from_env({})
    with pytest.raises(ConfigurationError, match="no LAYER_BUCKET"):
        settings.require_bucket()


def test_an_unknown_installer_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="INSTALLER must be one of uv, pip"):
        Settings.from_env({"LAYER_BUCKET": "b", "INSTALLER": "conda"})


def test_defaults_outside_lambda_are_this_interpreter_and_machine() -> None:
    defaults = own_defaults({})
    assert defaults.runtime.startswith("python3.")
    expected = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    assert defaults.architecture == expected
