"""Developer commands on the provider's own build engine: ``build``, ``lock`` and ``diff``.

Run from the repository root as ``python -m handler COMMAND`` (handler/__main__.py).
A development tool: it is not part of the Lambda package.

The pure parts (reading layers out of a template, the layer directory's files,
classifying package changes, attributing sizes, formatting) are apart from
the parts that run uv and download wheels (``Engine`` calls, at the end), so
they are unit-tested without a network.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from . import archive, builder, slim, wheels
from .errors import InvalidProperties, ProviderError
from .properties import IGNORED, KNOWN, LAYER_NAME, Defaults, LayerSpec, clip, parse, parse_requirements
from .target import ARCHITECTURES, RUNTIMES

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = ROOT / ".cache" / "pylayer"
RESOURCE_TYPE = "Custom::PythonLayer"
# What an omitted Runtime/Architecture means for a provider deployed from template.yaml.
PROVIDER_DEFAULTS = Defaults("python3.13", "arm64")
REQUIREMENTS_FILE = "requirements.txt"
LOCAL_VERSION = "(layer dir)"

log = logging.getLogger(__name__)


class CliError(Exception):
    """The command cannot run: a bad argument, an unreadable template, a failed git call."""


# --------------------------------------------------------------------------- templates (pure)

# Properties whose value decides what is installed: an intrinsic function there
# makes the layer's content unknowable before the stack is deployed.
_CONTENT_PROPERTIES = ("Requirements", "Runtime", "Architecture", "Slim", "ExcludeRuntimePackages")
# The others only label or share the version: an intrinsic there is left out
# (LayerName, which is required, gets a stand-in), so the layer still resolves.
_LAYER_NAME_STAND_IN = "unresolved"


def intrinsic(value: object) -> str | None:
    """'Fn::If' for {'Fn::If': [...]}, 'Ref' for {'Ref': ...}; None for anything else."""
    if isinstance(value, Mapping) and len(value) == 1:
        key = next(iter(value))
        if isinstance(key, str) and (key == "Ref" or key.startswith("Fn::")):
            return key
    return None


def find_intrinsic(value: object) -> str | None:
    """The first intrinsic function anywhere in value (a list entry, a nested map)."""
    found = intrinsic(value)
    if found:
        return found
    if isinstance(value, Mapping):
        children: list[object] = list(value.values())
    elif isinstance(value, list):
        children = list(value)
    else:
        return None
    for child in children:
        found = find_intrinsic(child)
        if found:
            return found
    return None


def render(value: object) -> str:
    """A short display of a property value: literals as they are, !Ref X, !Sub '...', !If ...."""
    name = intrinsic(value)
    if isinstance(value, list):
        return clip("[" + ", ".join(render(item) for item in value) + "]")
    if name is None or not isinstance(value, Mapping):
        return clip(value if isinstance(value, str) else repr(value))
    short = "!" + name.removeprefix("Fn::")
    argument = value[name]
    if isinstance(argument, str):
        return clip(f"{short} {argument}")
    return f"{short} ..."


def plain(value: object) -> object:
    """cfn-lint's nodes (dict/list/str subclasses carrying line numbers) as plain values."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


@dataclass(frozen=True)
class TemplateLayer:
    """A Custom::PythonLayer resource as written, and the spec the provider would make of it."""

    logical_id: str
    properties: Mapping[str, Any]  # without ServiceToken and ServiceTimeout
    name: str  # LayerName for display (an intrinsic rendered)
    target: str  # "python3.12 arm64" for display
    spec: LayerSpec | None = None
    unresolved: str = ""  # an intrinsic decides the content: known only when deployed
    invalid: str = ""  # the provider's own InvalidProperties reason
    stood_in: tuple[tuple[str, str], ...] = ()  # (property, its intrinsic rendered) left out of the spec

    @property
    def problem(self) -> str:
        if self.unresolved:
            return f"not resolved: {self.unresolved}"
        return f"invalid: {self.invalid}" if self.invalid else ""

    def label(self) -> str:
        return f"{self.logical_id} ({self.name}, {self.target})"


