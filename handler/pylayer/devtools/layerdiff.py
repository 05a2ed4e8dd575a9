"""What a template change does to a layer: package changes and sizes. Pure: measuring is passed in."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .. import archive
from ..errors import ProviderError
from ..properties import LayerSpec, clip
from .templates import TemplateLayer

LOCAL_VERSION = "(layer dir)"
LOCKS = "pylayer/ (PEP 751 locks)"  # the provider's locks, outside python/
_RUNTIME_FOLDER = re.compile(r"^python/lib/(?P<runtime>python3\.\d+)/site-packages/")


_METADATA = re.compile(r"^(?P<name>[^/]+?)-(?P<version>[^/-]+)\.dist-info/METADATA$")


@dataclass(frozen=True)
class PackageSize:
    name: str  # canonical distribution name, or a top-level name of the layer directory
    version: str  # LOCAL_VERSION for the layer directory's files
    size: int  # unzipped bytes in the layer
    runtime: str = ""  # the runtime whose own folder holds it ("" under python/, for every runtime)

    @property
    def label(self) -> str:
        return f"{self.name} [{self.runtime}]" if self.runtime else self.name

    @property
    def local(self) -> bool:
        return self.version == LOCAL_VERSION


def _source_of(arcname: str) -> str:
    """'a/__pycache__/b.cpython-312.pyc' -> 'a/b.py': bytecode counts with its module."""
    folder, _, name = arcname.rpartition("/")
    if folder.endswith("/__pycache__") and name.endswith(".pyc"):
        return f"{folder.removesuffix('/__pycache__')}/{name.split('.', 1)[0]}.py"
    return arcname


def distribution_sizes(entries: Sequence[archive.Entry], local: frozenset[str] = frozenset()) -> list[PackageSize]:
    """Unzipped bytes per distribution (every member of its wheel, wherever it lands, and its bytecode) and
    per top-level name of the layer directory's files; largest first."""
    groups: dict[str, int] = {}
    labels: dict[str, tuple[str, str]] = {}
    runtimes: dict[str, str] = {}
    keys: dict[str, str] = {}
    ordered = sorted(entries, key=lambda e: _source_of(e.arcname) != e.arcname)  # sources before their .pyc
    for entry in ordered:
        source = _source_of(entry.arcname)
        inside = archive.in_folder(entry.arcname)
        top = inside.split("/", 1)[0]
        if source != entry.arcname and source in keys:
            key = keys[source]
        elif entry.arcname in local or source in local:
            key = f"local:{top}"
            labels[key] = (top, LOCAL_VERSION)
        elif entry.member is not None and not entry.arcname.endswith(".pyc"):
            key = f"wheel:{entry.member.wheel}"
            labels.setdefault(key, (entry.member.wheel.name, ""))
            folder = _RUNTIME_FOLDER.match(entry.arcname)
            runtimes.setdefault(key, folder["runtime"] if folder else "")
        elif entry.arcname.startswith("pylayer/"):
            key = "locks"
            labels[key] = (LOCKS, "")
        else:  # files from no wheel (the locks, a folder on disk): grouped by their top folder
            key = f"file:{top}"
            labels.setdefault(key, (top.removesuffix(".py"), ""))
        keys[entry.arcname] = key
        groups[key] = groups.get(key, 0) + entry.size
        metadata = _METADATA.match(inside)
        if metadata and entry.arcname not in local:
            labels[key] = (canonicalize_name(metadata["name"]), metadata["version"])
    rows = [PackageSize(*labels[key], size, runtimes.get(key, "")) for key, size in groups.items()]
    return sorted(rows, key=lambda r: (-r.size, r.name, r.runtime))


@dataclass(frozen=True)
class Content:
    """What one side of a diff puts in its layer."""

    packages: Mapping[str, str]  # canonical name -> version
    sizes: Mapping[str, int]  # canonical name -> unzipped bytes
    unzipped: int
    zipped: int  # the members' compressed sizes: an estimate of the zip (headers are not counted)


