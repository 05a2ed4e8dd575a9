"""Source distributions built here, with an in-tree PEP 517 backend: no setuptools, no network.

The backend (``tree_backend.py`` at the top of the sdist) writes a wheel of
the files it is given; a test adds code to run inside the build (``during``)
to see what the build can see, or to fail, or to smuggle a compiled file in.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

BACKEND = '''
import base64, hashlib, os, zipfile
NAME, VERSION, FILES, TAG = {name!r}, {version!r}, {files!r}, {tag!r}

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = dict(FILES)
{during}
    module = NAME.replace("-", "_")
    info = f"{{module}}-{{VERSION}}.dist-info"
    files[f"{{info}}/METADATA"] = f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n"
    files[f"{{info}}/WHEEL"] = f"Wheel-Version: 1.0\\nGenerator: tree\\nRoot-Is-Purelib: true\\nTag: {{TAG}}\\n"
    record = ""
    for path, text in files.items():
        data = text.encode() if isinstance(text, str) else text
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{{path}},sha256={{digest}},{{len(data)}}\\n"
    files[f"{{info}}/RECORD"] = record + f"{{info}}/RECORD,,\\n"
    filename = f"{{module}}-{{VERSION}}-{{TAG}}.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
    return filename
'''

PYPROJECT = '[build-system]\nrequires = []\nbuild-backend = "tree_backend"\nbackend-path = ["."]\n'


def make_sdist(directory: Path, name: str, version: str, files: dict[str, str], during: str = "",
               tag: str = "py3-none-any") -> Path:
    """name-version.tar.gz whose in-tree backend builds a wheel of ``files`` after running ``during``
    (Python statements, indented into build_wheel; they may change ``files``)."""
    body = "\n".join(f"    {line}" for line in during.strip().splitlines()) if during.strip() else "    pass"
    top = f"{name.replace('-', '_')}-{version}"
    members = {
        f"{top}/pyproject.toml": PYPROJECT,
        f"{top}/tree_backend.py": BACKEND.format(name=name, version=version, files=files, tag=tag, during=body),
        f"{top}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    path = directory / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def tar_gz(path: Path, members: dict[str, bytes]) -> Path:
    """A .tar.gz of exactly these members (no folders added): hostile names welcome."""
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def zip_file(path: Path, members: dict[str, bytes]) -> Path:
    """A .zip of exactly these members."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path
