"""Wheels an Amazon Linux 2 runtime can load, beyond what uv's platform names reach.

python3.9 to python3.11 run on glibc 2.26. uv knows no manylinux_2_24 or
_2_26 platform, so resolving at manylinux2014 misses wheels such as
``pandas-3.1.1-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl``,
which load there. ``Engine.resolve`` resolves at manylinux_2_28 instead and
asks this module about each wheel uv chose: does it fit the target? If not,
does the same release have a wheel that does (use it), else which is the newest
release that has one (constrain to it and resolve again)? Pure: the index's
file lists are passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from .simpleindex import IndexFile
from .target import RUNTIMES, Target


@lru_cache(maxsize=32)
def supported_tags(target: Target) -> frozenset[Tag]:
    """Every wheel tag the target's interpreter accepts on its image."""
    version = RUNTIMES[target.runtime]
    platforms = list(reversed(target.pip_platforms))  # newest glibc first, as packaging orders them
    tags = set(cpython_tags(version, platforms=platforms))
    tags.update(compatible_tags(version, interpreter=f"cp{version[0]}{version[1]}", platforms=platforms))
    return frozenset(tags)


def fits(filename: str, target: Target) -> bool:
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    return not tags.isdisjoint(supported_tags(target))


def _allows(requires_python: str, target: Target) -> bool:
    if not requires_python:
        return True
    try:
        return SpecifierSet(requires_python).contains(target.python_version + ".0", prereleases=True)
    except InvalidSpecifier:
        return False


def fitting_files(files: Iterable[IndexFile], target: Target) -> dict[Version, list[IndexFile]]:
    """The index's wheels the target loads, by release (yanked files and other Pythons left out)."""
    found: dict[Version, list[IndexFile]] = {}
    for file in files:
        if file.yanked or not file.filename.endswith(".whl") or not _allows(file.requires_python, target):
            continue
        if not fits(file.filename, target):
            continue
        try:
            version = parse_wheel_filename(file.filename)[1]
        except InvalidWheelFilename:
            continue
        found.setdefault(version, []).append(file)
    return found


def same_release(files: Iterable[IndexFile], version: str, target: Target,
                 held: frozenset[str] = frozenset()) -> IndexFile | None:
    """A wheel of this very release that fits, the most specific first (newest glibc the target has); with
    ``held`` (a Lock's sha256s), one of those first."""
    candidates = fitting_files(files, target).get(Version(version), [])
    ranked = sorted(candidates, key=lambda f: (f.sha256 in held, _glibc_of(f.filename, target), f.filename),
                    reverse=True)
    return ranked[0] if ranked else None


def newest_fitting(files: Iterable[IndexFile], target: Target, below: str) -> Version | None:
    """The newest release older than ``below`` with a fitting wheel (final releases first)."""
    limit = Version(below)
    releases = [v for v in fitting_files(files, target) if v < limit]
    finals = [v for v in releases if not v.is_prerelease]
    return max(finals or releases, default=None)


def _glibc_of(filename: str, target: Target) -> tuple[int, int]:
    """The newest manylinux glibc among the wheel's tags the target loads ((0, 0) for pure wheels)."""
    newest = (0, 0)
    for tag in parse_wheel_filename(filename)[3] & supported_tags(target):
        platform = tag.platform
        if platform.startswith("manylinux_"):
            parts = platform.split("_")
            if len(parts) >= 3 and parts[1].isdigit() and parts[2].isdigit():
                newest = max(newest, (int(parts[1]), int(parts[2])))
        elif platform.startswith("manylinux2014"):
            newest = max(newest, (2, 17))
    return newest
