"""What a published layer version holds, read from its archive: a zip file, or a layer version ARN.

The provider writes a PEP 751 lock per runtime into every archive
(``pylayer/<content key>/pylock.python312.toml``, see ``lockfile``): the
packages come from there. Sizes come from each distribution's RECORD (its
``.pyc`` counted with it). An archive from another tool, without locks, is
read from its dist-info folders.
"""

from __future__ import annotations

import re
import shutil
import urllib.request
import zipfile
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name

from .. import lockfile
from ..layerversion import LayerVersion
from .layerdiff import Content, flatten
from .templates import CliError

_DIST_INFO = re.compile(r"^(?P<folder>python(?:/lib/(?P<runtime>python3\.\d+)/site-packages)?)/"
                        r"(?P<name>[^/]+?)-(?P<version>[^/-]+)\.dist-info/RECORD$")
Download = Callable[[str, Path], None]


def is_published(argument: str) -> bool:
    """A layer version ARN or a .zip file: OLD of `pylayer diff` that is not a template."""
    return LayerVersion.parse(argument) is not None or argument.endswith(".zip")


def content_of_archive(path: Path) -> tuple[Content, list[str]]:
    """The archive's content, and the runtimes its locks name (empty: no locks, an archive of another tool)."""
    try:
        layer = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise CliError(f"{path}: not a readable layer archive ({exc}).") from None
    with layer:
        infos = {i.filename: i for i in layer.infolist() if not i.is_dir()}
        per_runtime: dict[str, dict[str, str]] = {}
        for name in sorted(infos):
            runtime = lockfile.runtime_of(name)
            if runtime is not None:
                locked = lockfile.read(layer.read(name).decode("utf-8"))
                per_runtime[runtime] = {canonicalize_name(p.name): p.version for p in locked}
        sizes = _sizes(layer, infos)
    if not per_runtime:
        per_runtime = _from_dist_info(infos)
    unzipped = sum(i.file_size for i in infos.values())
    return Content(flatten(per_runtime), sizes, unzipped, path.stat().st_size), sorted(per_runtime)


def _from_dist_info(infos: Mapping[str, zipfile.ZipInfo]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = defaultdict(dict)
    for name in infos:
        match = _DIST_INFO.match(name)
        if match:
            found[match["runtime"] or "python"][canonicalize_name(match["name"])] = match["version"]
    return dict(found)


def _sizes(layer: zipfile.ZipFile, infos: Mapping[str, zipfile.ZipInfo]) -> dict[str, int]:
    """Unzipped bytes per distribution: the files its RECORD lists, and their bytecode."""
    owner: dict[str, str] = {}
    for name in infos:
        match = _DIST_INFO.match(name)
        if not match:
            continue
        distribution = canonicalize_name(match["name"])
        for line in layer.read(name).decode("utf-8", "replace").splitlines():
            listed = line.rsplit(",", 2)[0].strip('"')
            if listed:
                owner[f"{match['folder']}/{listed}"] = distribution
    sizes: dict[str, int] = defaultdict(int)
    for name, info in infos.items():
        source = _source_of(name)
        if source in owner:
            sizes[owner[source]] += info.file_size
    return dict(sizes)


def _source_of(name: str) -> str:
    """'a/__pycache__/b.cpython-312.pyc' -> 'a/b.py'; any other name as it is."""
    folder, _, file = name.rpartition("/")
    if folder.endswith("/__pycache__") and file.endswith(".pyc"):
        return f"{folder.removesuffix('/__pycache__')}/{file.split('.', 1)[0]}.py"
    return name


def download(url: str, dest: Path) -> None:
    if urlsplit(url).scheme != "https":
        raise CliError("the layer version's location is not an https URL.")
    with urllib.request.urlopen(url, timeout=60) as response, dest.open("wb") as out:  # noqa: S310 - https only
        shutil.copyfileobj(response, out)


def fetch(arn: str, dest: Path, lambda_client: Any = None, fetch_url: Download = download) -> Path:
    """The archive of a published version (GetLayerVersion gives a presigned URL to it)."""
    return fetch_version(arn, dest, lambda_client, fetch_url)[0]


def fetch_version(arn: str, dest: Path, lambda_client: Any = None, fetch_url: Download = download
                  ) -> tuple[Path, dict[str, Any]]:
    """The archive of a published version, and GetLayerVersion's answer (its description, runtimes ...)."""
    version = LayerVersion.parse(arn)
    if version is None:
        raise CliError(f"{arn}: not a layer version ARN.")
    if lambda_client is None:
        import boto3

        lambda_client = boto3.client("lambda", region_name=version.region)
    try:
        answer = lambda_client.get_layer_version(LayerName=version.layer_arn, VersionNumber=version.number)
    except Exception as exc:
        raise CliError(f"{arn}: GetLayerVersion failed: {exc}") from None
    fetch_url(str(answer["Content"]["Location"]), dest)
    return dest, dict(answer)
