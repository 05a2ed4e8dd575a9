from __future__ import annotations

import platform
from pathlib import Path

import pytest

from pylayer.errors import ConfigurationError
from pylayer.identity import BuildOptions
from pylayer.settings import Settings, own_defaults


def test_settings_from_the_functions_environment() -> None:
    settings = Settings.from_env({"LAYER_BUCKET": "b", "AWS_REGION": "eu-west-1",
                                  "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13"})
    settings.check_build()
    assert settings.bucket == "b"
    assert settings.region == "eu-west-1"
    assert settings.work_root == Path("/tmp/pylayer")
    assert settings.cache_root == Path("/tmp/pylayer/cache")
    assert settings.defaults.runtime == "python3.13"
    assert settings.build_options == BuildOptions("", False)


def test_the_package_index_and_source_distributions_are_provider_settings() -> None:
    settings = Settings.from_env({"LAYER_BUCKET": "b", "PACKAGE_INDEX_URL": "https://pkgs.example.com/simple/",
                                  "PACKAGE_INDEX_SECRET_ARN": "arn:secret", "ALLOW_SOURCE_DISTRIBUTIONS": "True"})
    settings.check_build()
    assert settings.build_options == BuildOptions("https://pkgs.example.com/simple/", True)
    assert settings.index_secret == "arn:secret"


def test_a_missing_bucket_fails_only_when_a_build_needs_it() -> None:
    settings = Settings.from_env({})
    with pytest.raises(ConfigurationError, match="no LAYER_BUCKET"):
        settings.check_build()


@pytest.mark.parametrize(("environ", "message"), [
    ({"INSTALLER": "conda"}, "INSTALLER=conda is not supported"),
    ({"ALLOW_SOURCE_DISTRIBUTIONS": "maybe"}, "must be true or false"),
    ({"INSTALLER": "pip"}, "INSTALLER=pip is not supported: the provider installs with the uv its layer ships"),
    ({"PACKAGE_INDEX_URL": "ftp://x/simple"}, "must be an http(s) URL"),
    ({"WORKER_FUNCTIONS": "python3.12/arm64=not-an-arn"}, "WORKER_FUNCTIONS has a bad entry"),
    ({"WORKER_FUNCTIONS": "python2.7/arm64=arn:aws:lambda:us-east-1:1:function:w"}, "bad entry"),
    ({"PACKAGE_INDEX_URL": "https://user:pw@x/simple"}, "must not hold credentials"),
    ({"CODEARTIFACT_DOMAIN": "corp"}, "CODEARTIFACT_DOMAIN and CODEARTIFACT_REPOSITORY go together"),
    ({"CODEARTIFACT_DOMAIN": "corp", "CODEARTIFACT_REPOSITORY": "r", "PACKAGE_INDEX_URL": "https://x/simple"},
     "either the CodeArtifact repository or PACKAGE_INDEX_URL"),
])
def test_bad_configuration_fails_builds_but_never_reading_the_settings(environ: dict[str, str],
                                                                     message: str) -> None:
    settings = Settings.from_env({"LAYER_BUCKET": "b", **environ})  # a Delete still works
    with pytest.raises(ConfigurationError) as caught:
        settings.check_build()
    assert message in caught.value.reason


def test_defaults_outside_lambda_are_this_interpreter_and_machine() -> None:
    defaults = own_defaults({})
    assert defaults.runtime.startswith("python3.")
    expected = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    assert defaults.architecture == expected


def test_the_stacks_workers_come_from_its_template_and_mark_a_lambda_function() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:stack-WorkerPython312Arm64-x"
    settings = Settings.from_env({"LAYER_BUCKET": "b", "AWS_LAMBDA_FUNCTION_NAME": "provider",
                                  "WORKER_FUNCTIONS": f",,python3.12/arm64={arn},"})  # a worker left out: ""
    settings.check_build()
    assert settings.worker_functions == {("python3.12", "arm64"): arn}
    assert settings.in_lambda
    assert not Settings.from_env({}).in_lambda
