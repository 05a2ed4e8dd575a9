"""Reproducible, unchecked-hash bytecode (PEP 552) for the interpreter running this code.

A layer is immutable, so its ``.pyc`` never need checking against the source:
UNCHECKED_HASH files are loaded without reading the ``.py`` at all. Each
``co_filename`` is the path the file will have in Lambda (``/opt/python/...``)
so tracebacks name real files.

marshal marks an object FLAG_REF whenever its reference count is above one
when it is written, which depends on what else the compiling process holds
(interned names shared with earlier files, say). The same source can so give
different bytes in different processes. ``normalize`` clears the flag on
every object no back-reference uses and renumbers the back-references, the way
reproducible-builds tools do (Fedora's marshalparser): what is left depends on
the code alone.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import marshal
import os
import struct
import sys
import zipfile
import zlib
from typing import Any

# What py_compile uses to write a hash-based .pyc (private, but in every CPython since 3.7).
_code_to_hash_pyc = importlib.import_module("importlib._bootstrap_external")._code_to_hash_pyc

HEADER = 16
FLAG_REF = 0x80
_FIXED = {ord(c): n for c, n in (("i", 4), ("I", 8), ("g", 8), ("y", 16), ("r", 4))}
_EMPTY = frozenset(ord(c) for c in "0NFTS.")
_SIZED_LONG = frozenset(ord(c) for c in "stuaA")  # 4-byte length, then bytes
_SIZED_SHORT = frozenset(ord(c) for c in "zZ")  # 1-byte length, then bytes
_SEQUENCE_LONG = frozenset(ord(c) for c in "([<>")  # 4-byte count, then objects
TYPE_SMALL_TUPLE, TYPE_DICT, TYPE_CODE, TYPE_REF = ord(")"), ord("{"), ord("c"), ord("r")
TYPE_FLOAT, TYPE_COMPLEX, TYPE_LONG, TYPE_SLICE, TYPE_NULL = ord("f"), ord("x"), ord("l"), ord(":"), ord("0")


class Unparsable(ValueError):
    """Bytes this reader does not know how to walk (a newer marshal format)."""


def compile_source(source: bytes, dfile: str) -> bytes:
    """The .pyc bytes of one module; raises SyntaxError (or ValueError) as compile() does."""
    code = compile(source, dfile, "exec", dont_inherit=True)
    data = _code_to_hash_pyc(code, importlib.util.source_hash(source), False)
    return normalize(bytes(data))


def normalize(pyc: bytes) -> bytes:
    """The same .pyc with FLAG_REF only where a back-reference needs it; unchanged if unreadable."""
    try:
        flagged, refs = _walk(pyc)
        out = _rewrite(pyc, flagged, refs)
        # Never trust the rewrite blindly: it must load as the very same code.
        if marshal.loads(out[HEADER:]) != marshal.loads(pyc[HEADER:]):  # noqa: S302 - bytes we just made
            return pyc
        return out
    except (Unparsable, ValueError, EOFError, IndexError, struct.error):
        return pyc


def _walk(data: bytes) -> tuple[list[int], list[tuple[int, int]]]:
    """Positions of every FLAG_REF type byte (in ref-index order) and of every TYPE_REF (position, index)."""
    flagged: list[int] = []
    refs: list[tuple[int, int]] = []
    code_fields = _code_fields()

    def obj(pos: int) -> int:
        kind = data[pos]
        if kind & FLAG_REF:
            flagged.append(pos)
        kind &= ~FLAG_REF
        pos += 1
        if kind in _EMPTY:
            return pos
        if kind == TYPE_REF:
            refs.append((pos - 1, _int(data, pos)))
            return pos + 4
        if kind in _FIXED:
            return pos + _FIXED[kind]
        if kind == TYPE_FLOAT:
            return pos + 1 + data[pos]
        if kind == TYPE_COMPLEX:
            pos += 1 + data[pos]
            return pos + 1 + data[pos]
        if kind == TYPE_LONG:
            return pos + 4 + 2 * abs(_int(data, pos))
        if kind in _SIZED_LONG:
            return pos + 4 + _int(data, pos)
        if kind in _SIZED_SHORT:
            return pos + 1 + data[pos]
        if kind in _SEQUENCE_LONG or kind == TYPE_SMALL_TUPLE:
            if kind == TYPE_SMALL_TUPLE:
                count, pos = data[pos], pos + 1
            else:
                count, pos = _int(data, pos), pos + 4
            for _ in range(count):
                pos = obj(pos)
            return pos
        if kind == TYPE_DICT:
            while data[pos] != TYPE_NULL:
                pos = obj(obj(pos))
            return pos + 1
        if kind == TYPE_SLICE:  # 3.14: slice constants
            return obj(obj(obj(pos)))
        if kind == TYPE_CODE:
            for field in code_fields:
                pos = pos + 4 if field == "long" else obj(pos)
            return pos
        raise Unparsable(f"marshal type {chr(kind)!r} at {pos - 1}")

    end = obj(HEADER)
    if end != len(data):
        raise Unparsable("trailing bytes")
    return flagged, refs


def _int(data: bytes, pos: int) -> int:
    value: int = struct.unpack_from("<i", data, pos)[0]
    return value


def _code_fields() -> tuple[str, ...]:
    """The order marshal writes a code object's fields in, for this interpreter."""
    if sys.version_info >= (3, 11):
        return ("long",) * 5 + ("object",) * 8 + ("long",) + ("object",) * 2
    return ("long",) * 6 + ("object",) * 8 + ("long",) + ("object",)


