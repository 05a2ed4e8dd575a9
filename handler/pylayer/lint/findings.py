"""What the cfn-lint rules report for one Custom::PythonLayer resource. Pure; no cfn-lint here.

One validator: the properties are turned into what CloudFormation would send
(every scalar a string) and given to the provider's own ``properties.parse``.
An error is reported exactly when the provider would refuse them, with the
provider's own reason. Values known only at deploy time (``Ref``, ``Fn::*``)
are left out, or stood in for by a value the provider accepts, so nothing is
reported that some deployed value could make valid; literal list entries next
to such values are still checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from packaging.requirements import Requirement

from .. import layerlock
from ..errors import InvalidProperties, PropertyFault
from ..properties import IGNORED, KNOWN, SCHEMA, Defaults, LayerSpec, parse

UNKNOWN_PROPERTY = "E9101"
MISSING_PROPERTY = "E9102"
WRONG_TYPE = "E9103"
BAD_VALUE = "E9104"
BAD_REQUIREMENT = "E9105"
STALE_LOCK = "E9106"
UNPINNED_REQUIREMENT = "W9101"
NO_SERVICE_TIMEOUT = "W9102"
ERRORS = (UNKNOWN_PROPERTY, MISSING_PROPERTY, WRONG_TYPE, BAD_VALUE, BAD_REQUIREMENT, STALE_LOCK)
# The provider's own defaults do not matter to a verdict: any supported runtime and architecture will do.
DEFAULTS = Defaults("python3.13", "arm64")
# For a required property known only at deploy time: a value the provider accepts.
_STAND_INS: dict[str, object] = {"LayerName": "unresolved", "Requirements": ["unresolved"]}
# An optional property known only at deploy time stands in as its most permissive value.
_PERMISSIVE: dict[str, object] = {"AllowPublicShare": "true"}
_REQUIRED = frozenset(p.name for p in SCHEMA if p.required)
# What a Lock is made from: a deploy-time value in any of them, and whether the lock is stale is unknowable.
_LOCKED_INPUTS = ("Requirements", "Runtime", "CompatibleRuntimes", "Architecture", "Lock")


class Finding(NamedTuple):
    rule: str
    path: tuple[str | int, ...]  # below Resources/<logical id>
    message: str


def is_function(value: object) -> bool:
    """A value CloudFormation computes at deploy time: {"Ref": ...} or {"Fn::...": ...}."""
    if not isinstance(value, Mapping) or len(value) != 1:
        return False
    key = str(next(iter(value)))
    return key == "Ref" or key.startswith("Fn::")


def _has_function(value: object) -> bool:
    if is_function(value):
        return True
    if isinstance(value, Mapping):
        return any(_has_function(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_function(v) for v in value)
    return False


def as_sent(value: object) -> object:
    """A template value as CloudFormation sends it to a custom resource: every scalar a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list):
        return [as_sent(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): as_sent(v) for k, v in value.items()}
    return value


def knowable(properties: Mapping[str, Any]) -> dict[str, object]:
    """The properties as the provider would see them, deploy-time values left out or stood in for."""
    known: dict[str, object] = {}
    partial = set()
    for key, value in properties.items():
        name = str(key)
        if name in IGNORED:
            continue
        if isinstance(value, list) and not is_function(value):
            literal = [v for v in value if not _has_function(v)]
            if len(literal) < len(value):
                partial.add(name)
            if literal or not value:
                known[name] = as_sent(literal)
                continue
        elif not _has_function(value):
            known[name] = as_sent(value)
            continue
        if name in _STAND_INS:
            known[name] = _STAND_INS[name]
        elif name in _PERMISSIVE:
            known[name] = _PERMISSIVE[name]
        elif name not in KNOWN:
            known[name] = None  # still unknown to the provider, whatever its value
    if "CompatibleRuntimes" in partial:
        known.pop("Runtime", None)  # it may be one of the entries known only at deploy time
    if any(_has_function(properties.get(name)) for name in _LOCKED_INPUTS):
        known.pop("Lock", None)  # what the lock must hold is known only at deploy time
    return known