def _target_label(props: Mapping[str, Any], defaults: Defaults) -> str:
    runtime = props.get("Runtime") or defaults.runtime
    architecture = props.get("Architecture") or defaults.architecture
    return f"{render(runtime)} {render(architecture)}"


def layer_from_properties(logical_id: str, raw: object, defaults: Defaults) -> TemplateLayer:
    if intrinsic(raw):
        return TemplateLayer(logical_id, {}, "?", "?", unresolved=f"Properties is {render(raw)}.")
    if not isinstance(raw, Mapping):
        return TemplateLayer(logical_id, {}, "?", "?", invalid="ResourceProperties must be a map of properties.")
    props = {k: v for k, v in raw.items() if k not in IGNORED}
    name = render(props["LayerName"]) if "LayerName" in props else "?"
    target = _target_label(props, defaults)
    # An unknown property is refused whatever the values (the provider checks it first).
    if all(k in KNOWN for k in props):
        for key in _CONTENT_PROPERTIES:
            found = find_intrinsic(props.get(key))
            if found:
                return TemplateLayer(logical_id, props, name, target,
                                     unresolved=f"{key} uses {found}; it is known only when the stack is deployed.")
    stood_in = tuple((k, render(v)) for k, v in props.items() if k in KNOWN and find_intrinsic(v))
    literal = {k: v for k, v in props.items() if k not in dict(stood_in)}
    if "LayerName" in dict(stood_in):
        literal["LayerName"] = _LAYER_NAME_STAND_IN
    try:
        spec = parse(literal, defaults)
    except InvalidProperties as exc:
        return TemplateLayer(logical_id, props, name, target, invalid=exc.reason, stood_in=stood_in)
    return TemplateLayer(logical_id, props, name, spec.target.describe(), spec=spec, stood_in=stood_in)


def read_layers(template: object, defaults: Defaults) -> list[TemplateLayer]:
    """Every Custom::PythonLayer of a decoded template, by logical id."""
    if not isinstance(template, Mapping) or not isinstance(template.get("Resources"), Mapping):
        raise CliError("the template has no Resources section.")
    layers = []
    for logical_id, resource in sorted(template["Resources"].items()):
        if isinstance(resource, Mapping) and resource.get("Type") == RESOURCE_TYPE:
            layers.append(layer_from_properties(str(logical_id), plain(resource.get("Properties", {})), defaults))
    return layers


def decode_template(text: str, origin: str) -> object:
    """YAML (short-form intrinsics included) or JSON, as cfn-lint reads it."""
    from cfnlint.decode import decode_str  # slow to import: only the commands that read templates need it

    template, matches = decode_str(text)
    if matches:
        first = matches[0]
        line = getattr(first, "linenumber", 0)
        raise CliError(f"{origin}: cannot read the template: {first.message}" + (f" (line {line})" if line else ""))
    return template


@dataclass(frozen=True)
class Source:
    """A template on disk, or a file at a git revision (REV:PATH)."""

    path: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"{self.revision}:{self.path}" if self.revision is not None else self.path


def parse_source(argument: str, is_file: Callable[[str], bool] = os.path.isfile) -> Source:
    """A path that exists is a file; otherwise REV:PATH is read with `git show REV:PATH`."""
    if is_file(argument) or ":" not in argument:
        return Source(argument)
    revision, _, path = argument.partition(":")
    if not revision or not path:
        raise CliError(f"{argument}: expected a template path or REV:PATH (e.g. HEAD~1:template.yaml).")
    return Source(path, revision)


def read_source(source: Source) -> str:
    if source.revision is None:
        try:
            return Path(source.path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"{source}: {getattr(exc, 'strerror', None) or exc}.") from None
    try:
        done = subprocess.run(["git", "show", f"{source.revision}:{source.path}"],  # noqa: S603, S607
                              capture_output=True, text=True, timeout=60, check=False)
    except OSError as exc:
        raise CliError(f"{source}: git could not run: {exc.strerror}.") from None
    if done.returncode != 0:
        message = next((line for line in done.stderr.splitlines() if line.strip()), "git show failed")
        raise CliError(f"{source}: {message.removeprefix('fatal: ')}")
    return done.stdout


