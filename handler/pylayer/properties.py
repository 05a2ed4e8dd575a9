"""ResourceProperties (strings, as CloudFormation sends them) -> a frozen LayerSpec.

This is the edge: everything after it works on typed values. Every way the
input can be wrong ends in ``InvalidProperties`` with a message short enough
for the stack events; nothing else may escape ``parse``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from . import sharing
from .errors import InvalidProperties
from .target import ARCHITECTURES, RUNTIMES, Target


@dataclass(frozen=True)
class PropertySpec:
    """One row of the resource reference (README.md and the parser share it)."""

    name: str
    required: bool
    type: str
    default: str
    update: str
    description: str


SCHEMA: tuple[PropertySpec, ...] = (
    PropertySpec("LayerName", True, "String", "-", "Replacement (new version)",
                 "Name of the layer: 1-64 of A-Z a-z 0-9 _ -."),
    PropertySpec("Requirements", True, "List of String", "-", "Replacement (new version)",
                 "PEP 508 requirements, or one newline-separated string."),
    PropertySpec("Runtime", False, "String", "the provider's runtime", "Replacement (new version)",
                 "Target runtime, python3.9 to python3.14."),
    PropertySpec("Architecture", False, "String", "the provider's architecture",
                 "Replacement (new version)", "Target architecture, x86_64 or arm64."),
    PropertySpec("CompatibleRuntimes", False, "List of String", "[Runtime]",
                 "Replacement (new version)", "Runtimes recorded on the layer version."),
    PropertySpec("Description", False, "String", "none", "Replacement (new version)",
                 "Description of the layer version (at most 200 characters)."),
    PropertySpec("LicenseInfo", False, "String", "none", "Replacement (new version)",
                 "License of the layer's content (at most 512 characters)."),
    PropertySpec("Slim", False, "Boolean", "false", "Replacement (new version)",
                 "Drop test suites, type stubs, Cython sources and doc folders."),
    PropertySpec("ExcludeRuntimePackages", False, "Boolean", "false", "Replacement (new version)",
                 "Drop boto3, botocore, s3transfer and jmespath: the Lambda runtime has them."),
    PropertySpec("ShareWith", False, "List of String", "none (this account only)", "Replacement (new version)",
                 "Accounts (12 digits), organizations (o-...) or * (everyone) that may use each version."),
    PropertySpec("AllowPublicShare", False, "Boolean", "false", "Replacement (new version)",
                 "Must be true for ShareWith to hold * (every AWS account)."),
)

# CloudFormation copies these into ResourceProperties; they are not ours.
IGNORED = frozenset({"ServiceToken", "ServiceTimeout"})
KNOWN = frozenset(p.name for p in SCHEMA)

LAYER_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_REQUIREMENTS = 200
MAX_REQUIREMENT_LENGTH = 300
MAX_DESCRIPTION = 200
MAX_LICENSE = 512
# A requirement that names a location instead of a project.
_PATHLIKE = re.compile(r"^(\.|/|~|\\|[A-Za-z]:[\\/])|^[a-z+]+://|^file:", re.IGNORECASE)


@dataclass(frozen=True)
class LayerSpec:
    layer_name: str
    requirements: tuple[str, ...]
    target: Target
    compatible_runtimes: tuple[str, ...]
    description: str = ""
    license_info: str = ""
    slim: bool = False
    exclude_runtime_packages: bool = False
    share_with: tuple[str, ...] = ()


@dataclass(frozen=True)
class Defaults:
    """What an omitted Runtime/Architecture means: the provider's own."""

    runtime: str
    architecture: str


