from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from pylayer import archive, wheels
from pylayer.errors import InstallFailed
from pylayer.index import Index
from pylayer.target import Target
from tests.support.wheels import lying

TARGET = Target("python3.12", "arm64")
LOCK = """
lock-version = "1.0"
created-by = "uv"

[[packages]]
name = "zeta"
version = "1.0"
wheels = [{ url = "https://files.example/zeta-1.0-py3-none-any.whl", hashes = { sha256 = "aa" } }]

[[packages]]
name = "alpha"
version = "2.0"
marker = "python_full_version >= '3.12'"
wheels = [{ url = "https://files.example/alpha-2.0-cp312-cp312-manylinux_2_28_aarch64.whl", \
hashes = { sha256 = "bb" } }]
"""


def test_a_lock_names_one_wheel_per_package_sorted() -> None:
    found = wheels.parse_lock(LOCK, TARGET)
    assert [(w.name, w.version, w.sha256) for w in found] == [("alpha", "2.0", "bb"), ("zeta", "1.0", "aa")]
    assert found[0].filename == "alpha-2.0-cp312-cp312-manylinux_2_28_aarch64.whl"


def test_a_package_without_a_wheel_is_refused_by_name() -> None:
    lock = '[[packages]]\nname = "docopt"\nversion = "0.6.2"\nsdist = { url = "https://x/docopt.tar.gz" }\n'
    with pytest.raises(InstallFailed, match=r"No wheel of docopt==0\.6\.2 for python3\.12 arm64"):
        wheels.parse_lock(lock, TARGET)


