"""Faults of AWS, of the package index and of the Lambda environment: each answered FAILED
with a clear reason and nothing left behind, or survived where a retry helps."""

from __future__ import annotations

import os
import re
import socket
import stat
import sys
from pathlib import Path

import pytest

from pylayer.store import LayerStore
from tests.functional.conftest import builds_left
from tests.support import aws, faults
from tests.support.cfn import Cloudformation

SIX = {"LayerName": "six", "Requirements": ["six==1.16.0"], "Runtime": "python3.12", "Architecture": "x86_64"}


@pytest.fixture
def injected(cfn: Cloudformation, monkeypatch: pytest.MonkeyPatch) -> faults.Faults:
    plan = faults.Faults()
    session = plan.session()
    # Three attempts keep boto3's backoff (with jitter) short in tests.
    monkeypatch.setattr(cfn.app.dependencies, "store",
                        lambda bucket, region: LayerStore.connect(bucket, region, session, 3))
    return plan


def assert_nothing_left(moto_endpoint: str, work_root: Path) -> None:
    assert aws.live_versions(moto_endpoint, "six") == set()
    assert builds_left(work_root) == []


def test_a_throttled_publish_is_retried_with_backoff(cfn: Cloudformation, injected: faults.Faults,
                                                     moto_endpoint: str) -> None:
    injected.plan["PublishLayerVersion"] = [faults.THROTTLED_LAMBDA] * 2

    answer = cfn.create(SIX).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert injected.calls["PublishLayerVersion"] == 3
    assert aws.live_versions(moto_endpoint, "six") == {answer["PhysicalResourceId"]}


@pytest.mark.parametrize(("operation", "fault", "reason"), [
    ("PublishLayerVersion", faults.THROTTLED_LAMBDA,
     "PublishLayerVersion for six failed: TooManyRequestsException (throttled, still after 4 attempts). "
     "Retry the deployment."),
    ("PublishLayerVersion", faults.DENIED_LAMBDA,
     "PublishLayerVersion for six failed: AccessDeniedException. Check the provider role's permissions."),
    ("PutObject", faults.DENIED_S3,
     "Uploading the layer archive to s3://python-layer-artifacts failed: AccessDenied. "
     "Check the provider role's permissions."),
    ("PutObject", faults.SLOW_DOWN_S3,
     "Uploading the layer archive to s3://python-layer-artifacts failed: SlowDown (throttled, "
     "still after 4 attempts). Retry the deployment."),
])
def test_aws_refusals_fail_clearly_and_leave_nothing(cfn: Cloudformation, injected: faults.Faults,
                                                     moto_endpoint: str, work_root: Path, operation: str,
                                                     fault: faults.Fault, reason: str) -> None:
    injected.plan[operation] = faults.always(fault)

    answer = cfn.create(SIX).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == reason
    if operation == "PublishLayerVersion" and "attempts" in reason:  # the count the reason gives is the count made
        assert injected.calls[operation] == 4
    assert_nothing_left(moto_endpoint, work_root)


def test_a_publish_whose_answer_was_lost_leaves_no_twin(cfn: Cloudformation, injected: faults.Faults,
                                                        moto_endpoint: str) -> None:
    # Lambda published, the answer was lost, boto3 retried and published again.
    injected.plan["PublishLayerVersion"] = [faults.LOST_ANSWER]

    answer = cfn.create(SIX).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert injected.calls["PublishLayerVersion"] == 2
    assert aws.live_versions(moto_endpoint, "six") == {answer["PhysicalResourceId"]}


def test_a_throttled_delete_is_retried(cfn: Cloudformation, injected: faults.Faults, moto_endpoint: str) -> None:
    arn = cfn.create(SIX).body["PhysicalResourceId"]
    injected.plan["DeleteLayerVersion"] = [faults.THROTTLED_LAMBDA]

    assert cfn.delete(SIX, arn).body["Status"] == "SUCCESS"
    assert aws.live_versions(moto_endpoint, "six") == set()


@pytest.mark.parametrize(("requirements", "runtime", "reason"), [
    (["six==1.16.0", "six==1.17.0"], "python3.12",
     "Install failed for python3.12 x86_64: Because you require six==1.16.0 and six==1.17.0, we can "
     "conclude that your requirements are unsatisfiable."),
    (["no-such-package-pylayer-test"], "python3.12",
     "Install failed for python3.12 x86_64: Because no-such-package-pylayer-test was not found in the "
     "package registry"),
    pytest.param(["numpy==2.1.3"], "python3.9",  # numpy 2.1 has no wheels for Python 3.9
                 "No wheel of numpy==2.1.3 fits python3.9 x86_64", marks=pytest.mark.network),
    pytest.param(["docopt==0.6.2"], "python3.12",  # only ever published as a source distribution
                 "No wheel of docopt==0.6.2 for python3.12 x86_64; source distributions are not allowed "
                 "(provider parameter AllowSourceDistributions).", marks=pytest.mark.network),
])
def test_install_failures_name_the_package_and_the_target(cfn: Cloudformation, moto_endpoint: str,
                                                          work_root: Path, requirements: list[str],
                                                          runtime: str, reason: str) -> None:
    answer = cfn.create({**SIX, "Requirements": requirements, "Runtime": runtime}).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(reason)
    assert_nothing_left(moto_endpoint, work_root)


