"""Reproducible, unchecked-hash bytecode (PEP 552) for the interpreter running this code.

A layer is immutable, so its ``.pyc`` never need checking against the source:
UNCHECKED_HASH files are loaded without reading the ``.py`` at all. Each
``co_filename`` is the path the file will have in Lambda (``/opt/python/...``)
so tracebacks name real files.

marshal marks an object FLAG_REF when its reference count is above one. In a
compile child nothing but the module's own code holds the objects it
marshals: interned names are flagged whatever their count (since 3.8), and the
shared singletons (small ints, the empty tuple) always have other references.
So the bytes depend on the source alone, not on what the child compiled
before: tests/unit/test_worker_pyc.py checks that on every local interpreter,
with real modules compiled in different orders and groupings. (An earlier
release rewrote the flags after marshal; that cost a fifth of the compile
time and changed nothing.)
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import zipfile
import zlib
from typing import Any

# What py_compile uses to write a hash-based .pyc (private, but in every CPython since 3.7).
_code_to_hash_pyc = importlib.import_module("importlib._bootstrap_external")._code_to_hash_pyc

HEADER = 16


def compile_source(source: bytes, dfile: str) -> bytes:
    """The .pyc bytes of one module; raises SyntaxError (or ValueError) as compile() does."""
    code = compile(source, dfile, "exec", dont_inherit=True)
    return bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source), False))


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
