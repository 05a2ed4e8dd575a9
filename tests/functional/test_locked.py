"""Reviewed is deployed: `pylayer lock --write` puts the resolved set in the template, and the provider installs
exactly that set, every wheel's sha256 checked, whatever the index publishes later.

Against a local index of wheels built here (lockapp 1.0 requires lockdep, unpinned), moto and the real handler;
the lock is written by the real command into a real template.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pylayer import layerlock
from pylayer.devtools import cli
from pylayer.devtools.templates import decode_template, plain
from tests.support import aws, wheels
from tests.support.cfn import STACK_ID, Cloudformation
from tests.support.index import LocalIndex

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  # The layer under review.
  App:
    Type: Custom::PythonLayer
    Properties:
      ServiceToken: !ImportValue python-layer-provider-ServiceToken
      ServiceTimeout: 900
      LayerName: !Sub "${AWS::StackName}-app"
      Requirements:
        - lockapp==1.0  # lockdep comes with it, unpinned
      Runtime: python3.12
      Architecture: x86_64
      Bytecode: "false"
      ImportCheck: none
"""
OTHER_STACK = STACK_ID.replace("stack/consumer/", "stack/elsewhere/")


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LocalIndex]:
    folder = tmp_path / "wheels"
    folder.mkdir()
    made = [wheels.build(folder, "lockapp", "1.0", requires=["lockdep"]), wheels.build(folder, "lockdep", "1.0")]
    with LocalIndex(made) as served:
        yield served


