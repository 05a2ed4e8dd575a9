"""pylayer.worker.sdist: real builds of small sdists (and docopt) with real interpreters, and what is refused.

The worker runs here in-process (this interpreter) and, to show the module itself works there, in a
python3.9 child started with ``-S`` and only handler/ on its path. Builds with setuptools, wheel or
flit_core use their wheels from PyPI (``network``); builds with an in-tree backend need nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import stat
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_version

import pylayer.worker
from pylayer.worker import sdist
from tests.support.imports import python_or_skip

HANDLER = str(Path(pylayer.worker.__file__).resolve().parents[2])
SECRET = "pylayer-test-secret-0123456789"
WORKERS = ["host", "3.9"]
ALLOWED_ENV = {"PATH", "LANG", "LC_ALL", "LC_CTYPE", "HOME", "TMPDIR", "SOURCE_DATE_EPOCH"}
# The worker module under another interpreter: -S, nothing but handler/ on its path; the answer on stdout.
DRIVER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from pylayer.worker import sdist
request = json.load(sys.stdin)
scratch = request.pop("scratch")
try:
    result = sdist.build(request, scratch)
except sdist.SdistRefused as refused:
    result = {"refused": str(refused), "output": refused.output}
json.dump(result, sys.stdout)
"""
# An in-tree PEP 517 backend: a wheel of FILES, after DURING (statements that may change files).
TREE_BACKEND = '''
import base64, hashlib, os, sys, zipfile
NAME, VERSION, FILES, TAG, REQUIRES = {name!r}, {version!r}, {files!r}, {tag!r}, {requires!r}

def get_requires_for_build_wheel(config_settings=None):
    return list(REQUIRES)

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = dict(FILES)
{during}
    module = NAME.replace("-", "_")
    info = module + "-" + VERSION + ".dist-info"
    files[info + "/METADATA"] = "Metadata-Version: 2.1\\nName: " + NAME + "\\nVersion: " + VERSION + "\\n"
    files[info + "/WHEEL"] = "Wheel-Version: 1.0\\nGenerator: tree\\nRoot-Is-Purelib: true\\nTag: " + TAG + "\\n"
    files[info + "/RECORD"] = ""
    filename = module + "-" + VERSION + "-" + TAG + ".whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as wheel:
        for path, text in sorted(files.items()):
            wheel.writestr(path, text)
    return filename
'''


# Sdists and wheels made here.

def make_sdist(folder: Path, name: str, version: str, files: dict[str, str | bytes], kind: str = "tar.gz") -> Path:
    """name-version.tar.gz (or .zip) holding ``files`` under its top folder name-version/."""
    top = f"{name}-{version}"
    path = folder / f"{top}.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            for member, text in files.items():
                archive.writestr(f"{top}/{member}", text)
        return path
    with tarfile.open(path, "w:gz") as archive:
        for member, text in files.items():
            data = text.encode() if isinstance(text, str) else text
            info = tarfile.TarInfo(f"{top}/{member}")
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return path


def tree_sdist(folder: Path, name: str, files: dict[str, str], during: str = "", tag: str = "py3-none-any",
               requires: tuple[str, ...] = (), version: str = "1.0") -> Path:
    body = "\n".join(f"    {line}" for line in during.strip().splitlines()) or "    pass"
    backend = TREE_BACKEND.format(name=name, version=version, files=files, tag=tag, requires=requires, during=body)
    return make_sdist(folder, name, version, {"tree_backend.py": backend, "PKG-INFO": f"Name: {name}\n"})


