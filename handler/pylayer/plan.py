"""Identity of a layer version, and the decision: reuse a version or build one.

Pure: no AWS, no files. Every version the provider publishes carries a marker
at the end of its Description:

    [pylayer <version key, 16 hex> <owner key, 12 hex> <unzipped bytes>]

The version key hashes everything that decides what is published (content and
metadata); the owner key hashes the stack id and logical id of the resource.
The marker lets a retried event, a rollback or an Update that changes nothing
find the version it already made, and keeps it from ever picking up a version
that belongs to another resource or stack.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .properties import LayerSpec

MARKER = re.compile(r"\[pylayer (?P<version>[0-9a-f]{16}) (?P<owner>[0-9a-f]{12}) (?P<size>\d{1,12})\]$")
# Bump when the build changes what identical inputs produce.
BUILD_FORMAT = 1


@dataclass(frozen=True)
class BuildOptions:
    """Provider configuration that changes what an install produces."""

    installer: str = "uv"
    index_url: str = ""  # without credentials
    allow_sdist: bool = False


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def content_key(spec: LayerSpec, options: BuildOptions) -> str:
    """What decides the files in the layer (shared by every resource with the same inputs)."""
    return _digest({
        "format": BUILD_FORMAT,
        "requirements": list(spec.requirements),
        "runtime": spec.target.runtime,
        "architecture": spec.target.architecture,
        "installer": options.installer,
        "index": options.index_url,
        "sdist": options.allow_sdist,
        "slim": spec.slim,
        "exclude_runtime_packages": spec.exclude_runtime_packages,
    })


def version_key(spec: LayerSpec, options: BuildOptions) -> str:
    """What decides a published version: its content and its metadata."""
    return _digest({
        "content": content_key(spec, options),
        "layer": spec.layer_name,
        "compatible_runtimes": list(spec.compatible_runtimes),
        "description": spec.description,
        "license": spec.license_info,
        "share_with": list(spec.share_with),
    })[:16]


def owner_key(stack_id: str, logical_id: str) -> str:
    return _digest({"stack": stack_id, "logical": logical_id})[:12]


@dataclass(frozen=True)
class Marker:
    version: str
    owner: str
    unzipped_size: int

    def render(self) -> str:
        return f"[pylayer {self.version} {self.owner} {self.unzipped_size}]"


def describe(user_description: str, marker: Marker) -> str:
    return f"{user_description} {marker.render()}".strip()


def read_marker(description: str | None) -> Marker | None:
    match = MARKER.search(description or "")
    if not match:
        return None
    return Marker(match["version"], match["owner"], int(match["size"]))


@dataclass(frozen=True)
class Existing:
    """A version of the layer as ListLayerVersions shows it."""

    arn: str
    version: int
    description: str


def owned_matches(existing: Iterable[Existing], version: str, owner: str) -> list[Existing]:
    """This resource's versions built from this very spec, newest first."""
    found = [e for e in existing
             if (m := read_marker(e.description)) and m.version == version and m.owner == owner]
    return sorted(found, key=lambda e: -e.version)


def choose(matches: list[Existing], current_id: str | None) -> Existing | None:
    """The version to answer with without building, if any.

    The current one when it still matches (an Update that changes nothing, a
    retried Update); else the newest match (a rollback to the pre-update
    version, a retried Create).
    """
    for match in matches:
        if match.arn == current_id:
            return match
    return matches[0] if matches else None