def _rewrite(data: bytes, flagged: list[int], refs: list[tuple[int, int]]) -> bytes:
    used = sorted({index for _, index in refs})
    renumber = {old: new for new, old in enumerate(used)}
    keep = {flagged[i] for i in used}
    out = bytearray(data)
    for pos in flagged:
        if pos not in keep:
            out[pos] &= ~FLAG_REF & 0xFF
    for pos, index in refs:
        struct.pack_into("<i", out, pos + 1, renumber[index])
    return bytes(out)


def cache_path(source_path: str) -> str:
    """Where this interpreter looks for a module's bytecode (``__pycache__/m.cpython-312.pyc``)."""
    return importlib.util.cache_from_source(source_path, optimization="")


def compile_files(items: list[list[str]], parts: str = "", archive: str = "") -> dict[str, Any]:
    """Compile [source path, co_filename, .pyc path] triples; the count and the files that did not compile.

    With ``archive``, each source path is a member of that zip, read from it (nothing extracted first).
    With ``parts``, each .pyc is also deflated (raw, level 1) into that file, so that compressing runs in
    the compile children, in parallel: ``deflated`` lists [.pyc path, crc32, size, offset, compressed size].
    """
    if sys.version_info < (3, 11) and os.environ.get("PYTHONHASHSEED") != "0":
        # Before 3.11 marshal writes a frozenset constant in hash order: the seed would be in the bytes.
        raise RuntimeError("reproducible bytecode for Python < 3.11 needs PYTHONHASHSEED=0")
    compiled = 0
    failed: list[list[str]] = []
    deflated: list[list[Any]] = []
    sink = open(parts, "wb") if parts else None  # noqa: SIM115 - closed below
    zipped = zipfile.ZipFile(archive) if archive else None
    try:
        for source_path, dfile, target in items:
            if zipped is not None:
                source = zipped.read(source_path)
            else:
                with open(source_path, "rb") as handle:
                    source = handle.read()
            try:
                data = compile_source(source, dfile)
            except (SyntaxError, ValueError) as exc:  # as compileall: a module this version cannot compile
                failed.append([dfile, f"{type(exc).__name__}: {exc}"[:200]])
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(data)
            compiled += 1
            if sink is not None:
                # Level 1: a quarter of level 6's time for ~10% more bytes (.pyc are a small part of a layer).
                packer = zlib.compressobj(1, zlib.DEFLATED, -15)
                packed = packer.compress(data) + packer.flush()
                deflated.append([target, zlib.crc32(data), len(data), sink.tell(), len(packed)])
                sink.write(packed)
    finally:
        if sink is not None:
            sink.close()
        if zipped is not None:
            zipped.close()
    return {"compiled": compiled, "failed": failed, "deflated": deflated}


def compile_folder(root: str, prefix: str) -> dict[str, Any]:
    """Bytecode beside every module under root, as if root were at prefix (/opt/python, /var/task)."""
    items = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(".py"):
                source = os.path.join(directory, name)
                relative = os.path.relpath(source, root).replace(os.sep, "/")
                items.append([source, f"{prefix.rstrip('/')}/{relative}", cache_path(source)])
    return compile_files(items)


def main() -> None:
    """A compile child: triples (or {"items": triples, "parts": path}) as JSON on stdin, the result on stdout.

    Run as a script, ``python -S pyc.py FOLDER PREFIX`` compiles a folder in place (the provider's own
    function and layer, at ``sam build``).
    """
    if len(sys.argv) == 3:
        result = compile_folder(sys.argv[1], sys.argv[2])
        print(f"bytecode for python{sys.version_info[0]}.{sys.version_info[1]}: {result['compiled']} modules",
              file=sys.stderr)
        for dfile, error in result["failed"]:
            print(f"  not compiled: {dfile}: {error}", file=sys.stderr)
        return
    work = json.load(sys.stdin)
    if isinstance(work, list):  # triples alone
        json.dump(compile_files(work), sys.stdout)
    else:
        json.dump(compile_files(work["items"], work.get("parts") or "", work.get("archive") or ""), sys.stdout)


if __name__ == "__main__":
    main()