# A refusal's kind (set where the provider raises it) names the rule: rewording a Reason moves nothing.
RULES: dict[PropertyFault, str] = {"unknown": UNKNOWN_PROPERTY, "missing": MISSING_PROPERTY, "type": WRONG_TYPE,
                                   "value": BAD_VALUE, "requirement": BAD_REQUIREMENT, "lock": STALE_LOCK}


def rule_for(error: InvalidProperties) -> str:
    return RULES[error.kind]


def verdict(properties: Mapping[str, Any]) -> tuple[LayerSpec | None, InvalidProperties | None]:
    """The provider's own reading of what is knowable: a spec, or its refusal."""
    known = knowable(properties)
    try:
        return parse(known, _defaults_for(known)), None
    except InvalidProperties as exc:
        return None, exc


def _defaults_for(known: Mapping[str, object]) -> Defaults:
    """The provider's defaults are known only where it is deployed: for a locked layer that omits Runtime or
    Architecture, the ones its Lock was made for (a provider with those defaults accepts it)."""
    lines = known.get("Lock")
    try:
        lock = layerlock.parse(lines.splitlines() if isinstance(lines, str) else lines) if isinstance(
            lines, (str, list)) and all(isinstance(x, str) for x in lines) else None
    except layerlock.LockSyntax:
        lock = None
    if lock is None:
        return DEFAULTS
    return Defaults(lock.runtimes[0] if len(lock.runtimes) == 1 else DEFAULTS.runtime, lock.architecture)


def check(logical_id: str, resource: Mapping[str, Any]) -> list[Finding]:
    """Every finding for one resource: at most one error (the provider's first refusal), and warnings."""
    properties = resource.get("Properties")
    base: tuple[str | int, ...] = ("Properties",) if properties is not None else ()
    properties = {} if properties is None else properties
    if is_function(properties):
        return []  # the whole map is computed at deploy time
    if not isinstance(properties, Mapping):
        return [Finding(WRONG_TYPE, base, f"{logical_id}: ResourceProperties must be a map of properties.")]
    if any(str(key).startswith("Fn::") for key in properties):
        return []  # Fn::Transform may add properties: what it makes is known only at deploy time
    spec, refused = verdict(properties)
    findings: list[Finding] = []
    if refused is not None:
        where = (*base, refused.prop) if refused.prop and refused.prop in properties else base
        findings.append(Finding(rule_for(refused), where, f"{logical_id}: {refused.reason}"))
    if spec is not None:
        findings += _unpinned(logical_id, base, properties, spec)
    if "ServiceTimeout" not in properties:
        findings.append(Finding(NO_SERVICE_TIMEOUT, base,
                                f"{logical_id}: ServiceTimeout is not set: CloudFormation would wait up to an hour "
                                "for an answer that is lost. Set it (900 is plenty)."))
    return findings


def _unpinned(logical_id: str, base: tuple[str | int, ...], properties: Mapping[str, Any],
              spec: LayerSpec) -> list[Finding]:
    if "Requirements" not in properties or _has_function(properties["Requirements"]) or spec.lock is not None \
            or "Lock" in properties:
        return []  # a locked layer is held to its lock, pinned or not (one judged only at deploy time too)
    loose = []
    for text in spec.requirements:
        pins = [s for s in Requirement(text).specifier if s.operator == "===" or
                (s.operator == "==" and not s.version.endswith(".*"))]
        if not pins:
            loose.append(text)
    if not loose:
        return []
    return [Finding(UNPINNED_REQUIREMENT, (*base, "Requirements"),
                    f"{logical_id}: Requirements {', '.join(loose[:3])}{' ...' if len(loose) > 3 else ''} "
                    "not pinned to one version with ==, and no Lock: the layer can change between deploys while "
                    "the template stays the same. Run pylayer lock --write (or pin with ==).")]
