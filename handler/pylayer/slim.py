"""Optional slimming of a layer: off by default, on with the Slim and
ExcludeRuntimePackages properties.

What it removes is never needed to import a package: test suites, type
stubs, Cython sources, documentation folders that are not packages. It never
strips shared objects or removes a distribution's metadata (both break
imports in ways users only find at run time).
"""

from __future__ import annotations

from collections.abc import Sequence

from .archive import Entry

# The AWS SDK for Python, which every Lambda Python runtime already has. Its
# dependencies (urllib3, python-dateutil, six) stay: other packages often pin
# versions the runtime's copies do not satisfy.
RUNTIME_PACKAGES = frozenset({"boto3", "botocore", "s3transfer", "jmespath"})
_TEST_DIRS = frozenset({"tests"})
_DOC_DIRS = frozenset({"doc", "docs"})
_SOURCE_SUFFIXES = (".pyi", ".pyx", ".pxd")


def _top_level_project(name: str) -> str:
    """'botocore-1.35.0.dist-info' -> 'botocore'; 'botocore' -> 'botocore'."""
    if name.endswith((".dist-info", ".data")):
        return name.split("-", 1)[0].lower().replace("_", "-")
    return name.lower()


def select(entries: Sequence[Entry], slim: bool, exclude_runtime_packages: bool) -> list[Entry]:
    """Entries named inside their folder on sys.path (``numpy/__init__.py``), less what the flags drop."""
    if not (slim or exclude_runtime_packages):
        return list(entries)
    packages = {e.arcname.rsplit("/", 1)[0] for e in entries if e.arcname.endswith("/__init__.py")}
    kept = []
    for entry in entries:
        parts = entry.arcname.split("/")  # <top>/.../<file>
        if exclude_runtime_packages and len(parts) > 1 and _top_level_project(parts[0]) in RUNTIME_PACKAGES:
            continue
        if slim and _slimmed(parts, packages):
            continue
        kept.append(entry)
    return kept


def _slimmed(parts: list[str], packages: set[str]) -> bool:
    directories = parts[:-1]
    if any(d in _TEST_DIRS for d in directories):
        return True
    if parts[-1].endswith(_SOURCE_SUFFIXES):
        return True
    for depth, directory in enumerate(parts[:-1]):
        if directory in _DOC_DIRS and "/".join(parts[: depth + 1]) not in packages:
            return True
    return False