def tree_request(sdist_path: Path, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {"sdist": str(sdist_path), "backend": "tree_backend", "backend_path": ["."], "build_wheels": [],
            "output_dir": str(tmp_path / "out"), **extra}


def wheel_file(path: Path, members: Mapping[str, bytes | str], purelib: str = "true") -> Path:
    """A wheel with its dist-info (named from the file name) and ``members``."""
    name, version = path.name.split("-")[:2]
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as made:
        made.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        made.writestr(f"{info}/WHEEL", f"Wheel-Version: 1.0\nRoot-Is-Purelib: {purelib}\nTag: py3-none-any\n")
        for member, data in members.items():
            made.writestr(member, data)
    return path


def wheel_text(path: str | Path) -> bytes:
    """Every member of a wheel, inflated and joined: what a secret would have to hide in."""
    with zipfile.ZipFile(path) as made:
        return b"\n".join(made.read(n) for n in made.namelist())


# The worker, in this process or in another interpreter's child.

@dataclass(frozen=True)
class Worker:
    """The worker module run by this interpreter in-process (version ""), or by pythonX.Y in a child."""

    version: str
    python: list[str]

    def build(self, job: dict[str, Any], scratch: Path) -> dict[str, Any]:
        if not self.version:
            return sdist.build({"python": self.python, **job}, str(scratch))
        payload = json.dumps({"python": self.python, **job, "scratch": str(scratch)})
        done = subprocess.run([*self.python, "-S", "-c", DRIVER, HANDLER], input=payload, capture_output=True,
                              text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
        answer: dict[str, Any] = json.loads(done.stdout)
        if "refused" in answer:
            raise sdist.SdistRefused(answer["refused"], answer["output"])
        return answer


@pytest.fixture(params=WORKERS)
def worker(request: pytest.FixtureRequest) -> Worker:
    if request.param == "host":
        return Worker("", [sys.executable])
    return Worker(request.param, python_or_skip(request.param))


def imports(python: list[str], wheel: str, module: str) -> str:
    """The module imported from the wheel itself (zipimport) by python; its __version__ or ''."""
    code = f"import sys; sys.path.insert(0, {wheel!r}); import {module} as m; print(getattr(m, '__version__', ''))"
    done = subprocess.run([*python, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# The build environment: real wheels from PyPI, once per session and Python version (setuptools 84 needs 3.10).

BuildWheels = Callable[[str], dict[str, str]]


@pytest.fixture(scope="session")
def build_wheels(tmp_path_factory: pytest.TempPathFactory) -> BuildWheels:
    """build_wheels(version): setuptools, wheel and flit_core for pythonX.Y ("": this interpreter), by project."""
    found: dict[str, dict[str, str]] = {}

    def for_python(version: str) -> dict[str, str]:
        if version not in found:
            folder = tmp_path_factory.mktemp(f"build-wheels{version}")
            target = ["--python-version", version] if version else []
            done = subprocess.run([sys.executable, "-m", "pip", "download", "--only-binary", ":all:", "--no-deps",
                                   "--disable-pip-version-check", "-q", *target, "-d", str(folder), "setuptools",
                                   "wheel", "flit_core"], capture_output=True, text=True, timeout=300, check=False)
            if done.returncode != 0:
                pytest.skip(f"pip download from PyPI failed: {done.stderr.strip()[-300:]}")
            found[version] = {path.name.split("-")[0]: str(path) for path in folder.glob("*.whl")}
        return found[version]

    return for_python


@pytest.fixture(scope="session")
def real_sdists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("real-sdists")
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                           "--disable-pip-version-check", "-q", "-d", str(folder), "docopt==0.6.2",
                           "sgmllib3k==1.0.0"], capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        pytest.skip(f"pip download from PyPI failed: {done.stderr.strip()[-300:]}")
    return {path.name.split("-")[0]: path for path in folder.glob("*.tar.gz")}


def setuptools_request(sdist_path: Path, tmp_path: Path, wheels: dict[str, str]) -> dict[str, Any]:
    return {"sdist": str(sdist_path), "backend": "setuptools.build_meta:__legacy__", "backend_path": [],
            "build_wheels": [wheels["setuptools"], wheels["wheel"]], "output_dir": str(tmp_path / "out")}


# Real builds.

@pytest.mark.network
def test_a_setuptools_sdist_builds_into_a_pure_wheel_that_imports(worker: Worker, tmp_path: Path,
                                                                  build_wheels: BuildWheels) -> None:
    setup = 'from setuptools import setup\nsetup(name="hello-world", version="1.0", py_modules=["hello_world"])\n'
    made = make_sdist(tmp_path, "hello-world", "1.0", {"setup.py": setup, "hello_world.py": "__version__ = '1.0'\n"})

    result = worker.build(setuptools_request(made, tmp_path, build_wheels(worker.version)), tmp_path / "scratch")

    assert result["wheel"] == "hello_world-1.0-py3-none-any.whl"
    assert result["path"] == str(tmp_path / "out" / result["wheel"])
    data = Path(result["path"]).read_bytes()
    assert (result["sha256"], result["size"]) == (hashlib.sha256(data).hexdigest(), len(data))
    assert 0 < result["seconds"] < 120
    assert imports([sys.executable], result["path"], "hello_world") == "1.0"
    assert not any(n.endswith(".pyc") for n in zipfile.ZipFile(result["path"]).namelist())  # -B: no bytecode


@pytest.mark.network
def test_a_flit_core_sdist_with_only_a_pyproject_builds_the_same_wheel_twice(
        worker: Worker, tmp_path: Path, build_wheels: BuildWheels) -> None:
    pyproject = ('[build-system]\nrequires = ["flit_core>=3.2"]\nbuild-backend = "flit_core.buildapi"\n\n'
                 '[project]\nname = "flitty"\nversion = "0.1"\ndescription = "A flit project"\n')
    made = make_sdist(tmp_path, "flitty", "0.1", {"pyproject.toml": pyproject,
                                                 "flitty/__init__.py": '"""Flitty."""\n__version__ = "0.1"\n'},
                      kind="zip")
    job = {"sdist": str(made), "backend": "flit_core.buildapi", "backend_path": [],
           "build_wheels": [build_wheels(worker.version)["flit_core"]], "output_dir": str(tmp_path / "out")}

    first = worker.build(job, tmp_path / "scratch")
    second = worker.build({**job, "output_dir": str(tmp_path / "again")}, tmp_path / "scratch")

    assert first["wheel"] in ("flitty-0.1-py3-none-any.whl", "flitty-0.1-py2.py3-none-any.whl")
    assert first["sha256"] == second["sha256"]  # SOURCE_DATE_EPOCH: the same bytes from the same sdist
    assert imports([sys.executable], first["path"], "flitty") == "0.1"


@pytest.mark.network
@pytest.mark.parametrize(("setup", "reason"), [
    ("from distutils.errors import DistutilsPlatformError\n"
     "from setuptools import setup\nfrom setuptools.command.build_py import build_py\n"
     "class Compile(build_py):\n    def run(self):\n        print('building the fast parts')\n"
     "        raise DistutilsPlatformError('Microsoft Visual C++ 14.0 is required')\n"
     "setup(name='broken', version='1.0', py_modules=['broken'], cmdclass={'build_py': Compile})\n",
     "Building broken 1.0 from source failed: error: Microsoft Visual C++ 14.0 is required"),
    ("import sys\nprint('checking for gcc... no')\nraise RuntimeError('no compiler here')\n",
     "Building broken 1.0 from source failed: RuntimeError: no compiler here"),
    ("import sys\nprint('configuring')\nsys.stdout.flush()\nsys.exit(3)\n",
     "Building broken 1.0 from source failed: configuring"),
])
def test_a_failed_build_names_the_package_and_the_last_line_of_its_output(
        worker: Worker, tmp_path: Path, build_wheels: BuildWheels, setup: str, reason: str) -> None:
    made = make_sdist(tmp_path, "broken", "1.0", {"setup.py": setup, "broken.py": ""})
    with pytest.raises(sdist.SdistRefused) as refused:
        worker.build(setuptools_request(made, tmp_path, build_wheels(worker.version)), tmp_path / "scratch")
    assert str(refused.value) == reason
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.network
def test_a_setuptools_wheel_with_a_so_file_is_refused(worker: Worker, tmp_path: Path,
                                                      build_wheels: BuildWheels) -> None:
    setup = ("from setuptools import setup\nsetup(name='compiled', version='1.0', packages=['compiled'], "
             "package_data={'compiled': ['*.so']})\n")
    made = make_sdist(tmp_path, "compiled", "1.0", {"setup.py": setup, "compiled/__init__.py": "",
                                                   "compiled/_speed.so": b"not really a shared object"})
    with pytest.raises(sdist.SdistRefused) as refused:
        worker.build(setuptools_request(made, tmp_path, build_wheels(worker.version)), tmp_path / "scratch")
    assert str(refused.value) == ("compiled 1.0 built a wheel with compiled code (compiled/_speed.so); only "
                                  "pure-Python source distributions are built")


@pytest.mark.network
@pytest.mark.parametrize("python", ["host", "3.9", "3.13"])
@pytest.mark.parametrize(("project", "module", "wheel"), [
    ("docopt", "docopt", ("docopt-0.6.2-py2.py3-none-any.whl", "docopt-0.6.2-py3-none-any.whl")),
    ("sgmllib3k", "sgmllib", ("sgmllib3k-1.0.0-py3-none-any.whl",)),
])
def test_real_source_only_projects_build_and_import(tmp_path: Path, build_wheels: BuildWheels,
                                                    real_sdists: dict[str, Path], python: str, project: str,
                                                    module: str, wheel: tuple[str, ...]) -> None:
    command = [sys.executable] if python == "host" else python_or_skip(python)
    wheels = build_wheels("" if python == "host" else python)
    job = {**setuptools_request(real_sdists[project], tmp_path, wheels), "python": command}

    result = sdist.build(job, str(tmp_path / "scratch"))

    assert result["wheel"] in wheel
    version = imports(command, result["path"], module)
    assert version in ("0.6.2", "")  # sgmllib has no __version__


# The build's environment and process, with an in-tree backend (no network).

SPY = '''
import json, os, sys
print("{ not the answer", flush=True)
os.write(1, b'{"wheel": "forged.whl"}')
found = os.environ.get("AWS_SECRET_ACCESS_KEY", "absent")
files["spy/seen.json"] = json.dumps({"secret": found, "env": dict(os.environ), "path": sys.path,
                                     "cwd": os.getcwd(), "stdin": sys.stdin.read()})
'''


def test_the_build_never_sees_the_workers_environment(worker: Worker, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_SECRET_ACCESS_KEY": SECRET, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                        "AWS_SESSION_TOKEN": SECRET, "PYTHONPATH": "/elsewhere", "GITHUB_TOKEN": SECRET}.items():
        monkeypatch.setenv(name, value)
    made = tree_sdist(tmp_path, "spy", {"spy/__init__.py": ""}, during=SPY)

    result = worker.build(tree_request(made, tmp_path), tmp_path / "scratch")

    assert result["wheel"] == "spy-1.0-py3-none-any.whl"  # what the build printed changed nothing
    assert SECRET.encode() not in wheel_text(result["path"])
    seen = json.loads(zipfile.ZipFile(result["path"]).read("spy/seen.json"))
    assert seen["secret"] == "absent"
    assert set(seen["env"]) <= ALLOWED_ENV, set(seen["env"]) - ALLOWED_ENV
    scratch = str((tmp_path / "scratch").resolve())
    assert seen["env"]["HOME"].startswith(scratch) and seen["env"]["TMPDIR"].startswith(scratch)
    assert seen["cwd"] == str(tmp_path / "scratch" / "source" / "spy-1.0")
    assert not any("site-packages" in p or "/elsewhere" in p for p in seen["path"])
    assert seen["stdin"] == ""


def test_a_build_that_runs_too_long_is_killed_with_what_it_started(worker: Worker, tmp_path: Path) -> None:
    during = ('import subprocess, time\n'
              'child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])\n'
              'open(os.path.join(os.environ["HOME"], "pid"), "w").write(str(child.pid))\n'
              'time.sleep(120)\n')
    made = tree_sdist(tmp_path, "sleepy", {"sleepy/__init__.py": ""}, during=during)
    started = time.monotonic()

    with pytest.raises(sdist.SdistRefused, match=r"^Building sleepy 1\.0 from source took over 3 s$"):
        worker.build(tree_request(made, tmp_path, timeout=3), tmp_path / "scratch")

    assert time.monotonic() - started < 60
    pid = int((tmp_path / "scratch" / "home" / "pid").read_text())
    assert not alive(pid)


def alive(pid: int) -> bool:
    """Whether pid runs (a zombie waiting for init to reap it does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_a_requirement_the_backend_asks_for_and_the_environment_lacks_is_named(worker: Worker, tmp_path: Path) -> None:
    helper = wheel_file(tmp_path / "Helper_Lib-1.0-py3-none-any.whl", {"helper_lib/__init__.py": ""})
    made = tree_sdist(tmp_path, "needy", {"needy/__init__.py": ""}, requires=("helper-lib>=1", "Cython>=0.29"))

    with pytest.raises(sdist.SdistRefused) as refused:
        worker.build(tree_request(made, tmp_path, build_wheels=[str(helper)]), tmp_path / "scratch")
    assert str(refused.value) == ("Building needy 1.0 from source needs Cython>=0.29, which its build requirements "
                                  "do not name")


def test_a_backend_that_raises_or_makes_no_wheel(worker: Worker, tmp_path: Path) -> None:
    made = tree_sdist(tmp_path, "fails", {"fails/__init__.py": ""}, during="raise RuntimeError('no compiler here')")
    with pytest.raises(sdist.SdistRefused) as refused:
        worker.build(tree_request(made, tmp_path), tmp_path / "scratch")
    assert str(refused.value) == "Building fails 1.0 from source failed: RuntimeError: no compiler here"
    assert "Traceback" in refused.value.output

    crash = tree_sdist(tmp_path, "crash", {}, during="os._exit(7)")
    with pytest.raises(sdist.SdistRefused, match=r"^Building crash 1\.0 from source failed: exit status 7$"):
        worker.build(tree_request(crash, tmp_path), tmp_path / "scratch")


@pytest.mark.parametrize(("files", "tag", "reason"), [
    ({"x/__init__.py": "", "x/data.bin": "\x7fELF\x02\x01\x01"}, "py3-none-any",
     "x 1.0 built a wheel with compiled code (x/data.bin); only pure-Python source distributions are built"),
    ({"x/__init__.py": ""}, "cp39-cp39-manylinux_2_17_x86_64",
     "x 1.0 built a wheel for one platform (x-1.0-cp39-cp39-manylinux_2_17_x86_64.whl); only pure-Python source "
     "distributions are built"),
    ({"x/__init__.py": "", "x-1.0.data/platlib/x/fast.py": ""}, "py3-none-any",
     "x 1.0 built a wheel with platform-specific files (x-1.0.data/platlib/x/fast.py); only pure-Python source "
     "distributions are built"),
])
def test_an_impure_build_is_refused(worker: Worker, tmp_path: Path, files: dict[str, str], tag: str,
                                    reason: str) -> None:
    made = tree_sdist(tmp_path, "x", files, tag=tag)
    with pytest.raises(sdist.SdistRefused) as refused:
        worker.build(tree_request(made, tmp_path), tmp_path / "scratch")
    assert str(refused.value) == reason


def test_a_wheel_of_another_version_is_refused(tmp_path: Path) -> None:
    made = tree_sdist(tmp_path, "x", {"x/__init__.py": ""}, during="global VERSION\nVERSION = '2.0'")
    with pytest.raises(sdist.SdistRefused, match="another project or version"):
        sdist.build(tree_request(made, tmp_path), str(tmp_path / "scratch"))


# The sdist and the build wheels, unpacked.

def test_an_sdist_is_unpacked_with_its_modes(tmp_path: Path) -> None:
    path = tmp_path / "x-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, mode, data in (("x-1.0/run.sh", 0o4755, b"#!/bin/sh\n"), ("x-1.0/a/b.py", 0o600, b"B = 1\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            archive.addfile(info, io.BytesIO(data))
    tree = Path(sdist.unpack(str(path), str(tmp_path / "out"), "x 1.0"))
    assert tree == tmp_path / "out" / "x-1.0"
    assert stat.S_IMODE((tree / "run.sh").stat().st_mode) == 0o755  # no setuid
    assert (tree / "a" / "b.py").read_bytes() == b"B = 1\n"


@pytest.mark.parametrize("member", ["../escape.py", "/etc/passwd", "x-1.0/../../escape.py", "x-1.0\\..\\..\\e.py"])
@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_an_sdist_whose_paths_leave_its_folder_is_refused(tmp_path: Path, member: str, kind: str) -> None:
    path = tmp_path / f"x-1.0.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(member, "print('hi')")
    else:
        with tarfile.open(path, "w:gz") as archive:
            info = tarfile.TarInfo(member)
            info.size = 11
            archive.addfile(info, io.BytesIO(b"print('hi')"))
    with pytest.raises(sdist.SdistRefused, match="outside its folder"):
        sdist.unpack(str(path), str(tmp_path / "out"), "x 1.0")
    assert not (tmp_path / "escape.py").exists()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE,
                                  tarfile.FIFOTYPE])
def test_links_and_devices_in_a_tar_are_refused(tmp_path: Path, kind: bytes) -> None:
    path = tmp_path / "x-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        special = tarfile.TarInfo("x-1.0/secret")
        special.type, special.linkname = kind, "/proc/1/environ"
        archive.addfile(special)
    with pytest.raises(sdist.SdistRefused, match="a link or a device"):
        sdist.unpack(str(path), str(tmp_path / "out"), "x 1.0")


def test_a_symlink_in_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x-1.0.zip"
    with zipfile.ZipFile(path, "w") as archive:
        link = zipfile.ZipInfo("x-1.0/secret")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/proc/1/environ")
    with pytest.raises(sdist.SdistRefused, match="a link or a device"):
        sdist.unpack(str(path), str(tmp_path / "out"), "x 1.0")


def test_limits_and_the_single_top_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdist, "MAX_MEMBERS", 2)
    many = make_sdist(tmp_path, "x", "1.0", {"a.py": "", "b.py": "", "c.py": ""})
    with pytest.raises(sdist.SdistRefused, match="holds over 2 files"):
        sdist.unpack(str(many), str(tmp_path / "a"), "x 1.0")
    monkeypatch.setattr(sdist, "MAX_MEMBERS", 100)
    monkeypatch.setattr(sdist, "MAX_BYTES", 100)
    large = make_sdist(tmp_path, "x", "1.0", {"a.py": "#" * 60, "b.py": "#" * 60}, kind="zip")
    with pytest.raises(sdist.SdistRefused, match="unpacks to over"):
        sdist.unpack(str(large), str(tmp_path / "b"), "x 1.0")
    monkeypatch.setattr(sdist, "MAX_BYTES", 1 << 20)
    two = tmp_path / "two-1.0.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("two-1.0/a.py", "")
        archive.writestr("other/b.py", "")
    with pytest.raises(sdist.SdistRefused, match="no single top folder"):
        sdist.unpack(str(two), str(tmp_path / "c"), "two 1.0")


def test_a_backend_path_that_leaves_the_tree_is_refused(tmp_path: Path) -> None:
    tree = tmp_path / "x-1.0"
    (tree / "backend").mkdir(parents=True)
    assert sdist.backend_paths(str(tree), [".", "backend"], "x 1.0") == [str(tree), str(tree / "backend")]
    for path in ("..", "/usr/lib", "backend/../../..", "C:/x", "a\0b"):
        with pytest.raises(sdist.SdistRefused, match="leaves the source tree"):
            sdist.backend_paths(str(tree), [path], "x 1.0")


def test_build_wheels_are_unpacked_pure_only(tmp_path: Path) -> None:
    pure = wheel_file(tmp_path / "pure-1.0-py3-none-any.whl", {"pure/__init__.py": "P = 1\n",
                                                               "pure-1.0.data/purelib/extra.py": "E = 1\n",
                                                               "pure-1.0.data/scripts/tool": "#!python\n"})
    sdist.install_pure(str(pure), str(tmp_path / "env"), "x 1.0")
    assert (tmp_path / "env" / "pure" / "__init__.py").read_text() == "P = 1\n"
    assert (tmp_path / "env" / "extra.py").read_text() == "E = 1\n"
    assert not (tmp_path / "env" / "pure-1.0.data").exists()

    fast = wheel_file(tmp_path / "fast-1.0-py3-none-any.whl", {"fast/_speed.cpython-311-x86_64-linux-gnu.so": ""})
    lying = wheel_file(tmp_path / "lying-1.0-py3-none-any.whl", {"lying/__init__.py": ""}, purelib="false")
    for made in (fast, lying):
        reason = re.escape(f"x 1.0: a build requirement ({made.name}) is not pure")
        with pytest.raises(sdist.SdistRefused, match=reason):
            sdist.install_pure(str(made), str(tmp_path / "env2"), "x 1.0")


# What comes out, checked.

@pytest.mark.parametrize("name", ["x-1.0-py3-none-any.whl", "x-1.0-py2.py3-none-any.whl", "x-1.0-py39-none-any.whl",
                                  "x-1.0-1-py3-none-any.whl", "X-1.0.0-py3-none-any.whl"])
def test_pure_wheels_pass_the_check(tmp_path: Path, name: str) -> None:
    sdist.check_wheel(str(wheel_file(tmp_path / name, {"x/__init__.py": ""})), "x", "1.0", "x 1.0")


@pytest.mark.parametrize(("name", "members", "reason"), [
    ("x-1.0-py2-none-any.whl", {}, "for Python 2 only"),
    ("x-1.0-py3-abi3-any.whl", {}, "for one platform"),
    ("x-1.0-py3-none-linux_x86_64.whl", {}, "for one platform"),
    ("y-1.0-py3-none-any.whl", {}, "another project or version"),
    ("x-1.1-py3-none-any.whl", {}, "another project or version"),
    ("x-1.0-py3-none-any.whl", {"x/_c.pyd": ""}, r"compiled code \(x/_c\.pyd\)"),
    ("x-1.0-py3-none-any.whl", {"x/libz.so.1": ""}, r"compiled code \(x/libz\.so\.1\)"),
    ("x-1.0-py3-none-any.whl", {"x/data": "\x7fELF"}, r"compiled code \(x/data\)"),
    ("x-1.0-py3-none-any.whl", {"../evil.py": ""}, "outside its folder"),
    ("x-1.0-py3-none-any.whl", {"y-1.0.dist-info/METADATA": ""}, "2 .dist-info folders"),
])
def test_wheels_that_are_not_pure_or_not_the_sdists_are_refused(tmp_path: Path, name: str,
                                                                members: dict[str, str], reason: str) -> None:
    with pytest.raises(sdist.SdistRefused, match=reason):
        sdist.check_wheel(str(wheel_file(tmp_path / name, members)), "x", "1.0", "x 1.0")


def test_the_wheels_own_dist_info_must_agree(tmp_path: Path) -> None:
    impure = wheel_file(tmp_path / "x-1.0-py3-none-any.whl", {}, purelib="false")
    with pytest.raises(sdist.SdistRefused, match="Root-Is-Purelib is not true"):
        sdist.check_wheel(str(impure), "x", "1.0", "x 1.0")
    lying = tmp_path / "lying" / "x-1.0-py3-none-any.whl"
    lying.parent.mkdir()
    with zipfile.ZipFile(lying, "w") as made:
        made.writestr("x-1.0.dist-info/METADATA", "Name: x\nVersion: 6.6.6\n")
        made.writestr("x-1.0.dist-info/WHEEL", "Root-Is-Purelib: true\nTag: py3-none-any\n")
    with pytest.raises(sdist.SdistRefused, match="another project or version"):
        sdist.check_wheel(str(lying), "x", "1.0", "x 1.0")


@pytest.mark.parametrize("version", ["1.0", "1.0.0", "1.0-1", "1.0.post1", "1.0rc1", "1.0-RC1", "1.0c1", "1!2.0",
                                     "v1.0", "1.0.dev0", "1.0-dev", "1.0a", "1.0+Ubuntu-01", "2.0.0.0.1", "0.6.2",
                                     "1.0_post_2", "1.0alpha3.dev4", "not.pep440"])
def test_versions_compare_as_packaging_normalises_them(version: str) -> None:
    try:
        expected = canonicalize_version(version)
    except ValueError:
        expected = version
    assert sdist.canonical_version(version) == expected.lower()


def test_name_and_version_of_an_sdist_file_name() -> None:
    assert sdist.name_version("docopt-0.6.2.tar.gz") == ("docopt", "0.6.2")
    assert sdist.name_version("Zope.Interface-5.0.zip") == ("Zope.Interface", "5.0")
    with pytest.raises(sdist.SdistRefused, match="not a source distribution's file name"):
        sdist.name_version("docopt-0.6.2.tar.bz2")