def flatten(per_runtime: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Packages by label: the name where every runtime has the same version (or there is one runtime),
    else one 'name [python3.12]' per runtime."""
    versions: dict[str, dict[str, str]] = {}
    for runtime, packages in per_runtime.items():
        for name, version in packages.items():
            versions.setdefault(canonicalize_name(name), {})[runtime] = version
    labels: dict[str, str] = {}
    for name, by_runtime in versions.items():
        if len(set(by_runtime.values())) == 1 and len(by_runtime) == len(per_runtime):
            labels[name] = next(iter(by_runtime.values()))
        else:
            labels.update((f"{name} [{runtime}]", version) for runtime, version in sorted(by_runtime.items()))
    return labels


def content_of(entries: Sequence[archive.Entry], per_runtime: Mapping[str, Mapping[str, str]] | None = None
               ) -> Content:
    """What a layer's entries hold; ``per_runtime`` (runtime -> name -> version) names what each runtime got."""
    rows = [r for r in distribution_sizes(entries) if r.version]
    sizes: dict[str, int] = {}
    for row in rows:
        sizes[row.name] = sizes.get(row.name, 0) + row.size  # a package per runtime: every copy counts
    packages = flatten(per_runtime) if per_runtime is not None else {r.name: r.version for r in rows}
    zipped = sum(e.member.compressed_size if e.member is not None else e.size for e in entries)
    return Content(packages, sizes, sum(e.size for e in entries), zipped)


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


def _size(sizes: Mapping[str, int], label: str) -> int | None:
    return sizes.get(label, sizes.get(label.split(" [", 1)[0]))


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
                                         _size(old_sizes, name), _size(new_sizes, name)))
    return sorted(changes, key=lambda c: (KINDS.index(c.kind), c.name))


@dataclass(frozen=True)
class PropertyChange:
    name: str
    old: str
    new: str


# LayerSpec fields under their property names (a field not listed shows as its own name).
_PROPERTY_NAMES = {"layer_name": "LayerName", "description": "Description", "license_info": "LicenseInfo",
                   "slim": "Slim", "exclude_runtime_packages": "ExcludeRuntimePackages", "share_with": "ShareWith",
                   "bytecode": "Bytecode", "import_check": "ImportCheck"}


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
    values = {"LayerName": spec.layer_name, "CompatibleRuntimes": ", ".join(t.runtime for t in spec.targets),
              "Architecture": spec.architecture}
    for item in fields(spec):
        # Requirements and Lock show as package changes, the same whether a template pins or locks.
        if item.name not in ("layer_name", "requirements", "architecture", "runtimes", "import_auto", "lock"):
            values[_PROPERTY_NAMES.get(item.name, item.name)] = _show(getattr(spec, item.name))
    values["ImportCheck"] = _show(spec.import_check) if spec.import_check else spec.import_mode
    values.update(layer.stood_in)
    return values


def property_changes(old: TemplateLayer, new: TemplateLayer) -> list[PropertyChange]:
    """What changed besides Requirements and Lock (whose effect the package changes show)."""
    before, after = _values(old), _values(new)
    return [PropertyChange(k, before.get(k, "-"), after.get(k, "-")) for k in dict.fromkeys([*before, *after])
            if before.get(k, "-") != after.get(k, "-")]


def unchanged(old: TemplateLayer, new: TemplateLayer) -> bool:
    """Written the same, or read the same by the provider (which then keeps the version it has)."""
    if old.properties == new.properties:
        return True
    return old.spec is not None and (old.spec, old.stood_in) == (new.spec, new.stood_in)


def same_content(old: LayerSpec, new: LayerSpec) -> bool:
    """Same files in the layer: requirements, lock, targets, slimming and bytecode (labels aside)."""
    return (old.requirements, old.lock, old.targets, old.slim, old.exclude_runtime_packages, old.bytecode) == \
        (new.requirements, new.lock, new.targets, new.slim, new.exclude_runtime_packages, new.bytecode)


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
EMPTY_CONTENT = Content({}, {}, 0, 0)


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
            contents[side] = EMPTY_CONTENT
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


def compare_published(new: TemplateLayer, label: str, deployed: Content, runtimes: Sequence[str],
                      measure: Measure) -> LayerDiff:
    """What deploying NEW changes in the version deployed now (its archive's locks): not in what the old
    template would resolve today."""
    note = f"OLD: the published {label}" + (f" ({', '.join(runtimes)})" if runtimes else " (no locks: dist-info)")
    if new.problem or new.spec is None:
        return LayerDiff(new.logical_id, "failed" if new.invalid else "unknown", None, new,
                         notes=(note, f"NEW: {new.problem}"), error=bool(new.invalid))
    try:
        after = measure(new.spec)
    except ProviderError as exc:
        return LayerDiff(new.logical_id, "failed", None, new, notes=(note, f"NEW: {exc.reason}"), error=True)
    packages = tuple(diff_packages(deployed.packages, after.packages, deployed.sizes, after.sizes))
    status = "changed" if packages else "unchanged"
    return LayerDiff(new.logical_id, status, None, new, (), packages, deployed, after, (note,))


def diff_templates(old: Sequence[TemplateLayer], new: Sequence[TemplateLayer], measure: Measure) -> list[LayerDiff]:
    """Layers matched by logical id, sorted by it."""
    before = {layer.logical_id: layer for layer in old}
    after = {layer.logical_id: layer for layer in new}
    return [compare(logical_id, before.get(logical_id), after.get(logical_id), measure)
            for logical_id in sorted(set(before) | set(after))]