@pytest.mark.network  # a real sdist, built with setuptools from the index
def test_source_distributions_install_when_the_provider_allows_them(
        cfn: Cloudformation, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOW_SOURCE_DISTRIBUTIONS", "true")

    answer = cfn.create({**SIX, "LayerName": "docopt", "Requirements": ["docopt==0.6.2"]}).body

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert int(answer["Data"]["UnzippedSize"]) > 0


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_index_is_named(cfn: Cloudformation, moto_endpoint: str, work_root: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    monkeypatch.setenv("PACKAGE_INDEX_URL", f"http://127.0.0.1:{port}/simple")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")

    answer = cfn.create(SIX).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(
        f"Install failed for python3.12 x86_64: Failed to fetch: http://127.0.0.1:{port}/simple/six/")
    assert "Connection refused" in answer["Reason"]
    assert_nothing_left(moto_endpoint, work_root)


def fake_installer(directory: Path, body: str) -> Path:
    """A stand-in for uv: a real executable, run as the provider runs uv."""
    script = directory / "fake-uv"
    script.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.mark.parametrize(("allow_sdist", "written"), [
    ("false", ""),  # uv resolving: nothing of the layer written yet
    ("true", ""),  # the same: a source distribution is built in a worker, never installed here
])
def test_tmp_filling_up_during_install_names_ephemeral_storage(
        cfn: Cloudformation, moto_endpoint: str, work_root: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, allow_sdist: str, written: str) -> None:
    # It writes 2 MB into its --target, if it has one, then runs out of space.
    uv = fake_installer(tmp_path, "import pathlib\n"
                                  "if '--target' in sys.argv:\n"
                                  "    target = pathlib.Path(sys.argv[sys.argv.index('--target') + 1])\n"
                                  "    target.mkdir(parents=True)\n"
                                  "    (target / 'big.so').write_bytes(bytes(2_000_000))\n"
                                  "sys.stderr.write('error: Failed to write: No space left on device "
                                  "(os error 28)\\n'); sys.exit(2)")
    monkeypatch.setenv("UV_BIN", str(uv))
    monkeypatch.setenv("ALLOW_SOURCE_DISTRIBUTIONS", allow_sdist)

    answer = cfn.create(SIX).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == (f"/tmp filled up while installing for python3.12 x86_64{written}: raise the "
                                "provider's EphemeralStorageSize.")
    assert_nothing_left(moto_endpoint, work_root)


def test_tmp_filling_up_while_zipping_names_the_size_needed(
        cfn: Cloudformation, moto_endpoint: str, work_root: Path, monkeypatch: pytest.MonkeyPatch,
        installer_cache: Path) -> None:
    import pylayer.archive

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pylayer.archive, "write_zip", full)
    monkeypatch.setenv("PYLAYER_CACHE_DIR", str(work_root / "cache"))

    answer = cfn.create(SIX).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("/tmp is full (")
    assert "of ephemeral storage); the layer needs about 0.1 MB (files and zip): raise the provider's " \
           "EphemeralStorageSize." in answer["Reason"]
    assert not (work_root / "cache").exists()  # the installer cache was freed for the next build
    assert_nothing_left(moto_endpoint, work_root)


def test_an_install_running_into_the_deadline_fails_before_it_and_the_next_starts_clean(
        cfn: Cloudformation, moto_endpoint: str, work_root: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    pid_file = tmp_path / "pid"
    uv = fake_installer(tmp_path, f"import os\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
                                  "time.sleep(120)")
    monkeypatch.setenv("UV_BIN", str(uv))

    # 64 s left: the install gets 4 s, the rest is kept for answering.
    answer = cfn.create(SIX, timeout_seconds=64).body

    assert answer["Status"] == "FAILED"
    assert re.fullmatch(r"Installing for python3.12 x86_64 did not finish in [34] s \(the time left before "
                        r"the Lambda timeout\)\.", answer["Reason"])
    assert not Path(f"/proc/{pid_file.read_text()}").exists()  # the installer was killed and reaped
    assert_nothing_left(moto_endpoint, work_root)

    monkeypatch.delenv("UV_BIN")
    assert cfn.create(SIX).body["Status"] == "SUCCESS"  # the same warm container, next invocation
    assert builds_left(work_root) == []


def test_the_installer_never_sees_the_functions_aws_credentials(
        cfn: Cloudformation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = tmp_path / "environ"
    uv = fake_installer(tmp_path, f"import os\nopen({str(seen)!r}, 'w').write('\\n'.join(os.environ))\n"
                                  "sys.exit(1)")
    monkeypatch.setenv("UV_BIN", str(uv))

    cfn.create(SIX)

    names = set(seen.read_text().splitlines())
    assert "UV_CACHE_DIR" in names
    assert not {n for n in names if n.startswith("AWS_")}
    assert os.environ["AWS_SECRET_ACCESS_KEY"]  # it was there to leak


def test_requirements_whose_markers_exclude_the_target_fail_before_publishing(
        cfn: Cloudformation, moto_endpoint: str, work_root: Path) -> None:
    answer = cfn.create({**SIX, "Requirements": ['six==1.16.0; python_version < "3.0"']}).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == ("Nothing to install for python3.12 x86_64: the environment markers of the "
                                "requirements exclude this target.")
    assert_nothing_left(moto_endpoint, work_root)