def load_layers(argument: str, defaults: Defaults) -> tuple[Source, list[TemplateLayer]]:
    source = parse_source(argument)
    return source, read_layers(decode_template(read_source(source), str(source)), defaults)


# --------------------------------------------------------------------------- layer directory (no network)

def ignored(relative: str) -> bool:
    """Dot-names at any depth, __pycache__ and bytecode never go into the layer."""
    return any(part.startswith(".") for part in relative.split("/")) or archive.skipped(relative)


def layer_files(root: Path) -> list[archive.Entry]:
    """The directory's files as entries under python/, sorted; the top requirements.txt is installed, not copied.

    Symbolic links to files are copied as their content; folders behind symbolic links are not followed.
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not ignored(Path(dirpath, d).relative_to(root).as_posix()))
        for name in filenames:
            path = Path(dirpath, name)
            relative = path.relative_to(root).as_posix()
            if relative == REQUIREMENTS_FILE or ignored(relative):
                continue
            info = path.stat()
            if stat.S_ISREG(info.st_mode):
                found.append(archive.Entry(f"python/{relative}", info.st_size, bool(info.st_mode & stat.S_IXUSR),
                                           path=path))
    found.sort(key=lambda e: e.arcname)
    return found


def read_layer_requirements(root: Path) -> tuple[str, ...] | None:
    """The top requirements.txt, as strictly as the resource's Requirements; None without one."""
    path = root / REQUIREMENTS_FILE
    if not path.is_file():
        return None
    try:
        return parse_requirements(path.read_text(encoding="utf-8"))
    except InvalidProperties as exc:
        raise InvalidProperties(f"{path}: {exc.reason}") from None


def merge(installed: Sequence[archive.Entry], local: Sequence[archive.Entry]) -> tuple[list[archive.Entry], list[str]]:
    """One sorted list: a file of the layer directory wins over an installed file at the same path.

    Returns the entries and the installed paths the directory replaced (reported, never silent).
    """
    chosen = {e.arcname: e for e in installed}
    overridden = sorted(e.arcname for e in local if e.arcname in chosen)
    chosen.update((e.arcname, e) for e in local)
    return [chosen[name] for name in sorted(chosen)], overridden


def layer_name_for(directory: Path) -> str:
    """A LayerName for a folder's name (the zip's default file name too)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", directory.resolve().name).strip("-")[:64]
    return name if LAYER_NAME.fullmatch(name) else "layer"


# --------------------------------------------------------------------------- sizes (pure)

_METADATA = re.compile(r"^python/(?P<name>[^/]+?)-(?P<version>[^/-]+)\.dist-info/METADATA$")


@dataclass(frozen=True)
class PackageSize:
    name: str  # canonical distribution name, or a top-level name of the layer directory
    version: str  # LOCAL_VERSION for the layer directory's files
    size: int  # unzipped bytes in the layer

    @property
    def local(self) -> bool:
        return self.version == LOCAL_VERSION


def distribution_sizes(entries: Sequence[archive.Entry], local: frozenset[str] = frozenset()) -> list[PackageSize]:
    """Unzipped bytes per distribution (every member of its wheel, wherever it lands) and per
    top-level name of the layer directory's files; largest first."""
    groups: dict[str, int] = {}
    labels: dict[str, tuple[str, str]] = {}
    for entry in entries:
        top = entry.arcname.split("/")[1] if entry.arcname.count("/") >= 1 else entry.arcname
        if entry.arcname in local:
            key = f"local:{top}"
            labels[key] = (top, LOCAL_VERSION)
        elif entry.member is not None:
            key = f"wheel:{entry.member.wheel}"
            labels.setdefault(key, (entry.member.wheel.name, ""))
        else:  # an installed tree (pip fallback): no wheel to group by
            key = f"file:{top}"
            labels.setdefault(key, (top.removesuffix(".py"), ""))
        groups[key] = groups.get(key, 0) + entry.size
        metadata = _METADATA.match(entry.arcname)
        if metadata and entry.arcname not in local:
            labels[key] = (canonicalize_name(metadata["name"]), metadata["version"])
    rows = [PackageSize(*labels[key], size) for key, size in groups.items()]
    return sorted(rows, key=lambda r: (-r.size, r.name))


