"""`pylayer inspect`: what a layer archive holds, read from the archive alone (and, for a published version,
its description's marker). Pure: a zip path (and GetLayerVersion's answer) in, a LayerInfo out.

Per runtime: the packages (from the provider's PEP 751 locks, else the dist-info folders), the bytecode
(the runtime's .pyc against its modules) and what Lambda puts on sys.path for a layer (the runtime's own
folder first, then python/).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from .. import identity, lockfile
from ..target import RUNTIMES
from .published import content_of_archive
from .report import human, number, text_table
from .templates import CliError

_RUNTIME_FOLDER = re.compile(r"^python/lib/(?P<runtime>python3\.\d+)/site-packages/")
_DIST_INFO = re.compile(r"^python(?:/lib/(?P<runtime>python3\.\d+)/site-packages)?/"
                        r"(?P<name>[^/]+?)-(?P<version>[^/-]+)\.dist-info/METADATA$")


@dataclass(frozen=True)
class RuntimeView:
    runtime: str
    packages: dict[str, str]  # canonical name -> version
    modules: int  # .py files this runtime imports from the layer (test suites included)
    compiled: int  # of them, those with this runtime's .pyc
    sys_path: list[str]  # Lambda's entries for the layer, in order, with whether the archive has that folder


@dataclass(frozen=True)
class LayerInfo:
    source: str
    zip_size: int  # the zip file's bytes
    unzipped_size: int
    files: int
    runtimes: list[RuntimeView]
    sizes: dict[str, int]  # canonical name -> unzipped bytes (its bytecode included)
    locks: list[str]  # the provider's PEP 751 locks in the archive
    marker: dict[str, Any] | None = None  # a published version's marker: bytecode and proof letters decoded
    version: dict[str, Any] = field(default_factory=dict)  # GetLayerVersion: arn, description, runtimes ...

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def read(path: Path, source: str, version: Mapping[str, Any] | None = None) -> LayerInfo:
    """The archive at path; ``version`` is GetLayerVersion's answer for a published one."""
    content, _ = content_of_archive(path)
    with zipfile.ZipFile(path) as layer:
        names = [i.filename for i in layer.infolist() if not i.is_dir()]
        per_runtime = _packages(layer, names)
    runtimes = [_view(runtime, packages, names) for runtime, packages in sorted(per_runtime.items(), key=_order)]
    details: dict[str, Any] = {}
    marker = None
    if version is not None:
        description = str(version.get("Description") or "")
        details = {"arn": version.get("LayerVersionArn"), "description": description,
                   "compatible_runtimes": list(version.get("CompatibleRuntimes") or []),
                   "compatible_architectures": list(version.get("CompatibleArchitectures") or []),
                   "code_sha256": (version.get("Content") or {}).get("CodeSha256")}
        found = identity.read_marker(description)
        if found is not None:
            marker = {"version_key": found.version, "owner_key": found.owner, "unzipped_size": found.unzipped_size,
                      "bytecode": found.bytecode or "unknown", "proof": found.proof or "unknown"}
    locks = sorted(n for n in names if lockfile.runtime_of(n))
    return LayerInfo(source, content.zipped, content.unzipped, len(names), runtimes,
                     dict(sorted(content.sizes.items())), locks, marker, details)


def _order(item: tuple[str, object]) -> tuple[int, ...]:
    runtime = item[0]
    return RUNTIMES.get(runtime, (0, 0))


def _packages(layer: zipfile.ZipFile, names: Sequence[str]) -> dict[str, dict[str, str]]:
    """runtime -> packages: the locks where the provider wrote them, else the dist-info folders (an archive of
    another tool: packages under python/ count for every runtime the archive's folders name)."""
    found: dict[str, dict[str, str]] = {}
    for name in names:
        runtime = lockfile.runtime_of(name)
        if runtime is not None:
            found[runtime] = {canonicalize_name(p.name): p.version
                              for p in lockfile.read(layer.read(name).decode("utf-8"))}
    if found:
        return found
    shared: dict[str, str] = {}
    own: dict[str, dict[str, str]] = {}
    for name in names:
        match = _DIST_INFO.match(name)
        if match:
            target = own.setdefault(match["runtime"], {}) if match["runtime"] else shared
            target[canonicalize_name(match["name"])] = match["version"]
    if not own:
        return {"any": shared} if shared else {}
    return {runtime: {**shared, **packages} for runtime, packages in own.items()}


def _view(runtime: str, packages: Mapping[str, str], names: Sequence[str]) -> RuntimeView:
    own = f"python/lib/{runtime}/site-packages/"
    visible = [n for n in names if n.startswith(own) or (n.startswith("python/") and not n.startswith("python/lib/"))]
    modules = [n for n in visible if n.endswith(".py")]
    tag = f"cpython-{''.join(runtime.removeprefix('python').split('.'))}"
    compiled = {f"{n.rsplit('/__pycache__/', 1)[0]}/{n.rsplit('/', 1)[1].split('.', 1)[0]}.py"
                for n in visible if n.endswith(f".{tag}.pyc") and "/__pycache__/" in n}
    sys_path = []
    if runtime in RUNTIMES:
        has_own = any(n.startswith(own) for n in names)
        sys_path.append(f"/opt/{own.rstrip('/')}" + ("" if has_own else " (not in this layer)"))
    has_shared = any(n.startswith("python/") and not n.startswith("python/lib/") for n in names)
    sys_path.append("/opt/python" + ("" if has_shared else " (not in this layer)"))
    return RuntimeView(runtime, dict(sorted(packages.items())), len(modules), sum(1 for m in modules if m in compiled),
                       sys_path)


def format_text(info: LayerInfo) -> list[str]:
    lines = [info.source]
    if info.version:
        lines.append(f"  version        {info.version.get('arn')}")
        lines.append(f"  compatible     {', '.join(info.version.get('compatible_runtimes') or [])} "
                     f"{', '.join(info.version.get('compatible_architectures') or [])}".rstrip())
    if info.marker is not None:
        lines.append(f"  marker         bytecode {info.marker['bytecode']}, proof {info.marker['proof']}, "
                     f"version key {info.marker['version_key']}")
    elif info.version:
        lines.append("  marker         none: not published by the provider")
    lines.append(f"  size           {human(info.zip_size)} zip, {human(info.unzipped_size)} unzipped, "
                 f"{number(info.files)} files")
    for view in info.runtimes:
        lines.append("")
        lines.append(f"  {view.runtime}: {len(view.packages)} packages, bytecode for {view.compiled} of "
                     f"{view.modules} modules")
        lines.append(f"    sys.path     {', '.join(view.sys_path)}")
        rows = [(name, version, number(info.sizes.get(name, 0))) for name, version in view.packages.items()]
        lines += text_table(rows, right=frozenset({2}), indent="    ")
    if not info.runtimes:
        lines.append("  no Python packages found (no locks, no dist-info folders)")
    if info.locks:
        lines.append("")
        lines += [f"  lock           {name}" for name in info.locks]
    return lines


def check_zip(path: Path) -> Path:
    if not path.is_file():
        raise CliError(f"{path}: no such file.")
    return path
