"""Tables and reports of the developer commands, as text or markdown. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from packaging.utils import canonicalize_name

from .. import slim, wheels
from ..target import Target
from .layerdiff import EMPTY_CONTENT, LOCKS, LayerDiff, PackageChange, PackageSize
from .templates import TemplateLayer


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
    body += [(r.label, r.version or ("-" if r.name == LOCKS else "?"), number(r.size), share(r.size, total))
             for r in rows]
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
        before = diff.old_content or EMPTY_CONTENT
        after = diff.new_content or EMPTY_CONTENT
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


def format_lock(layer: TemplateLayer, resolved: Mapping[Target, Sequence[wheels.Wheel]] | None,
                failure: str = "") -> list[str]:
    """name==version per package; a layer of several runtimes lists each runtime's packages under it."""
    lines = [layer.label()]
    if layer.problem or failure:
        return [*lines, f"  {layer.problem or 'FAILED: ' + failure}"]
    excluded = layer.spec is not None and layer.spec.exclude_runtime_packages
    several = len(resolved or {}) > 1
    for target, chosen in (resolved or {}).items():
        if several:
            lines.append(f"  {target.runtime}:")
        for wheel in chosen:
            note = "  (excluded: ExcludeRuntimePackages)" if excluded and \
                canonicalize_name(wheel.name) in slim.RUNTIME_PACKAGES else ""
            lines.append(f"{'    ' if several else '  '}{wheel.name}=={wheel.version}{note}")
    return lines
