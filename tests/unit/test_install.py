from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pylayer import install
from pylayer.errors import ConfigurationError, InstallFailed
from pylayer.target import Target

TARGET = Target("python3.12", "arm64")


def test_the_uv_command_resolves_for_the_runtime_binary_only_without_configuration_or_downloads() -> None:
    command = install.plan_uv_lock("/opt/uv/aarch64/uv", Path("/tmp/b/requirements.in"), TARGET,
                                   Path("/tmp/b/pylock.toml"), Path("/tmp/c/uv"), python="/var/lang/bin/python3")
    argv = list(command.argv)

    assert argv[:4] == ["/opt/uv/aarch64/uv", "pip", "compile", "/tmp/b/requirements.in"]
    assert argv[argv.index("--output-file") + 1] == "/tmp/b/pylock.toml"
    assert argv[argv.index("--format") + 1] == "pylock.toml"
    assert argv[argv.index("--python-version") + 1] == "3.12"
    assert argv[argv.index("--python-platform") + 1] == "aarch64-manylinux_2_34"
    assert argv[argv.index("--only-binary") + 1] == ":all:"
    assert "--no-config" in argv
    assert command.env["UV_CACHE_DIR"] == "/tmp/c/uv"
    assert command.env["UV_PYTHON_DOWNLOADS"] == "never"


def test_run_reports_failure_with_the_installer_output_as_detail() -> None:
    script = "import sys; sys.stderr.write('error: x\\n  cause: Because y was not found'); sys.exit(1)"
    command = install.Command((sys.executable, "-c", script))

    with pytest.raises(InstallFailed) as caught:
        install.run(command, TARGET, timeout=60)

    assert caught.value.reason == "Install failed for python3.12 arm64: Because y was not found"
    assert "error: x" in caught.value.detail


def test_run_keeps_aws_credentials_out_of_the_installers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    script = "import os; print(sorted(os.environ))"
    output = install.run(install.Command((sys.executable, "-c", script), {"UV_CACHE_DIR": "/c"}),
                         TARGET, timeout=60)
    assert "AWS_SECRET_ACCESS_KEY" not in output
    assert "UV_CACHE_DIR" in output


def test_run_stops_an_installer_that_outlives_its_time() -> None:
    command = install.Command((sys.executable, "-c", "import time; time.sleep(30)"))
    with pytest.raises(InstallFailed, match="did not finish in 1 s"):
        install.run(command, TARGET, timeout=1)


def test_run_explains_an_installer_that_cannot_start() -> None:
    with pytest.raises(ConfigurationError, match="could not start"):
        install.run(install.Command(("/nonexistent/uv",)), TARGET, timeout=5)


def test_find_uv_prefers_the_configured_binary() -> None:
    assert install.find_uv({"UV_BIN": "/custom/uv"}) == "/custom/uv"
    assert Path(install.find_uv({})).name == "uv"
