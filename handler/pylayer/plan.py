"""What a request should do, decided from what the provider found. Pure: no AWS, no files.

As pip-tools' ``diff`` plans and ``sync`` executes: ``provider`` gathers the
facts (the layer's versions, the archive a build of the same content left),
asks here what to do, and does it.

Create/Update: a ``Plan`` is an ordered list of steps; the executor tries them
in turn. ``Reuse`` may find its version gone by the time it reads it; ``Build``
always ends the list.

Delete: ``plan_delete`` says whether the named version may be deleted: only
one this provider published (its marker) for this very resource (its owner
key), in the provider's own account and region.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .identity import BytecodeState, ProofState, read_marker
from .layerversion import LayerVersion


@dataclass(frozen=True)
class Artifact:
    """A layer zip in the bucket, built before from the same content, ready to publish again."""

    key: str
    unzipped_size: int
    packages: tuple[str, ...] = ()
    bytecode: BytecodeState | Literal[""] = ""  # the Bytecode attribute of the build that made it
    uncompiled: tuple[str, ...] = ()  # runtimes it has no bytecode for, for want of a worker then
    proof: ProofState | Literal[""] = ""  # the Proof attribute of the build that made it ("" before the proof)


def code_sha256(artifact_key: str) -> str:
    """The CodeSha256 Lambda reports for a version made from a content-addressed archive
    (``layers/sha256/<hex>.zip``): base64 of the same digest; "" for any other key."""
    name = artifact_key.rsplit("/", 1)[-1].removesuffix(".zip")
    if len(name) != 64 or not artifact_key.startswith("layers/sha256/"):
        return ""
    try:
        return base64.b64encode(bytes.fromhex(name)).decode()
    except ValueError:
        return ""


@dataclass(frozen=True)
class Reuse:
    """Answer with a version this resource already published from the same spec."""

    version: LayerVersion


@dataclass(frozen=True)
class Republish:
    """Publish the archive a build of the same content left in the bucket: nothing is installed."""

    artifact: Artifact


@dataclass(frozen=True)
class Build:
    """Install, verify and zip the layer, then publish it."""


Step = Reuse | Republish | Build


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]

    def describe(self) -> str:
        return " -> ".join(type(step).__name__ for step in self.steps)


def owned_matches(versions: Iterable[LayerVersion], version_key: str, owner: str) -> list[LayerVersion]:
    """This resource's versions built from this very spec, newest first."""
    found = [v for v in versions
             if (m := read_marker(v.description)) and m.version == version_key and m.owner == owner]
    return sorted(found, key=lambda v: -v.number)


def choose(matches: list[LayerVersion], current_id: str | None) -> LayerVersion | None:
    """The version to answer with without building, if any.

    The current one when it still matches (an Update that changes nothing, a
    retried Update); else the newest match (a rollback to the pre-update
    version, a retried Create).
    """
    for match in matches:
        if match.arn == current_id:
            return match
    return matches[0] if matches else None


def plan_apply(versions: Iterable[LayerVersion], version_key: str, owner: str, current_id: str | None,
               artifact: Artifact | None) -> Plan:
    chosen = choose(owned_matches(versions, version_key, owner), current_id)
    steps: list[Step] = [Reuse(chosen)] if chosen is not None else []
    if artifact is not None:
        steps.append(Republish(artifact))
    steps.append(Build())
    return Plan(tuple(steps))


@dataclass(frozen=True)
class DeleteDecision:
    delete: bool
    why: str


def plan_delete(named: LayerVersion | None, found: LayerVersion | None, owner: str,
                account: str | None, region: str | None) -> DeleteDecision:
    """Whether to delete the version a Delete names. ``found`` is what GetLayerVersion returned."""
    if named is None:
        return DeleteDecision(False, "the physical id is not a layer version ARN (a failed Create's id)")
    if (account and named.account != account) or (region and named.region != region):
        return DeleteDecision(False, "the provider publishes only in its own account and region")
    if found is None:
        return DeleteDecision(False, "the version is already gone")
    marker = read_marker(found.description)
    if marker is None:
        return DeleteDecision(False, "the version was not published by this provider (no marker)")
    if marker.owner != owner:
        return DeleteDecision(False, "the version belongs to another resource or stack")
    return DeleteDecision(True, "this resource published it")