@dataclass(frozen=True)
class Content:
    """What one side of a diff puts in its layer."""

    packages: Mapping[str, str]  # canonical name -> version
    sizes: Mapping[str, int]  # canonical name -> unzipped bytes
    unzipped: int
    zipped: int  # the members' compressed sizes: an estimate of the zip (headers are not counted)


def content_of(entries: Sequence[archive.Entry]) -> Content:
    rows = [r for r in distribution_sizes(entries) if r.version]
    zipped = sum(e.member.compressed_size if e.member is not None else e.size for e in entries)
    return Content({r.name: r.version for r in rows}, {r.name: r.size for r in rows},
                   sum(e.size for e in entries), zipped)


# --------------------------------------------------------------------------- diff (pure)

KINDS = ("upgraded", "downgraded", "added", "removed", "changed")


def version_change(old: str, new: str) -> str | None:
    """'upgraded', 'downgraded', 'changed' (not comparable), or None when the same version."""
    if old == new:
        return None
    try:
        before, after = Version(old), Version(new)
    except InvalidVersion:
        return "changed"
    if before == after:
        return None  # 1.0 and 1.0.0 are one version
    return "upgraded" if after > before else "downgraded"


@dataclass(frozen=True)
class PackageChange:
    kind: str  # one of KINDS
    name: str
    old: str | None = None
    new: str | None = None
    old_size: int | None = None
    new_size: int | None = None

    @property
    def size_change(self) -> int | None:
        if self.old_size is None and self.new_size is None:
            return None
        return (self.new_size or 0) - (self.old_size or 0)


def diff_packages(old: Mapping[str, str], new: Mapping[str, str],
                  old_sizes: Mapping[str, int] | None = None,
                  new_sizes: Mapping[str, int] | None = None) -> list[PackageChange]:
    """Packages added, removed, upgraded and downgraded; grouped by kind, then by name."""
    old_sizes, new_sizes = old_sizes or {}, new_sizes or {}
    changes = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            kind: str | None = "added"
        elif name not in new:
            kind = "removed"
        else:
            kind = version_change(old[name], new[name])
        if kind is not None:
            changes.append(PackageChange(kind, name, old.get(name), new.get(name),
                                         old_sizes.get(name), new_sizes.get(name)))
    return sorted(changes, key=lambda c: (KINDS.index(c.kind), c.name))


@dataclass(frozen=True)
class PropertyChange:
    name: str
    old: str
    new: str


# LayerSpec fields under their property names (a field not listed shows as its own name).
_PROPERTY_NAMES = {"layer_name": "LayerName", "compatible_runtimes": "CompatibleRuntimes",
                   "description": "Description", "license_info": "LicenseInfo", "slim": "Slim",
                   "exclude_runtime_packages": "ExcludeRuntimePackages", "share_with": "ShareWith"}


def _show(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value) or "-"
    return clip(str(value)) or "-"


def _values(layer: TemplateLayer) -> dict[str, str]:
    """The published version's settings as the provider reads them; intrinsics as written."""
    if layer.spec is None:
        return {}
    spec = layer.spec
    values = {"LayerName": spec.layer_name, "Runtime": spec.target.runtime,
              "Architecture": spec.target.architecture}
    for item in fields(spec):
        if item.name not in ("layer_name", "requirements", "target"):
            values[_PROPERTY_NAMES.get(item.name, item.name)] = _show(getattr(spec, item.name))
    values.update(layer.stood_in)
    return values


def property_changes(old: TemplateLayer, new: TemplateLayer) -> list[PropertyChange]:
    """What changed besides Requirements (whose effect the package changes show)."""
    before, after = _values(old), _values(new)
    return [PropertyChange(k, before.get(k, "-"), after.get(k, "-")) for k in dict.fromkeys([*before, *after])
            if before.get(k, "-") != after.get(k, "-")]


def unchanged(old: TemplateLayer, new: TemplateLayer) -> bool:
    """Written the same, or read the same by the provider (which then keeps the version it has)."""
    if old.properties == new.properties:
        return True
    return old.spec is not None and (old.spec, old.stood_in) == (new.spec, new.stood_in)


