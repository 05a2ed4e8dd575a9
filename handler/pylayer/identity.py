"""What identifies a layer's content, a published version and its owner; the marker a version carries. Pure.

Every version the provider publishes ends its Description with

    [pylayer <version key, 16 hex> <owner key, 12 hex> <unzipped bytes> <bytecode> <proof>]

The bytecode letter (i, p, n, x: included, partial, omitted, off) and the
proof letter (I, L, N: imported, libraries, none) are the attributes a reused
version answers with; versions of older builds lack them.

The content key hashes everything that decides the files of the layer; the
version key adds what decides the published version's metadata; the owner key
hashes the stack id and logical id of the resource that published it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # the reaper imports owner_key with nothing but the standard library
    from .properties import LayerSpec

MARKER = re.compile(r"\[pylayer (?P<version>[0-9a-f]{16}) (?P<owner>[0-9a-f]{12}) (?P<size>\d{1,12})"
                    r"(?: (?P<bytecode>[ipnx]))?(?: (?P<proof>[ILN]))?\]$")
# The Bytecode attribute, in the marker as one letter (so a reused version answers the same).
BytecodeState = Literal["included", "partial", "omitted", "off"]
BYTECODE_CODES: dict[BytecodeState, str] = {"included": "i", "partial": "p", "omitted": "n", "off": "x"}
BYTECODE_STATES: tuple[BytecodeState, ...] = tuple(BYTECODE_CODES)
# The Proof attribute, weakest first: what was shown of the layer on every runtime it serves.
ProofState = Literal["none", "libraries", "imported"]
PROOF_CODES: dict[ProofState, str] = {"none": "N", "libraries": "L", "imported": "I"}
PROOF_STATES: tuple[ProofState, ...] = tuple(PROOF_CODES)
# Bump when the build changes what identical inputs produce. 2: a folder per runtime, bytecode, locks.
BUILD_FORMAT = 2


@dataclass(frozen=True)
class BuildOptions:
    """Provider configuration that changes what an install produces."""

    index_url: str = ""  # without credentials
    allow_sdist: bool = False


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def content_key(spec: LayerSpec, options: BuildOptions) -> str:
    """What decides the files in the layer (shared by every resource with the same inputs)."""
    # A Lock decides the set: it is part of the key (an unlocked layer keeps the key it always had).
    locked = {"lock": spec.lock.lines()} if spec.lock is not None else {}
    return _digest({
        **locked,
        "format": BUILD_FORMAT,
        "requirements": list(spec.requirements),
        "runtimes": sorted(spec.runtimes),
        "architecture": spec.architecture,
        "installer": "uv",  # the one installer since pip's was removed; kept so that keys stay the same
        "index": options.index_url,
        "sdist": options.allow_sdist,
        "slim": spec.slim,
        "exclude_runtime_packages": spec.exclude_runtime_packages,
        "bytecode": spec.bytecode,
        # Not content, but what was proven of it: a build checked for other imports is another build.
        # ImportCheck none keeps the key of the versions made before auto existed (they imported nothing).
        "import_check": "auto" if spec.import_mode == "auto" else sorted(spec.import_check),
    })


def version_key(spec: LayerSpec, options: BuildOptions) -> str:
    """What decides a published version: its content and its metadata."""
    return _digest({
        "content": content_key(spec, options),
        "layer": spec.layer_name,
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
    bytecode: BytecodeState | Literal[""] = ""  # "" in versions of the first build format
    proof: ProofState | Literal[""] = ""  # "" in versions made before the import proof

    def render(self) -> str:
        state = f" {BYTECODE_CODES[self.bytecode]}" if self.bytecode else ""
        proof = f" {PROOF_CODES[self.proof]}" if self.proof and self.bytecode else ""
        return f"[pylayer {self.version} {self.owner} {self.unzipped_size}{state}{proof}]"


def describe(user_description: str, marker: Marker) -> str:
    return f"{user_description} {marker.render()}".strip()


def read_marker(description: str | None) -> Marker | None:
    match = MARKER.search(description or "")
    if not match:
        return None
    return Marker(match["version"], match["owner"], int(match["size"]), bytecode_state(match["bytecode"]),
                  proof_state(match["proof"]))


def bytecode_state(code: object) -> BytecodeState | Literal[""]:
    """The Bytecode state a marker letter stands for; "" for none."""
    return next((s for s, letter in BYTECODE_CODES.items() if letter == code), "")


def proof_state(code: object) -> ProofState | Literal[""]:
    return next((s for s, letter in PROOF_CODES.items() if letter == code), "")


def known_bytecode(value: object) -> BytecodeState | Literal[""]:
    """A Bytecode state read from elsewhere (the bucket's spec pointer); "" for anything else."""
    return next((s for s in BYTECODE_STATES if s == value), "")


def known_proof(value: object) -> ProofState | Literal[""]:
    return next((s for s in PROOF_STATES if s == value), "")
