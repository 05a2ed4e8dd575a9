"""The ``Lock`` property: a layer's resolved set, written into the template by ``pylayer lock --write`` and
obeyed by the provider. Pure.

One string per entry, each a requirements-file line as pip's and uv's hash-checking modes read them,
after a header that says what the lock was made from:

    # pylayer lock: python3.11 python3.12 x86_64, requirements 3f2a9c1b0d4e5f67
    numpy==2.2.6 ; python_version == "3.11" --hash=sha256:<64 hex>
    numpy==2.3.1 ; python_version == "3.12" --hash=sha256:<64 hex>
    pandas==2.2.3 --hash=sha256:<64 hex> --hash=sha256:<64 hex>

A distribution and version has one line, with the sha256 of the wheel each runtime chose for it
(one per runtime that chose a different file) and a marker only when not every runtime of the layer chose
it. The header's digest covers what decides the resolution (Requirements, the runtimes, the
architecture): a change to any of them makes the lock stale, and a stale lock is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .errors import LockMismatch
from .target import RUNTIMES

MAX_LINES = 500
MAX_LINE = 6000  # a distribution with ~70 wheels' hashes
_HEADER = re.compile(r"# pylayer lock: (?P<runtimes>python3\.\d+(?: python3\.\d+)*) (?P<architecture>x86_64|arm64), "
                     r"requirements (?P<digest>[0-9a-f]{16})")
_LINE = re.compile(r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)==(?P<version>[A-Za-z0-9.+!_-]+)"
                   r"(?: ; (?P<marker>python_version == \"3\.\d+\"(?: or python_version == \"3\.\d+\")*))?"
                   r"(?P<hashes>(?: --hash=sha256:[0-9a-f]{64})+)")
_VERSION = re.compile(r'python_version == "(3\.\d+)"')
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


class LockSyntax(ValueError):
    """An entry of the Lock property that is not what ``pylayer lock --write`` writes."""


@dataclass(frozen=True)
class Locked:
    """One distribution and version: the runtimes it serves (all of the lock's, when not marked)."""

    name: str  # canonical
    version: str
    runtimes: tuple[str, ...]
    hashes: frozenset[str]

    def line(self, every: Sequence[str]) -> str:
        marker = "" if set(self.runtimes) == set(every) else f" ; {marker_for(self.runtimes)}"
        hashes = "".join(f" --hash=sha256:{h}" for h in sorted(self.hashes))
        return f"{self.name}=={self.version}{marker}{hashes}"


@dataclass(frozen=True)
class Lock:
    runtimes: tuple[str, ...]  # sorted as the header lists them
    architecture: str
    digest: str  # of the inputs it was made from (``inputs_digest``)
    packages: tuple[Locked, ...]

    def lines(self) -> list[str]:
        header = (f"# pylayer lock: {' '.join(self.runtimes)} {self.architecture}, "
                  f"requirements {self.digest}")
        return [header, *(p.line(self.runtimes) for p in self.packages)]

    def for_runtime(self, runtime: str) -> dict[str, Locked]:
        return {p.name: p for p in self.packages if runtime in p.runtimes}


class Chosen(Protocol):
    """A wheel the resolution chose (``wheels.Wheel``)."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def filename(self) -> str: ...


def inputs_digest(requirements: Iterable[str], runtimes: Iterable[str], architecture: str) -> str:
    """What decides the resolution, as a short digest: a name written in another case or spelling
    (PyYAML, pyyaml) is the same requirement."""
    named = sorted((_canonical(r) for r in requirements), key=str.lower)
    text = json.dumps({"requirements": named, "runtimes": sorted(runtimes),
                       "architecture": architecture}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _canonical(text: str) -> str:
    requirement = Requirement(text)
    written = str(requirement)
    return canonicalize_name(requirement.name) + written[len(requirement.name):]


def marker_for(runtimes: Iterable[str]) -> str:
    return " or ".join(f'python_version == "{r.removeprefix("python")}"' for r in sorted(runtimes, key=_order))


def _order(runtime: str) -> tuple[int, ...]:
    return tuple(int(part) for part in runtime.removeprefix("python").split("."))


def make(requirements: Iterable[str], architecture: str, chosen: Mapping[str, Sequence[Chosen]]) -> Lock:
    """The lock of a resolution: ``chosen`` maps each runtime to the wheels it chose."""
    runtimes = tuple(sorted(chosen, key=_order))
    found: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    for runtime, wheels in chosen.items():
        for wheel in wheels:
            key = (canonicalize_name(wheel.name), wheel.version)
            serving, hashes = found.setdefault(key, (set(), set()))
            serving.add(runtime)
            hashes.add(wheel.sha256)
    packages = tuple(Locked(name, version, tuple(sorted(serving, key=_order)), frozenset(hashes))
                     for (name, version), (serving, hashes) in sorted(found.items()))
    return Lock(runtimes, architecture, inputs_digest(requirements, runtimes, architecture), packages)


def parse(lines: Sequence[str]) -> Lock:
    """The Lock property's entries; raises LockSyntax with a short reason."""
    entries = [line.strip() for line in lines if line.strip()]
    if not entries:
        raise LockSyntax("Lock is empty: remove it, or run pylayer lock --write.")
    if len(entries) > MAX_LINES:
        raise LockSyntax(f"Lock holds {len(entries)} entries; the limit is {MAX_LINES}.")
    if max(len(entry) for entry in entries) > MAX_LINE:
        raise LockSyntax(f"Lock holds an entry over {MAX_LINE} characters.")
    header = _HEADER.fullmatch(entries[0])
    if header is None:
        raise LockSyntax("Lock must start with the line pylayer lock --write writes (# pylayer lock: ...).")
    runtimes = tuple(header["runtimes"].split())
    unknown = [r for r in runtimes if r not in RUNTIMES]
    if unknown:
        raise LockSyntax(f"Lock names a runtime the provider does not serve: {unknown[0]}.")
    packages = []
    seen: set[tuple[str, str]] = set()
    for entry in entries[1:]:
        match = _LINE.fullmatch(entry)
        if match is None:
            raise LockSyntax(f"Lock: {entry[:80]!r} is not a line pylayer lock --write writes "
                             "(name==version [; markers] --hash=sha256:...).")
        name = canonicalize_name(match["name"])
        try:
            Version(match["version"])
        except InvalidVersion:
            raise LockSyntax(f"Lock: {name}=={match['version'][:40]} is not a PEP 440 version.") from None
        serving = tuple(f"python{v}" for v in _VERSION.findall(match["marker"] or "")) or runtimes
        if not set(serving) <= set(runtimes) or (name, match["version"]) in seen:
            raise LockSyntax(f"Lock: {name}=={match['version']} names a runtime the lock is not for, or twice.")
        seen.add((name, match["version"]))
        packages.append(Locked(name, match["version"], serving, frozenset(_HASH.findall(match["hashes"]))))
    for runtime in runtimes:
        names = [p.name for p in packages if runtime in p.runtimes]
        if len(names) != len(set(names)):
            raise LockSyntax(f"Lock holds two versions of one distribution for {runtime}.")
    return Lock(runtimes, header["architecture"], header["digest"], tuple(packages))


def stale(lock: Lock, requirements: Sequence[str], runtimes: Sequence[str], architecture: str) -> str | None:
    """Why a lock does not hold what the layer asks for (naming the package where one is at fault), or None."""
    if set(lock.runtimes) != set(runtimes) or lock.architecture != architecture:
        return (f"Lock was made for {' '.join(lock.runtimes)} {lock.architecture}, and the layer serves "
                f"{' '.join(sorted(runtimes, key=_order))} {architecture}: run pylayer lock --write.")
    for text in requirements:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        for runtime in lock.runtimes:
            if requirement.marker is not None and not _applies(requirement, runtime, architecture):
                continue
            held = lock.for_runtime(runtime).get(name)
            if held is None:
                return f"Lock holds no {name} for {runtime}, which Requirements ask for: run pylayer lock --write."
            if not _contains(requirement, held.version):
                return (f"Lock holds {name} {held.version} for {runtime}, and Requirements ask for {text}: "
                        "run pylayer lock --write.")
    if lock.digest != inputs_digest(requirements, runtimes, architecture):
        return "Lock was made for other Requirements: run pylayer lock --write."
    return None


def _applies(requirement: Requirement, runtime: str, architecture: str) -> bool:
    """Whether a requirement's marker holds on the target; one that cannot be evaluated (a comparison PEP 508
    leaves undefined) counts as holding: the lock must then hold the package."""
    if requirement.marker is None:
        return True
    try:
        return bool(requirement.marker.evaluate(_environment(runtime, architecture)))
    except (UndefinedComparison, UndefinedEnvironmentName, InvalidMarker, InvalidVersion, TypeError, ValueError):
        return True


def _environment(runtime: str, architecture: str) -> dict[str, str]:
    """The target's whole marker environment: nothing of this machine's (its Python, its kernel)."""
    version = runtime.removeprefix("python")
    environment = {key: str(value) for key, value in default_environment().items()}
    environment.update({
        "python_version": version, "python_full_version": f"{version}.0", "implementation_version": f"{version}.0",
        "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "platform_release": "",
        "platform_version": "", "platform_machine": "aarch64" if architecture == "arm64" else "x86_64",
        "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""})
    return environment


def _contains(requirement: Requirement, version: str) -> bool:
    try:
        return requirement.specifier.contains(version, prereleases=True)
    except InvalidVersion:
        return False


def constraints(lock: Lock, runtime: str) -> dict[str, str]:
    """What the installer is held to for one runtime: each locked distribution at exactly its version
    (=== : a local version such as 1.0+cpu does not match 1.0 there, as it does under ==)."""
    return {name: f"{name}==={held.version}" for name, held in sorted(lock.for_runtime(runtime).items())}


def hashes(lock: Lock, runtime: str) -> dict[str, frozenset[str]]:
    """name -> the sha256 the lock holds for it on one runtime: which of a release's files to take."""
    return {name: held.hashes for name, held in lock.for_runtime(runtime).items()}


def check(lock: Lock, runtime: str, wheels: Iterable[Chosen]) -> None:
    """Every wheel the resolution chose is in the lock, at its version, with a sha256 the lock holds."""
    held = lock.for_runtime(runtime)
    for wheel in wheels:
        name, version, sha256 = canonicalize_name(wheel.name), wheel.version, wheel.sha256
        locked = held.get(name)
        if locked is None or not _same_version(locked.version, version):
            have = f"holds {name} {locked.version}" if locked else f"holds no {name}"
            raise LockMismatch(f"The resolution for {runtime} chose {name} {version}, and the Lock {have}: "
                               "the index no longer offers the locked release. Run pylayer lock --write --all, "
                               "and review the change.")
        if sha256 not in locked.hashes:
            raise LockMismatch(f"{name} {version} for {runtime}: no file of it on the index has a sha256 the Lock "
                               f"holds: {wheel.filename} has {sha256}, and the Lock holds "
                               f"{', '.join(sorted(locked.hashes))}. The locked wheel was replaced or removed; it "
                               "is refused.")


def _same_version(locked: str, chosen: str) -> bool:
    """PEP 440 equality (1.0 is 1.0.0), as the lock's versions were checked to parse."""
    try:
        return Version(locked) == Version(chosen)
    except InvalidVersion:
        return locked == chosen