def make_wheel(path: Path, members: dict[str, bytes], executable: frozenset[str] = frozenset()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100755 if name in executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return path


def test_members_are_placed_as_an_install_into_target_places_them(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {
        "pkg/__init__.py": b"x = 1\n",
        "pkg/_native.so": b"\x7fELF" + bytes(100),
        "pkg/__pycache__/__init__.cpython-312.pyc": b"junk",
        "pkg-1.0.dist-info/METADATA": b"Name: pkg\nVersion: 1.0\n",
        "pkg-1.0.dist-info/RECORD": b"",
        "pkg-1.0.data/purelib/extra_module.py": b"y = 2\n",
        "pkg-1.0.data/platlib/plat.so": b"\x7fELF",
        "pkg-1.0.data/data/share/thing.txt": b"data",
        "pkg-1.0.data/scripts/pkg-cli": b"#!python\n",
        "pkg-1.0.data/headers/pkg.h": b"/* h */",
    }, executable=frozenset({"pkg/_native.so"}))

    entries = wheels.entries([wheel])

    assert [e.arcname for e in entries] == [
        "python/extra_module.py", "python/pkg-1.0.dist-info/METADATA", "python/pkg-1.0.dist-info/RECORD",
        "python/pkg/__init__.py", "python/pkg/_native.so", "python/plat.so", "python/share/thing.txt"]
    native = next(e for e in entries if e.arcname.endswith("_native.so"))
    assert native.executable
    assert native.size == 104


def test_the_layer_zip_holds_the_wheels_bytes_unchanged(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 400
    wheel = make_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/data.bin": payload, "pkg/__init__.py": b""})

    built = archive.write_zip(wheels.entries([wheel]), tmp_path / "layer.zip")

    with zipfile.ZipFile(built.path) as zf:
        assert zf.testzip() is None
        assert zf.read("python/pkg/data.bin") == payload
        infos = {i.filename: i for i in zf.infolist()}
    with zipfile.ZipFile(wheel) as source:
        assert infos["python/pkg/data.bin"].compress_size == source.getinfo("pkg/data.bin").compress_size
    assert {i.date_time for i in infos.values()} == {archive.FIXED_DATE_TIME}


def test_a_later_wheel_wins_a_shared_path(tmp_path: Path) -> None:
    first = make_wheel(tmp_path / "a-1-py3-none-any.whl", {"ns/__init__.py": b"a"})
    second = make_wheel(tmp_path / "b-1-py3-none-any.whl", {"ns/__init__.py": b"bb"})
    [entry] = wheels.entries([first, second])
    assert entry.size == 2


@pytest.mark.parametrize("name", ["../evil.py", "/etc/passwd", "pkg/../../x", "a\\b.py"])
def test_unsafe_member_paths_are_refused(tmp_path: Path, name: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(zipfile.ZipInfo(name), b"x")
    wheel = tmp_path / "bad-1.0-py3-none-any.whl"
    wheel.write_bytes(buffer.getvalue())
    with pytest.raises(InstallFailed, match="unsafe path"):
        wheels.entries([wheel])


class FakeResponse(io.BytesIO):
    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tiny_wheel(members: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as made:
        for name, data in (members or {"pkg/__init__.py": b"X = 1\n"}).items():
            made.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(("change", "said"), [({"size": 1024}, "lies about pkg/big.bin"),
                                              ({"crc": 12345}, "lies about pkg/big.bin")])
def test_a_member_whose_size_or_crc_lies_refuses_the_wheel(tmp_path: Path, change: dict[str, int],
                                                            said: str) -> None:
    # 50 MB of zeros that say they are 1 KB: a zip bomb the size limit would never see.
    body = lying(tiny_wheel({"pkg/__init__.py": b"", "pkg/big.bin": bytes(50_000_000)}), "pkg/big.bin", **change)
    wheel = wheels.Wheel("pkg", "1", "https://files.example/pkg-1-py3-none-any.whl", hashlib.sha256(body).hexdigest())

    with pytest.raises(InstallFailed, match=said):
        wheels.fetch(wheel, tmp_path, Index(), 10, lambda request, timeout: FakeResponse(body))

    assert not list(tmp_path.iterdir())  # nothing of it kept in the cache


def test_fetch_verifies_the_sha256_and_caches_by_it(tmp_path: Path) -> None:
    body = tiny_wheel()
    good = wheels.Wheel("pkg", "1", "https://files.example/pkg-1-py3-none-any.whl", hashlib.sha256(body).hexdigest())
    calls: list[str] = []

    def opener(request: object, timeout: float) -> FakeResponse:
        calls.append(getattr(request, "full_url", ""))
        return FakeResponse(body)

    path = wheels.fetch(good, tmp_path, Index(), 10, opener)
    assert path.read_bytes() == body
    assert wheels.fetch(good, tmp_path, Index(), 10, opener) == path
    assert len(calls) == 1  # the second time it came from the cache

    bad = wheels.Wheel("pkg", "1", "https://files.example/pkg-2-py3-none-any.whl", "00" * 32)
    with pytest.raises(InstallFailed, match="does not match the sha256"):
        wheels.fetch(bad, tmp_path, Index(), 10, opener)
    assert not list(tmp_path.glob("*.part"))


def test_fetch_sends_the_index_credentials_only_to_the_index_host(tmp_path: Path) -> None:
    body = tiny_wheel()
    sha = hashlib.sha256(body).hexdigest()
    index = Index("https://pkgs.example/simple/", "u", "p")
    seen: dict[str, object] = {}

    def opener(request: object, timeout: float) -> FakeResponse:
        # An unredirected header: urllib never carries it to where a redirect points.
        seen[getattr(request, "full_url", "")] = request.unredirected_hdrs.get("Authorization")  # type: ignore[attr-defined]
        return FakeResponse(body)

    wheels.fetch(wheels.Wheel("a", "1", "https://pkgs.example/files/a.whl", sha), tmp_path / "1", index, 10, opener)
    wheels.fetch(wheels.Wheel("b", "1", "https://cdn.example/b.whl", sha), tmp_path / "2", index, 10, opener)
    assert seen["https://pkgs.example/files/a.whl"] == "Basic dTpw"
    assert seen["https://cdn.example/b.whl"] is None


def test_prune_keeps_the_cache_under_its_budget_newest_kept(tmp_path: Path) -> None:
    import os

    for age, name in enumerate(["old", "mid", "new"]):
        path = tmp_path / f"{name}.whl"
        path.write_bytes(bytes(100))
        os.utime(path, (1000 + age, 1000 + age))
    (tmp_path / "x.part").write_bytes(b"partial")
    wheels.prune(tmp_path, keep_bytes=150)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.whl"]


def test_a_member_whose_header_offset_points_past_the_data_refuses_the_wheel(tmp_path: Path) -> None:
    """A crafted central directory: the member's local header would be the zip's last few bytes (a comment that
    starts like a header). Refused as unreadable, by name, never a raw struct error (an Internal error)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as made:
        made.writestr("pkg/__init__.py", b"X = 1\n")
        made.comment = b"PK\x03\x04short"
    data = bytearray(buffer.getvalue())
    central = data.index(b"PK\x01\x02")
    data[central + 42:central + 46] = (len(data) - 9).to_bytes(4, "little")
    wheel_path = tmp_path / "pkg-1-py3-none-any.whl"
    wheel_path.write_bytes(bytes(data))

    with pytest.raises(InstallFailed, match=r"pkg-1-py3-none-any.whl is not a readable wheel: .*bad local header"):
        wheels.verify_members(wheel_path, wheel_path.name)


def test_a_member_that_runs_past_the_end_of_the_wheel_refuses_it(tmp_path: Path) -> None:
    body = lying(tiny_wheel({"pkg/__init__.py": b"X = 1\n" * 100}), "pkg/__init__.py")
    data = bytearray(body)
    central = data.index(b"PK\x01\x02")
    data[central + 20:central + 24] = (10**6).to_bytes(4, "little")  # compressed size: a megabyte, not there
    wheel_path = tmp_path / "pkg-1-py3-none-any.whl"
    wheel_path.write_bytes(bytes(data))

    with pytest.raises(InstallFailed, match="runs past the end of the file"):
        wheels.verify_members(wheel_path, wheel_path.name)