def same_content(old: LayerSpec, new: LayerSpec) -> bool:
    """Same files in the layer: requirements, target and slimming (labels aside)."""
    return (old.requirements, old.target, old.slim, old.exclude_runtime_packages) == \
        (new.requirements, new.target, new.slim, new.exclude_runtime_packages)


@dataclass(frozen=True)
class LayerDiff:
    logical_id: str
    status: str  # added | removed | changed | unchanged | unknown | failed
    old: TemplateLayer | None = None
    new: TemplateLayer | None = None
    properties: tuple[PropertyChange, ...] = ()
    packages: tuple[PackageChange, ...] = ()
    old_content: Content | None = None
    new_content: Content | None = None
    notes: tuple[str, ...] = ()
    error: bool = False  # the NEW side cannot be built

    @property
    def differs(self) -> bool:
        return self.status != "unchanged"

    @property
    def layer(self) -> TemplateLayer:
        """NEW's view of the layer, or OLD's for a removed one."""
        layer = self.new or self.old
        if layer is None:
            raise ValueError(f"{self.logical_id}: a diff of no layer")
        return layer


Measure = Callable[[LayerSpec], Content]
_EMPTY = Content({}, {}, 0, 0)


def compare(logical_id: str, old: TemplateLayer | None, new: TemplateLayer | None, measure: Measure) -> LayerDiff:
    """One layer's change between two templates; measure resolves and sizes a spec (may raise ProviderError)."""
    if old is not None and new is not None and unchanged(old, new):
        return LayerDiff(logical_id, "unchanged", old, new)
    status = "added" if old is None else "removed" if new is None else "changed"
    notes = [f"{side}: {layer.problem}" for side, layer in (("OLD", old), ("NEW", new))
             if layer is not None and layer.problem]
    error = new is not None and bool(new.invalid)
    if notes:
        if status == "changed":
            status = "failed" if error else "unknown"
        return LayerDiff(logical_id, status, old, new, notes=tuple(notes), error=error)
    old_spec = old.spec if old is not None else None
    new_spec = new.spec if new is not None else None
    properties = tuple(property_changes(old, new)) if old and new and old_spec and new_spec else ()
    if old_spec and new_spec and same_content(old_spec, new_spec):
        return LayerDiff(logical_id, status, old, new, properties,
                         notes=("the same packages and files; deploying publishes a new layer version",))
    contents: dict[str, Content] = {}
    for side, spec in (("OLD", old_spec), ("NEW", new_spec)):
        if spec is None:
            contents[side] = _EMPTY
            continue
        try:
            contents[side] = measure(spec)
        except ProviderError as exc:
            notes.append(f"{side}: {exc.reason}")
            error = error or side == "NEW"
    if notes:
        return LayerDiff(logical_id, "failed" if status == "changed" else status, old, new, properties,
                         notes=tuple(notes), error=error)
    before, after = contents["OLD"], contents["NEW"]
    packages = tuple(diff_packages(before.packages, after.packages, before.sizes, after.sizes))
    if status == "changed" and not packages and not properties:
        notes.append("the requirements changed, the resolved packages did not")
    return LayerDiff(logical_id, status, old, new, properties, packages,
                     before if old_spec else None, after if new_spec else None, tuple(notes))


def diff_templates(old: Sequence[TemplateLayer], new: Sequence[TemplateLayer], measure: Measure) -> list[LayerDiff]:
    """Layers matched by logical id, sorted by it."""
    before = {layer.logical_id: layer for layer in old}
    after = {layer.logical_id: layer for layer in new}
    return [compare(logical_id, before.get(logical_id), after.get(logical_id), measure)
            for logical_id in sorted(set(before) | set(after))]


# --------------------------------------------------------------------------- formatting (pure)

def number(value: int) -> str:
    return f"{value:,}"


def human(size: int) -> str:
    """1.2 MB, 34.5 kB, 16 B (decimal units, as Lambda's limits are written)."""
    for unit, scale in (("MB", 1_000_000), ("kB", 1_000)):
        if abs(size) >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def signed_human(delta: int) -> str:
    return ("+" if delta > 0 else "-" if delta < 0 else "") + human(abs(delta))


