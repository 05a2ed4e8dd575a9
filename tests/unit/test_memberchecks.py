"""pylayer.memberchecks: a new wheel's members checked beside the build; the cache gets it only once it passed."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

import pytest

from pylayer import wheels
from pylayer.errors import InstallFailed
from pylayer.index import Index
from pylayer.memberchecks import MemberChecks
from tests.support.wheels import lying


class Response(io.BytesIO):
    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as made:
        for name, data in members.items():
            made.writestr(name, data)
    return buffer.getvalue()


def fetched(body: bytes, tmp_path: Path, checks: MemberChecks) -> Path:
    wheel = wheels.Wheel("pkg", "1", "https://files.example/pkg-1-py3-none-any.whl", hashlib.sha256(body).hexdigest())
    return wheels.fetch(wheel, tmp_path / "cache", Index(), 10, lambda request, timeout: Response(body),
                        checks=checks)


def test_a_wheel_is_used_at_once_and_cached_once_its_check_passed(tmp_path: Path) -> None:
    body = zipped({"pkg/__init__.py": b"X = 1\n"})
    checks = MemberChecks(tmp_path / "work" / "unverified")

    held = fetched(body, tmp_path, checks)
    assert held.parent == tmp_path / "work" / "unverified" and held.read_bytes() == body
    checks.wait()
    checks.close()

    cached = tmp_path / "cache" / f"{hashlib.sha256(body).hexdigest()}.whl"
    assert cached.read_bytes() == body
    assert held.read_bytes() == body  # the build may still read where it got it
    assert not list((tmp_path / "cache").glob("*.part"))


def test_a_wheel_that_lies_fails_the_wait_and_never_enters_the_cache(tmp_path: Path) -> None:
    body = lying(zipped({"pkg/__init__.py": b"", "pkg/big.bin": bytes(5_000_000)}), "pkg/big.bin", size=1024)
    checks = MemberChecks(tmp_path / "work" / "unverified")

    fetched(body, tmp_path, checks)  # no error yet: the build goes on
    with pytest.raises(InstallFailed, match=re.escape("pkg-1-py3-none-any.whl is corrupt or lies about pkg/big.bin")):
        checks.wait()
    checks.close()

    assert not list((tmp_path / "cache").iterdir())


def test_a_cache_that_cannot_take_the_wheel_fails_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    checks = MemberChecks(tmp_path / "work" / "unverified")
    held = checks.folder / "pkg.whl"
    held.write_bytes(zipped({"pkg/__init__.py": b"X = 1\n"}))
    # The cache is gone (the provider cleared it when /tmp ran full): the wheel cannot be kept there.
    checks.add(held, tmp_path / "cleared-cache" / "pkg.whl", "pkg-1-py3-none-any.whl")

    checks.wait()
    checks.close()
    assert "Could not keep pkg-1-py3-none-any.whl in the wheel cache" in caplog.text
    assert held.exists()


def test_keeping_a_wheel_never_touches_a_download_of_it_in_progress(tmp_path: Path) -> None:
    """fetch downloads into <sha256>.part: the check keeps its wheel under a name of its own."""
    body = zipped({"pkg/__init__.py": b"X = 1\n"})
    cache = tmp_path / "cache"
    cache.mkdir()
    cached = cache / f"{hashlib.sha256(body).hexdigest()}.whl"
    downloading = cached.with_suffix(".part")
    downloading.write_bytes(b"half a download")
    checks = MemberChecks(tmp_path / "work" / "unverified")
    held = checks.folder / "pkg.whl"
    held.write_bytes(body)

    checks.add(held, cached, "pkg-1-py3-none-any.whl")
    checks.wait()
    checks.close()

    assert cached.read_bytes() == body
    assert downloading.read_bytes() == b"half a download"
    assert sorted(p.name for p in cache.iterdir()) == sorted([cached.name, downloading.name])
