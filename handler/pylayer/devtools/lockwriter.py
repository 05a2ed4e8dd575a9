"""The Lock property written into a template in place: only its lines change, so the template keeps its
formatting, comments and short-form intrinsics (YAML and JSON alike). Pure: text in, text out.

Positions come from cfn-lint's decoder, which reads both forms with the line and column of every key and
value. An existing Lock is replaced where it stands; a new one goes right after Requirements, at its
indentation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .templates import CliError


def write(text: str, locks: Mapping[str, Sequence[str]]) -> str:
    """The template with each named resource's Lock set to the given lines."""
    from cfnlint.decode import decode_str

    template, problems = decode_str(text)
    if problems or not isinstance(template, Mapping):
        raise CliError("the template cannot be read to write its locks.")
    is_json = text.lstrip().startswith("{")
    newline = "\r\n" if "\r\n" in text else "\n"
    if not is_json and text and not text.endswith("\n"):
        text += newline  # a Lock inserted at the end starts on a line of its own
    edits = []  # (start offset, end offset, replacement), applied from the last
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    for logical_id, entries in locks.items():
        properties = template.get("Resources", {}).get(logical_id, {}).get("Properties")
        if not isinstance(properties, Mapping):
            raise CliError(f"{logical_id}: no Properties to write a Lock into.")
        keys = {str(k): k for k in properties}
        if "Requirements" not in keys:
            raise CliError(f"{logical_id}: no Requirements to write a Lock after.")
        if is_json:
            edits.append(_json_edit(properties, keys, entries, starts, text))
        else:
            edits.append(_yaml_edit(properties, keys, entries, lines, starts))
    written = text
    for start, end, replacement in sorted(edits, reverse=True):
        written = written[:start] + replacement.replace("\n", newline) + written[end:]
    _check(template, written, locks)
    return written


def _check(before: Any, text: str, locks: Mapping[str, Sequence[str]]) -> None:
    """The written template must read as the one before, plus the Locks: anything else (a flow-style map
    the splice broke, say) is refused rather than written."""
    from cfnlint.decode import decode_str

    from .templates import plain

    after, problems = decode_str(text)
    expected: Any = plain(before)
    for logical_id, entries in locks.items():
        expected["Resources"][logical_id]["Properties"]["Lock"] = list(entries)
    if problems or plain(after) != expected:
        names = ", ".join(locks)
        raise CliError(f"the Lock of {names} could not be written without changing anything else (a flow-style "
                       "Properties map?): write Properties in block style, or add the Lock by hand.")


def _offset(starts: Sequence[int], mark: Any) -> int:
    return starts[int(mark.line)] + int(mark.column)


def _yaml_edit(properties: Mapping[Any, Any], keys: Mapping[str, Any], entries: Sequence[str],
               lines: Sequence[str], starts: Sequence[int]) -> tuple[int, int, str]:
    anchor = keys.get("Lock") or keys["Requirements"]
    indent = anchor.start_mark.column
    first = anchor.start_mark.line
    last = _last_line(properties[anchor], lines, indent)  # exclusive
    block = "".join([" " * indent + "Lock:\n", *(f"{' ' * (indent + 2)}- {_yaml_string(e)}\n" for e in entries)])
    if "Lock" in keys:
        return starts[first], starts[last], block
    return starts[last], starts[last], block


def _last_line(value: Any, lines: Sequence[str], indent: int) -> int:
    """The line after a block value: its end mark, less the blank lines and the comments at the key's
    indentation or less, which belong to what follows (a comment indented under the value, a requirement
    commented out, stays with it)."""
    end_line, end_column = int(value.end_mark.line), int(value.end_mark.column)
    last = end_line if end_line >= len(lines) or not lines[end_line][:end_column].strip() else end_line + 1
    last = min(last, len(lines))
    start = int(value.start_mark.line)
    while last - 1 > start and (not lines[last - 1].strip() or (
            lines[last - 1].lstrip().startswith("#") and _indent(lines[last - 1]) <= indent)):
        last -= 1
    return last


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _yaml_string(entry: str) -> str:
    return "'" + entry.replace("'", "''") + "'"


def _json_edit(properties: Mapping[Any, Any], keys: Mapping[str, Any], entries: Sequence[str],
               starts: Sequence[int], text: str) -> tuple[int, int, str]:
    anchor = keys.get("Lock") or keys["Requirements"]
    indent = anchor.start_mark.column
    value = properties[anchor]
    inner = ",\n".join(" " * (indent + 2) + json.dumps(e) for e in entries)
    array = f"[\n{inner}\n{' ' * indent}]"
    start, end = _offset(starts, value.start_mark), _offset(starts, value.end_mark)
    if "Lock" in keys:
        return start, end, array
    return end, end, f",\n{' ' * indent}\"Lock\": {array}"