def share(part: int, total: int) -> str:
    return f"{100 * part / total:.1f}%" if total else "-"


def change(old: int, new: int) -> str:
    delta = new - old
    if not delta:
        return "no change"
    return signed_human(delta) + (f" ({100 * delta / old:+.1f}%)" if old else "")


def text_table(rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset(), indent: str = "") -> list[str]:
    """Columns padded to their widest cell; the columns in `right` right-aligned."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or " "


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]],
                   right: frozenset[int] = frozenset()) -> list[str]:
    rule = ["---:" if i in right else "---" for i in range(len(header))]
    return ["| " + " | ".join(_cell(c) for c in row) + " |" for row in (header, rule, *rows)]


def size_table(rows: Sequence[PackageSize]) -> list[str]:
    """The build's table: package, version, unzipped bytes, share of the layer."""
    total = sum(r.size for r in rows)
    body = [("package", "version", "unzipped", "share")]
    body += [(r.name, r.version or "?", number(r.size), share(r.size, total)) for r in rows]
    return text_table(body, right=frozenset({2, 3}))


def _version(change: PackageChange) -> tuple[str, str]:
    return change.old or "", change.new or ""


def diff_rows(diff: LayerDiff) -> list[tuple[str, str, str, str, str]]:
    """change, name, old, new, size change: properties, packages, then the layer's sizes."""
    rows = [("property", p.name, p.old, p.new, "") for p in diff.properties]
    for package in diff.packages:
        delta = package.size_change
        rows.append((package.kind, package.name, *_version(package), "" if delta is None else signed_human(delta)))
    if diff.old_content is not None or diff.new_content is not None:
        before = diff.old_content or _EMPTY
        after = diff.new_content or _EMPTY
        rows.append(("size", "unzipped", number(before.unzipped), number(after.unzipped),
                     change(before.unzipped, after.unzipped)))
        rows.append(("size", "zip (estimate)", number(before.zipped), number(after.zipped),
                     change(before.zipped, after.zipped)))
    return rows


_SYMBOLS = {"added": "+", "removed": "-", "changed": "~", "unknown": "?", "failed": "!"}


def summary(diffs: Sequence[LayerDiff]) -> str:
    if not diffs:
        return "no Custom::PythonLayer resources on either side"
    counts: dict[str, int] = {}
    for diff in diffs:
        counts[diff.status] = counts.get(diff.status, 0) + 1
    order = ("changed", "added", "removed", "unknown", "failed", "unchanged")
    return ", ".join(f"{counts[s]} {s}" for s in order if s in counts)


_HEADLINES = {"changed": "changed, deploying publishes a new layer version", "added": "added",
              "removed": "removed", "unknown": "changed, not compared", "failed": "cannot be resolved"}


def format_diff(diffs: Sequence[LayerDiff], old: str, new: str, markdown: bool = False) -> str:
    changed = [d for d in diffs if d.differs]
    unchanged = [d.logical_id for d in diffs if not d.differs]
    lines: list[str] = []
    if markdown:
        lines += ["### Custom::PythonLayer changes", "", f"`{old}` → `{new}`: {summary(diffs)}", ""]
    else:
        lines += [f"Custom::PythonLayer changes: {old} -> {new}", summary(diffs), ""]
    for diff in changed:
        rows = diff_rows(diff)
        if markdown:
            layer = diff.layer
            lines.append(f"#### {_SYMBOLS[diff.status]} `{diff.logical_id}` ({layer.name}, {layer.target}): "
                         f"{_HEADLINES[diff.status]}")
            lines.append("")
            lines += [f"> {note}" for note in diff.notes]
            if diff.notes:
                lines.append("")
            if rows:
                lines += markdown_table(("change", "name", "old", "new", "size change"), rows, frozenset({4}))
                lines.append("")
        else:
            lines.append(f"{_SYMBOLS[diff.status]} {diff.layer.label()}: {_HEADLINES[diff.status]}")
            lines += [f"    {note}" for note in diff.notes]
            lines += text_table(rows, right=frozenset({4}), indent="    ")
            lines.append("")
    if unchanged:
        names = ", ".join(f"`{n}`" if markdown else n for n in unchanged)
        lines.append(f"Unchanged: {names}")
    return "\n".join(lines).rstrip() + "\n"