@pytest.fixture
def locked(cfn: Cloudformation, index: LocalIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The template, locked by the real command against the local index; the provider reads the same index."""
    monkeypatch.setenv("PACKAGE_INDEX_URL", index.url)
    monkeypatch.setenv("PYLAYER_CACHE_DIR", str(tmp_path / "provider-cache"))  # nothing remembered from others
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE)
    assert cli.main(["lock", str(template), "--write", "--index-url", index.url, "--cache", str(tmp_path / "c")]) == 0
    return template


def properties(template: Path) -> dict[str, Any]:
    decoded: Any = plain(decode_template(template.read_text(), str(template)))
    props = dict(decoded["Resources"]["App"]["Properties"])
    props.pop("ServiceToken")
    props["LayerName"] = "app"  # what !Sub gives
    return props


def archive_lock(endpoint: str, arn: str) -> tuple[set[tuple[str, str, str]], str]:
    """(name, version, sha256) of every package the published archive's own PEP 751 lock names, and the
    archive's sha256."""
    import hashlib

    body, _ = aws.layer_zip(endpoint, arn)
    with zipfile.ZipFile(io.BytesIO(body)) as layer:
        [name] = [n for n in layer.namelist() if n.endswith("pylock.python312.toml")]
        lock = tomllib.loads(layer.read(name).decode())
    return ({(p["name"], p["version"], p["wheels"][0]["hashes"]["sha256"]) for p in lock["packages"]},
            hashlib.sha256(body).hexdigest())


def template_lock(template: Path) -> set[tuple[str, str, str]]:
    lock = layerlock.parse(properties(template)["Lock"])
    return {(p.name, p.version, h) for p in lock.packages for h in p.hashes}


def forget_archives(endpoint: str) -> None:
    """Another region, or a month later: the bucket no longer holds what was built."""
    s3 = aws.client("s3", endpoint)
    for key in aws.artifacts(endpoint):
        s3.delete_object(Bucket=aws.BUCKET, Key=key)


def test_the_template_gets_a_lock_of_every_distribution_with_its_wheels_sha256(locked: Path) -> None:
    text = locked.read_text()
    assert "# The layer under review." in text and "!ImportValue python-layer-provider-ServiceToken" in text
    assert "- lockapp==1.0  # lockdep comes with it, unpinned" in text
    lines = properties(locked)["Lock"]
    assert lines[0].startswith("# pylayer lock: python3.12 x86_64, requirements ")
    assert [line.split(" --hash=")[0] for line in lines[1:]] == ["lockapp==1.0", "lockdep==1.0"]


def test_a_locked_layer_is_built_from_its_lock_and_stays_so_when_the_index_moves(
        cfn: Cloudformation, locked: Path, index: LocalIndex, moto_endpoint: str, tmp_path: Path) -> None:
    first = cfn.create(properties(locked)).body
    assert first["Status"] == "SUCCESS", first["Reason"]
    built, first_digest = archive_lock(moto_endpoint, first["PhysicalResourceId"])
    assert built == template_lock(locked)

    newer = wheels.build(tmp_path / "wheels", "lockdep", "2.0")
    index.wheels[newer.name] = newer  # the index publishes a newer lockdep
    forget_archives(moto_endpoint)
    again = cfn.create(properties(locked), stack_id=OTHER_STACK).body

    assert again["Status"] == "SUCCESS", again["Reason"]
    rebuilt, again_digest = archive_lock(moto_endpoint, again["PhysicalResourceId"])
    assert rebuilt == built and ("lockdep", "1.0") in {(n, v) for n, v, _ in rebuilt}
    assert again_digest == first_digest  # byte for byte the same archive

    unlocked = {k: v for k, v in properties(locked).items() if k != "Lock"}
    moved = cfn.create(unlocked, stack_id=STACK_ID.replace("consumer", "unlocked")).body
    assert ("lockdep", "2.0") in {(n, v) for n, v, _ in archive_lock(moto_endpoint, moved["PhysicalResourceId"])[0]}


def test_a_wheel_whose_bytes_changed_on_the_index_is_refused_naming_the_package_and_both_hashes(
        cfn: Cloudformation, locked: Path, index: LocalIndex, moto_endpoint: str, tmp_path: Path) -> None:
    [(_, _, locked_sha)] = [p for p in template_lock(locked) if p[0] == "lockdep"]
    other = tmp_path / "tampered"
    other.mkdir()
    tampered = wheels.build(other, "lockdep", "1.0", files={"lockdep/__init__.py": b"STEAL = True\n"})
    shutil.copy(tampered, index.wheels["lockdep-1.0-py3-none-any.whl"])  # same name and version, other bytes
    import hashlib

    served = hashlib.sha256(tampered.read_bytes()).hexdigest()

    answer = cfn.create(properties(locked)).body

    assert answer["Status"] == "FAILED"
    assert "lockdep 1.0 for python3.12" in answer["Reason"]
    assert served in answer["Reason"] and locked_sha in answer["Reason"]
    assert aws.live_versions(moto_endpoint, "app") == set()


def test_a_stale_lock_is_refused_by_the_provider_and_flagged_by_the_rules(
        cfn: Cloudformation, locked: Path, moto_endpoint: str) -> None:
    edited = locked.read_text().replace("        - lockapp==1.0  # lockdep comes with it, unpinned\n",
                                        "        - lockapp==1.0  # lockdep comes with it, unpinned\n        - six\n")
    locked.write_text(edited)

    answer = cfn.create(properties(locked)).body

    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == "Lock holds no six for python3.12, which Requirements ask for: run pylayer lock --write."
    assert aws.live_versions(moto_endpoint, "app") == set()
    checked = subprocess.run([sys.executable, "-m", "pylayer", "lock", str(locked), "--check"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120, check=False)
    assert checked.returncode == 1 and "Lock stale: Lock holds no six" in checked.stdout
    linted = subprocess.run([sys.executable, "-m", "pylayer", "lint", str(locked)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=False)
    assert "E9106" in linted.stdout, linted.stdout + linted.stderr


def test_writing_again_changes_nothing_and_check_passes(locked: Path, index: LocalIndex, tmp_path: Path) -> None:
    before = locked.read_text()
    assert cli.main(["lock", str(locked), "--write", "--index-url", index.url, "--cache", str(tmp_path / "c")]) == 0
    assert locked.read_text() == before
    assert cli.main(["lock", str(locked), "--write", "--all", "--index-url", index.url,
                     "--cache", str(tmp_path / "c")]) == 0
    assert locked.read_text() == before  # refreshed, and the index has not moved: the same lock
    assert cli.main(["lock", str(locked), "--check"]) == 0


def test_diff_shows_a_lock_change_as_a_package_change(locked: Path, index: LocalIndex, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "old.yaml"
    shutil.copy(locked, old)
    newer = wheels.build(tmp_path / "wheels", "lockdep", "2.0")
    index.wheels[newer.name] = newer
    assert cli.main(["lock", str(locked), "--write", "--all", "--index-url", index.url,
                     "--cache", str(tmp_path / "c")]) == 0
    assert locked.read_text().replace("lockdep==2.0", "") != locked.read_text()  # the lock moved to 2.0
    capsys.readouterr()

    cli.main(["diff", str(old), str(locked), "--index-url", index.url, "--cache", str(tmp_path / "c")])

    shown = capsys.readouterr().out
    assert "lockdep" in shown and "1.0" in shown and "2.0" in shown, shown


def test_write_refreshes_only_the_layers_whose_inputs_changed(index: LocalIndex, tmp_path: Path) -> None:
    template = tmp_path / "two.yaml"
    second = TEMPLATE.split("Resources:\n", 1)[1].replace("  App:", "  Other:").replace("-app", "-other")
    template.write_text(TEMPLATE + second)
    options = ["--index-url", index.url, "--cache", str(tmp_path / "c")]
    assert cli.main(["lock", str(template), "--write", *options]) == 0
    newer = wheels.build(tmp_path / "wheels", "lockdep", "2.0")
    index.wheels[newer.name] = newer  # a fresh resolution would now take lockdep 2.0
    template.write_text(template.read_text().replace("- lockapp==1.0  # lockdep comes with it, unpinned\n",
                                                     "- lockapp==1.0  # edited\n", 1))

    assert cli.main(["lock", str(template), "--write", *options]) == 0

    decoded: Any = plain(decode_template(template.read_text(), str(template)))
    versions = {name: [line.split(" ")[0] for line in decoded["Resources"][name]["Properties"]["Lock"][1:]]
                for name in ("App", "Other")}
    # The edit changed no requirement: App's lock was fresh, so it stayed; so did Other's.
    assert versions == {"App": ["lockapp==1.0", "lockdep==1.0"], "Other": ["lockapp==1.0", "lockdep==1.0"]}
    template.write_text(template.read_text().replace("- lockapp==1.0  # edited\n",
                                                     "- lockapp==1.0  # edited\n        - lockdep>=1\n", 1))

    assert cli.main(["lock", str(template), "--write", *options]) == 0

    decoded = plain(decode_template(template.read_text(), str(template)))
    versions = {name: [line.split(" ")[0] for line in decoded["Resources"][name]["Properties"]["Lock"][1:]]
                for name in ("App", "Other")}
    assert versions == {"App": ["lockapp==1.0", "lockdep==2.0"], "Other": ["lockapp==1.0", "lockdep==1.0"]}


def test_files_the_index_adds_to_a_locked_release_change_nothing(
        cfn: Cloudformation, locked: Path, index: LocalIndex, moto_endpoint: str, tmp_path: Path) -> None:
    """A mirror or a project may add a wheel to an old release, or publish a local version (1.0+cpu): the
    locked file is still the one taken, and the archive is the same."""
    first = cfn.create(properties(locked)).body
    assert first["Status"] == "SUCCESS", first["Reason"]
    built, digest = archive_lock(moto_endpoint, first["PhysicalResourceId"])
    more = tmp_path / "more"
    more.mkdir()
    for added in (wheels.build(more, "lockdep", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64"),
                  wheels.build(more, "lockdep", "1.0+cpu")):
        index.wheels[added.name] = added
    forget_archives(moto_endpoint)

    again = cfn.create(properties(locked), stack_id=OTHER_STACK).body

    assert again["Status"] == "SUCCESS", again["Reason"]
    assert archive_lock(moto_endpoint, again["PhysicalResourceId"]) == (built, digest)
