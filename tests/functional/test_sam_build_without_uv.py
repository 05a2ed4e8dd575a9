"""`sam build` of the real template on a machine without uv (PATH=/usr/bin:/bin): the layer's Makefile
fetches the pinned uv with layers/provider/fetch_uv.py, verified against layers/provider/uv-wheels.txt.
And fetch_uv.py itself, against a local index on 127.0.0.1: it refuses a wheel whose sha256 is not
the pinned one, whatever the index claims."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROVIDER = ROOT / "layers" / "provider"
FETCH_UV = PROVIDER / "fetch_uv.py"
SAM = ROOT / ".venv" / "bin" / "sam"
BARE_PATH = "/usr/bin:/bin"
UV_VERSION = (PROVIDER / "uv-version.txt").read_text().strip()
MEMBER = f"uv-{UV_VERSION}.data/scripts/uv"
ELF_MACHINES = {"x86_64": 62, "aarch64": 183}


def pinned() -> dict[str, tuple[str, str]]:
    """uv-wheels.txt: platform -> (sha256, wheel file name)."""
    pins: dict[str, tuple[str, str]] = {}
    for line in (PROVIDER / "uv-wheels.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            platform, sha256, filename = line.split()
            assert platform not in pins, platform
            pins[platform] = (sha256, filename)
    return pins


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without whatever could hand the build a uv or another source, plus extra."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("UV", "VIRTUAL_ENV", "BOOTSTRAP_PYTHON") and not key.startswith("PYLAYER_UV_")}
    return {**env, **extra}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def member_of(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(MEMBER)


# --- sam build with no uv on PATH ---------------------------------------------------------------

@dataclass
class BareBuild:
    build_dir: Path
    uv_cache: Path
    log: str


@pytest.fixture(scope="module")
def bare_build(tmp_path_factory: pytest.TempPathFactory) -> BareBuild:
    if not SAM.exists():
        pytest.skip("aws-sam-cli is not installed (make venv installs it)")
    if shutil.which("uv", path=BARE_PATH) is not None:
        pytest.skip(f"uv is installed in {BARE_PATH}: this machine cannot show a build without uv")
    if shutil.which("python3", path=BARE_PATH) != "/usr/bin/python3":
        pytest.skip(f"no /usr/bin/python3 as the python3 of {BARE_PATH}")
    if shutil.which("make", path=BARE_PATH) is None:
        pytest.skip(f"no make in {BARE_PATH}")
    base = tmp_path_factory.mktemp("sam-build-without-uv")
    build_dir, uv_cache = base / "build", base / "uv-cache"
    from tests.functional.test_sam_build import python313

    skip = {} if python313() else {"BYTECODE": "skip"}  # the provider's bytecode needs a python3.13
    env = environment(PATH=BARE_PATH, PYLAYER_UV_CACHE_DIR=str(uv_cache), SAM_CLI_TELEMETRY="0", **skip,
                      AWS_DEFAULT_REGION="us-east-1")
    done = subprocess.run([str(SAM), "build", "--build-dir", str(build_dir), "--cache-dir",
                           str(base / "sam-cache")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    return BareBuild(build_dir, uv_cache, log)


@pytest.mark.network  # sam build fetches uv and the layer's packages from PyPI
def test_sam_build_without_uv_fetches_the_pinned_uv_and_verifies_it(bare_build: BareBuild) -> None:
    pins = pinned()
    assert "uv is not on PATH: using the pinned uv" in bare_build.log
    host = re.search(rf"fetch_uv: uv {re.escape(UV_VERSION)} for (\S+) -> \S+/\.build-tmp/bin/uv", bare_build.log)
    assert host, bare_build.log
    assert f"uv {UV_VERSION} (" in bare_build.log  # the fetched uv ran: `uv --version`
    # The cache holds exactly the verified wheels: the build machine's and the two shipped ones.
    wanted = {pins[platform][1] for platform in (host.group(1), "linux-x86_64", "linux-aarch64")}
    assert {path.name for path in bare_build.uv_cache.iterdir()} == wanted
    by_name = {filename: digest for digest, filename in pins.values()}
    for name in wanted:
        assert sha256((bare_build.uv_cache / name).read_bytes()) == by_name[name], name
        assert f"{name}: sha256 {by_name[name]} matches uv-wheels.txt" in bare_build.log


@pytest.mark.network  # sam build fetches uv and the layer's packages from PyPI
def test_the_layer_built_without_uv_is_complete(bare_build: BareBuild) -> None:
    layer = bare_build.build_dir / "ProviderDependencies"
    pins = pinned()

    for package in ("aws_lambda_powertools", "packaging", "aws_xray_sdk", "jmespath", "wrapt"):
        assert (layer / "python" / package).is_dir(), package
    assert (layer / "python" / "typing_extensions.py").is_file()
    assert not (layer / "python" / "boto3").exists()  # --no-deps: the runtime's boto3 stays the one
    for machine in ELF_MACHINES:  # wrapt's extension module for both architectures
        assert list((layer / "python" / "wrapt").glob(f"*-{machine}-linux-gnu.so")), machine
    for machine, e_machine in ELF_MACHINES.items():
        executable = layer / "uv" / machine / "uv"
        header = executable.read_bytes()[:20]
        assert header[:4] == b"\x7fELF", machine
        assert int.from_bytes(header[18:20], "little") == e_machine, machine
        assert stat.S_IMODE(executable.stat().st_mode) == 0o755
        # Byte for byte the executable of the pinned (verified) wheel.
        wheel = bare_build.uv_cache / pins[f"linux-{machine}"][1]
        assert executable.read_bytes() == member_of(wheel), machine
    assert (layer / "uv" / "VERSION").read_text() == f"{UV_VERSION}\n"
    assert sorted(p.name for p in layer.iterdir()) == ["python", "uv"]  # no .build-tmp left
    # Bytecode for the provider's runtime only (handler/bytecode.mk), where a python3.13 was found.
    assert {p.name.split(".")[-2] for p in layer.rglob("*.pyc")} <= {"cpython-313"}


def test_the_pinned_hashes_cover_the_build_platforms() -> None:
    pins = pinned()
    assert {"linux-x86_64", "linux-aarch64", "macos-x86_64", "macos-arm64"} <= set(pins)
    for platform, (digest, filename) in pins.items():
        assert re.fullmatch(r"[0-9a-f]{64}", digest), platform
        assert filename.startswith(f"uv-{UV_VERSION}-py3-none-") and filename.endswith(".whl"), platform
    assert "manylinux" in pins["linux-x86_64"][1] and pins["linux-x86_64"][1].endswith("_x86_64.whl")
    assert "manylinux" in pins["linux-aarch64"][1] and pins["linux-aarch64"][1].endswith("_aarch64.whl")
    assert "macosx" in pins["macos-x86_64"][1] and pins["macos-x86_64"][1].endswith("_x86_64.whl")
    assert "macosx" in pins["macos-arm64"][1] and pins["macos-arm64"][1].endswith("_arm64.whl")


# --- fetch_uv.py against a local index ------------------------------------------------------------

WHEEL_NAME = f"uv-{UV_VERSION}-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
FAKE_UV = b"#!/bin/sh\necho 'uv (test double)'\n"


@dataclass
class Server:
    url: str
    files: dict[str, tuple[str, bytes]]  # path -> (content type, body); a "redirect" type: body is the Location
    hits: list[str]


@pytest.fixture
def server() -> Iterator[Server]:
    files: dict[str, tuple[str, bytes]] = {}
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            found = files.get(self.path)
            if found is None:
                self.send_error(404)
                return
            content_type, body = found
            if content_type == "redirect":
                self.send_response(302)
                self.send_header("Location", body.decode())
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_port}", files, hits)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def fake_wheel(tmp_path: Path, content: bytes = FAKE_UV) -> bytes:
    path = tmp_path / "fake.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"uv-{UV_VERSION}.dist-info/METADATA", "Name: uv\n")
        archive.writestr(MEMBER, content)
    return path.read_bytes()


def serve_index(server: Server, wheel: bytes, kind: str) -> dict[str, str]:
    """Publishes wheel on the local server the way kind says; the environment that points fetch_uv at it."""
    server.files[f"/packages/ab/cd/{WHEEL_NAME}"] = ("application/octet-stream", wheel)
    claimed = sha256(wheel)  # the index vouches for what it serves: never trusted
    if kind == "download-url":
        server.files[f"/wheels/{WHEEL_NAME}"] = ("application/octet-stream", wheel)
        return {"PYLAYER_UV_DOWNLOAD_URL": f"{server.url}/wheels/"}
    if kind == "json-index":
        page = {"meta": {"api-version": "1.1"}, "name": "uv", "files": [
            {"filename": "uv-0.0.1-py3-none-any.whl", "url": "../../packages/xx/uv-0.0.1-py3-none-any.whl",
             "hashes": {}},
            {"filename": WHEEL_NAME, "url": f"../../packages/ab/cd/{WHEEL_NAME}", "hashes": {"sha256": claimed}}]}
        server.files["/simple/uv/"] = ("application/vnd.pypi.simple.v1+json", json.dumps(page).encode())
    elif kind == "html-index":
        html = (f'<html><body><a href="/packages/ab/cd/{WHEEL_NAME}#sha256={claimed}">{WHEEL_NAME}</a><br/>'
                "</body></html>")
        server.files["/simple/uv/"] = ("text/html", html.encode())
    else:
        raise AssertionError(kind)
    return {"PYLAYER_UV_INDEX_URL": f"{server.url}/simple/"}


def pin_file(tmp_path: Path, digest: str) -> Path:
    hashes = tmp_path / "uv-wheels.txt"
    hashes.write_text(f"# test pins\nlinux-x86_64  {digest}  {WHEEL_NAME}\n")
    return hashes


def fetch_uv(hashes: Path, output: Path, cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    proxies_off = {"no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}
    return subprocess.run([sys.executable, "-I", str(FETCH_UV), "--version", UV_VERSION, "--hashes", str(hashes),
                           "--platform", "linux-x86_64", "--output", str(output)],
                          env=environment(PYLAYER_UV_CACHE_DIR=str(cache), **proxies_off, **env),
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("kind", ["download-url", "json-index", "html-index"])
def test_fetch_uv_refuses_a_wheel_whose_sha256_is_not_the_pinned_one(server: Server, tmp_path: Path,
                                                                     kind: str) -> None:
    wheel = fake_wheel(tmp_path)
    pinned_digest = sha256(b"the wheel that was reviewed")
    hashes = pin_file(tmp_path, pinned_digest)
    output, cache = tmp_path / "bin" / "uv", tmp_path / "cache"

    done = fetch_uv(hashes, output, cache, **serve_index(server, wheel, kind))

    assert done.returncode == 1, done.stdout + done.stderr
    message = done.stderr
    assert f"sha256 mismatch for {WHEEL_NAME}" in message
    assert f"expected {pinned_digest}" in message and str(hashes) in message
    assert f"got {sha256(wheel)}" in message
    assert any(hit.endswith(WHEEL_NAME) for hit in server.hits)  # it did download it, then refused it
    assert not output.exists()
    assert list(cache.iterdir()) == []  # neither the wheel nor a partial download is kept


def test_fetch_uv_unpacks_a_verified_wheel_and_reuses_the_cache(server: Server, tmp_path: Path) -> None:
    wheel = fake_wheel(tmp_path)
    hashes = pin_file(tmp_path, sha256(wheel))
    cache = tmp_path / "cache"
    env = serve_index(server, wheel, "json-index")

    first = fetch_uv(hashes, tmp_path / "one" / "uv", cache, **env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert server.hits == ["/simple/uv/", f"/packages/ab/cd/{WHEEL_NAME}"]
    assert (tmp_path / "one" / "uv").read_bytes() == FAKE_UV
    assert stat.S_IMODE((tmp_path / "one" / "uv").stat().st_mode) == 0o755
    assert (cache / WHEEL_NAME).read_bytes() == wheel
    assert f"sha256 {sha256(wheel)} matches uv-wheels.txt" in first.stdout

    second = fetch_uv(hashes, tmp_path / "two" / "uv", cache, **env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert len(server.hits) == 2  # from the cache: no request at all
    assert (tmp_path / "two" / "uv").read_bytes() == FAKE_UV

    # A cached wheel is checked on every use: a damaged one is fetched again.
    (cache / WHEEL_NAME).write_bytes(b"damaged")
    third = fetch_uv(hashes, tmp_path / "three" / "uv", cache, **env)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "not the pinned" in third.stdout
    assert len(server.hits) == 4
    assert (cache / WHEEL_NAME).read_bytes() == wheel
    assert (tmp_path / "three" / "uv").read_bytes() == FAKE_UV


@pytest.mark.parametrize("variable", ["PYLAYER_UV_DOWNLOAD_URL", "PYLAYER_UV_INDEX_URL"])
def test_fetch_uv_fetches_nothing_over_plain_http_from_another_host(tmp_path: Path, variable: str) -> None:
    hashes = pin_file(tmp_path, sha256(b"x"))
    done = fetch_uv(hashes, tmp_path / "uv", tmp_path / "cache", **{variable: "http://example.com/simple/"})
    assert done.returncode == 1
    assert "refusing to fetch http://example.com/" in done.stderr
    assert "only https://" in done.stderr


def test_fetch_uv_follows_no_redirect_to_plain_http(server: Server, tmp_path: Path) -> None:
    hashes = pin_file(tmp_path, sha256(b"x"))
    server.files[f"/wheels/{WHEEL_NAME}"] = ("redirect", f"http://example.com/{WHEEL_NAME}".encode())
    done = fetch_uv(hashes, tmp_path / "uv", tmp_path / "cache", PYLAYER_UV_DOWNLOAD_URL=f"{server.url}/wheels/")
    assert done.returncode == 1
    assert f"refusing to fetch http://example.com/{WHEEL_NAME}" in done.stderr
    assert server.hits == [f"/wheels/{WHEEL_NAME}"]  # not retried either


def test_fetch_uv_refuses_pins_of_another_uv_version(tmp_path: Path) -> None:
    hashes = tmp_path / "uv-wheels.txt"
    hashes.write_text(f"linux-x86_64  {sha256(b'x')}  uv-0.0.1-py3-none-manylinux_2_17_x86_64.whl\n")
    done = fetch_uv(hashes, tmp_path / "uv", tmp_path / "cache")
    assert done.returncode == 1
    assert f"not a wheel of uv {UV_VERSION}" in done.stderr
    assert "--pin" in done.stderr