def format_lock(layer: TemplateLayer, resolved: Sequence[wheels.Wheel] | None, failure: str = "") -> list[str]:
    lines = [layer.label()]
    if layer.problem or failure:
        return [*lines, f"  {layer.problem or 'FAILED: ' + failure}"]
    excluded = layer.spec is not None and layer.spec.exclude_runtime_packages
    for wheel in resolved or ():
        note = "  (excluded: ExcludeRuntimePackages)" if excluded and \
            canonicalize_name(wheel.name) in slim.RUNTIME_PACKAGES else ""
        lines.append(f"  {wheel.name}=={wheel.version}{note}")
    return lines


# --------------------------------------------------------------------------- commands (uv, downloads)

@contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pylayer-cli-") as path:
        yield Path(path)


def _engine(cache: Path) -> builder.Engine:
    return builder.Engine(cache.resolve())


def _defaults(args: argparse.Namespace) -> Defaults:
    return Defaults(args.default_runtime, args.default_architecture)


def run_build(args: argparse.Namespace) -> int:
    directory: Path = args.layer_dir
    if not directory.is_dir():
        raise CliError(f"{directory}: not a directory.")
    if (directory / "Makefile").is_file():
        raise CliError(f"{directory} has a Makefile: it is built by `sam build` (BuildMethod: makefile), "
                       "not a layer directory of this command.")
    name = layer_name_for(directory)
    out: Path = args.out or Path("build") / f"{name}.zip"
    requirements = read_layer_requirements(directory)
    local = layer_files(directory)
    with _workdir() as workdir:
        installed: list[archive.Entry] = []
        if requirements is not None:
            spec = parse({"LayerName": name, "Requirements": list(requirements), "Runtime": args.runtime,
                          "Architecture": args.architecture, "Slim": args.slim,
                          "ExcludeRuntimePackages": args.exclude_runtime_packages}, PROVIDER_DEFAULTS)
            installed = _engine(args.cache).entries(spec, workdir)
        entries, overridden = merge(installed, local)
        if not entries:
            raise CliError(f"{directory} has no files and no {REQUIREMENTS_FILE}.")
        for arcname in overridden:
            print(f"warning: {arcname} from {directory} replaces the installed file", file=sys.stderr)
        archive.check_size(entries)
        built = archive.write_zip(entries, workdir / "layer.zip")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(built.path, out)
    rows = distribution_sizes(entries, frozenset(e.arcname for e in local))
    print(f"{directory} -> {out} ({args.runtime} {args.architecture})")
    print()
    print("\n".join(size_table(rows)))
    print()
    print("\n".join(text_table([
        ("zip size", f"{number(built.size)} bytes ({human(built.size)})"),
        ("unzipped size", f"{number(built.unzipped_size)} bytes ({human(built.unzipped_size)}), "
                          f"{built.file_count} files"),
        ("CodeSha256", built.code_sha256),
        ("sha256", built.sha256),
    ])))
    return 0


def run_lock(args: argparse.Namespace) -> int:
    _, layers = load_layers(args.template, _defaults(args))
    if not layers:
        print(f"{args.template}: no {RESOURCE_TYPE} resources")
        return 0
    engine = _engine(args.cache)
    failed = 0
    blocks = []
    with _workdir() as workdir:
        for index, layer in enumerate(layers):
            resolved, failure = None, ""
            if layer.spec is not None:
                folder = workdir / str(index)
                folder.mkdir()
                try:
                    resolved = engine.resolve(layer.spec, folder)
                except ProviderError as exc:
                    failure = exc.reason
            failed += bool(layer.invalid or failure)
            blocks.append("\n".join(format_lock(layer, resolved, failure)))
            print(blocks[-1] + "\n", flush=True)
    if failed:
        print(f"{failed} of {len(layers)} layers cannot be built", file=sys.stderr)
    return 1 if failed else 0