def clip(value: object, limit: int = 60) -> str:
    """Quote a user value in a reason without letting it take over the reason."""
    text = value if isinstance(value, str) else repr(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse(properties: object, defaults: Defaults) -> LayerSpec:
    if not isinstance(properties, Mapping):
        raise InvalidProperties("ResourceProperties must be a map of properties.")
    props = {k: v for k, v in properties.items() if k not in IGNORED}
    unknown = sorted(str(k) for k in props if k not in KNOWN)
    if unknown:
        raise InvalidProperties(
            f"Unknown properties: {clip(', '.join(unknown), 120)}. "
            f"Allowed: {', '.join(p.name for p in SCHEMA)}."
        )
    runtime = _choice(props, "Runtime", RUNTIMES, defaults.runtime)
    architecture = _choice(props, "Architecture", ARCHITECTURES, defaults.architecture)
    return LayerSpec(
        layer_name=_layer_name(props),
        requirements=parse_requirements(_required(props, "Requirements")),
        target=Target(runtime, architecture),
        compatible_runtimes=_compatible_runtimes(props, runtime),
        description=_text(props, "Description", MAX_DESCRIPTION),
        license_info=_text(props, "LicenseInfo", MAX_LICENSE),
        slim=_boolean(props, "Slim"),
        exclude_runtime_packages=_boolean(props, "ExcludeRuntimePackages"),
        share_with=_share_with(props),
    )


def _required(props: Mapping[str, Any], name: str) -> Any:
    value = props.get(name)
    if value is None or value == "" or value == []:
        raise InvalidProperties(f"{name} is required.")
    return value


def _string(props: Mapping[str, Any], name: str) -> str | None:
    value = props.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidProperties(f"{name} must be a string, got {type(value).__name__}.")
    return value


def _layer_name(props: Mapping[str, Any]) -> str:
    _required(props, "LayerName")
    name = _string(props, "LayerName") or ""
    if not LAYER_NAME.fullmatch(name):
        raise InvalidProperties(
            f"LayerName {clip(name)!s} is invalid: use 1-64 letters, digits, '_' or '-'."
        )
    return name


def _choice(props: Mapping[str, Any], name: str, allowed: Mapping[str, object], default: str) -> str:
    value = _string(props, name)
    if value is None or value == "":
        return default
    if value not in allowed:
        raise InvalidProperties(f"{name} {clip(value)} is not supported: use one of {', '.join(allowed)}.")
    return value


def _text(props: Mapping[str, Any], name: str, limit: int) -> str:
    value = _string(props, name) or ""
    if len(value) > limit:
        raise InvalidProperties(f"{name} is {len(value)} characters long; the limit is {limit}.")
    return value


def _boolean(props: Mapping[str, Any], name: str) -> bool:
    """CloudFormation sends booleans as "true"/"false"; "false" must not read as truthy."""
    value = props.get(name)
    if value is None or value == "" or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidProperties(f"{name} must be true or false, got {clip(value)}.")


def _share_with(props: Mapping[str, Any]) -> tuple[str, ...]:
    value = props.get("ShareWith")
    allow_public = _boolean(props, "AllowPublicShare")
    if value is None or value == "" or value == []:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InvalidProperties("ShareWith must be a list of account ids, organization ids or *.")
    if len(items) > sharing.MAX_ENTRIES:
        raise InvalidProperties(f"ShareWith holds {len(items)} entries; the limit is {sharing.MAX_ENTRIES}.")
    for item in items:
        if sharing.kind(item) is None:
            raise InvalidProperties(
                f"ShareWith: {clip(item)} is not a 12-digit account id, an organization id (o-...) or *."
            )
    if sharing.EVERYONE in items and not allow_public:
        raise InvalidProperties(
            'ShareWith "*" shares the layer with every AWS account: set AllowPublicShare to true to confirm.'
        )
    return tuple(sorted(set(items)))


def _compatible_runtimes(props: Mapping[str, Any], runtime: str) -> tuple[str, ...]:
    value = props.get("CompatibleRuntimes")
    if value is None or value == "" or value == []:
        return (runtime,)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InvalidProperties("CompatibleRuntimes must be a list of runtime names.")
    unknown = [i for i in items if i not in RUNTIMES]
    if unknown:
        raise InvalidProperties(
            f"CompatibleRuntimes: {clip(unknown[0])} is not supported: use python3.9 to python3.14."
        )
    if len(items) > 15:
        raise InvalidProperties("CompatibleRuntimes holds at most 15 runtimes.")
    return tuple(dict.fromkeys(items))


def parse_requirements(value: object) -> tuple[str, ...]:
    """A list of PEP 508 strings (or one newline-separated string) -> canonical, sorted."""
    if isinstance(value, str):
        lines = [line.split(" #", 1)[0].strip() for line in value.splitlines()]
        items: list[object] = [line for line in lines if line and not line.startswith("#")]
    elif isinstance(value, list):
        items = list(value)
    else:
        raise InvalidProperties("Requirements must be a list of PEP 508 requirement strings.")
    if not items:
        raise InvalidProperties("Requirements is required.")
    if len(items) > MAX_REQUIREMENTS:
        raise InvalidProperties(f"Requirements holds {len(items)} entries; the limit is {MAX_REQUIREMENTS}.")
    canonical = {_requirement(item) for item in items}
    return tuple(sorted(canonical, key=str.lower))


def _requirement(item: object) -> str:
    if not isinstance(item, str):
        raise InvalidProperties(f"Requirements: every entry must be a string, got {clip(item)}.")
    text = item.strip()
    if not text:
        raise InvalidProperties("Requirements: an entry is empty.")
    if len(text) > MAX_REQUIREMENT_LENGTH:
        raise InvalidProperties(
            f"Requirements: {clip(text)} is longer than {MAX_REQUIREMENT_LENGTH} characters."
        )
    if text.startswith("-"):
        raise InvalidProperties(
            f"Requirements: {clip(text)} is a pip option; only PEP 508 requirements are allowed "
            "(the package index is set on the provider)."
        )
    if _PATHLIKE.search(text):
        raise InvalidProperties(
            f"Requirements: {clip(text)} is a path or URL; only packages from the index are allowed."
        )
    try:
        requirement = Requirement(text)
        if requirement.url:
            raise InvalidProperties(
                f"Requirements: {clip(text)} is a direct URL reference; only packages from the index are allowed."
            )
        return str(requirement)
    except (InvalidRequirement, ValueError):  # ValueError: a marker value packaging cannot write back
        raise InvalidProperties(f"Requirements: {clip(text)} is not a valid PEP 508 requirement.") from None