class Measurer:
    """Resolve, fetch and size a spec with the engine; each distinct content once per run."""

    def __init__(self, engine: builder.Engine, workdir: Path) -> None:
        self.engine = engine
        self.workdir = workdir
        self.done: dict[tuple[object, ...], Content] = {}

    def __call__(self, spec: LayerSpec) -> Content:
        key = (spec.requirements, spec.target, spec.slim, spec.exclude_runtime_packages)
        if key not in self.done:
            folder = Path(tempfile.mkdtemp(dir=self.workdir))
            chosen = self.engine.resolve(spec, folder)
            entries = wheels.entries(self.engine.fetch(chosen))
            self.done[key] = content_of(slim.select(entries, spec.slim, spec.exclude_runtime_packages))
        return self.done[key]


def run_diff(args: argparse.Namespace) -> int:
    defaults = _defaults(args)
    old_source, old_layers = load_layers(args.old, defaults)
    new_source, new_layers = load_layers(args.new, defaults)
    with _workdir() as workdir:
        diffs = diff_templates(old_layers, new_layers, Measurer(_engine(args.cache), workdir))
    print(format_diff(diffs, str(old_source), str(new_source), markdown=args.format == "markdown"), end="")
    if any(d.error for d in diffs):
        print("error: a layer of NEW cannot be built", file=sys.stderr)
        return 2
    return 1 if args.fail_on_change and any(d.differs for d in diffs) else 0


# --------------------------------------------------------------------------- arguments

def _target_options(parser: argparse.ArgumentParser, prefix: str) -> None:
    parser.add_argument(f"--{prefix}runtime", choices=list(RUNTIMES), default=PROVIDER_DEFAULTS.runtime,
                        help="runtime of a layer that does not name one (default: %(default)s, the provider's)"
                        if prefix else "target runtime (default: %(default)s)")
    parser.add_argument(f"--{prefix}architecture", choices=list(ARCHITECTURES),
                        default=PROVIDER_DEFAULTS.architecture,
                        help="architecture of a layer that does not name one (default: %(default)s)"
                        if prefix else "target architecture (default: %(default)s)")


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(
        prog="python -m handler",
        description="Build, lock and diff Python layers with the Custom::PythonLayer provider's own engine.")
    main_parser.add_argument("-v", "--verbose", action="store_true", help="log what the engine does")
    commands = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cache: dict[str, Any] = {"type": Path, "default": DEFAULT_CACHE, "metavar": "DIR",
                             "help": "uv and wheel cache (default: .cache/pylayer in the repository)"}

    build = commands.add_parser("build", help="build a layer directory into a zip",
                                description="Zip a layer directory: its files under python/, its "
                                            "requirements.txt installed as the provider installs them.")
    build.add_argument("layer_dir", type=Path, metavar="LAYER_DIR")
    _target_options(build, "")
    build.add_argument("--out", type=Path, help="the zip (default: build/NAME.zip)")
    build.add_argument("--slim", action="store_true", help="as the Slim property (installed packages only)")
    build.add_argument("--exclude-runtime-packages", action="store_true",
                       help="as the ExcludeRuntimePackages property")
    build.add_argument("--cache", **cache)
    build.set_defaults(run=run_build)

    lock = commands.add_parser("lock", help="resolve every Custom::PythonLayer of a template",
                               description="Print the packages each Custom::PythonLayer of a template "
                                           "resolves to for its target (nothing is downloaded).")
    lock.add_argument("template", metavar="TEMPLATE")
    _target_options(lock, "default-")
    lock.add_argument("--cache", **cache)
    lock.set_defaults(run=run_lock)

    diff = commands.add_parser("diff", help="compare the layers of two templates",
                               description="Packages added, removed, upgraded and downgraded, and the size "
                                           "change, of each Custom::PythonLayer between two templates. "
                                           "OLD and NEW are paths or REV:PATH (read with git show).")
    diff.add_argument("old", metavar="OLD")
    diff.add_argument("new", metavar="NEW")
    _target_options(diff, "default-")
    diff.add_argument("--format", choices=("text", "markdown"), default="text")
    diff.add_argument("--fail-on-change", action="store_true", help="exit 1 when any layer differs")
    diff.add_argument("--cache", **cache)
    diff.set_defaults(run=run_diff)
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s",
                        stream=sys.stderr)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ProviderError as exc:
        print(f"error: {exc.reason}", file=sys.stderr)
        return 1
