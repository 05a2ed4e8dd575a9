"""ResourceProperties (strings, as CloudFormation sends them) -> a frozen LayerSpec.

This is the edge: everything after it works on typed values. Every way the
input can be wrong ends in ``InvalidProperties`` with a message short enough
for the stack events (and the property at fault, for the lint rules); nothing
else may escape ``parse``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from . import layerlock, sharing
from .errors import InvalidProperties, PropertyFault
from .target import ARCHITECTURES, RUNTIMES, Target


@dataclass(frozen=True)
class PropertySpec:
    """One row of the resource reference (docs/reference.md and the parser share it)."""

    name: str
    required: bool
    type: str
    default: str
    update: str
    description: str


NEW_VERSION = "Replacement (new version)"
SCHEMA: tuple[PropertySpec, ...] = (
    PropertySpec("LayerName", True, "String", "-", NEW_VERSION, "Name of the layer: 1-64 of A-Z a-z 0-9 _ -."),
    PropertySpec("Requirements", True, "List of String", "-", NEW_VERSION,
                 "PEP 508 requirements, or one newline-separated string."),
    PropertySpec("Runtime", False, "String", "the provider's runtime", NEW_VERSION,
                 "Target runtime, python3.9 to python3.14; with CompatibleRuntimes, one of them."),
    PropertySpec("Architecture", False, "String", "the provider's architecture", NEW_VERSION,
                 "Target architecture, x86_64 or arm64."),
    PropertySpec("CompatibleRuntimes", False, "List of String", "[Runtime]", NEW_VERSION,
                 "The runtimes the layer serves: each gets its own resolution, wheels and bytecode."),
    PropertySpec("Description", False, "String", "none", NEW_VERSION,
                 "Description of the layer version (at most 200 characters)."),
    PropertySpec("LicenseInfo", False, "String", "none", NEW_VERSION,
                 "License of the layer's content (at most 512 characters)."),
    PropertySpec("Slim", False, "Boolean", "false", NEW_VERSION,
                 "Drop test suites, type stubs, Cython sources and doc folders."),
    PropertySpec("ExcludeRuntimePackages", False, "Boolean", "false", NEW_VERSION,
                 "Drop boto3, botocore, s3transfer and jmespath: the Lambda runtime has them."),
    PropertySpec("ShareWith", False, "List of String", "none (this account only)", NEW_VERSION,
                 "Accounts (12 digits), organizations (o-...) or * (everyone) that may use each version."),
    PropertySpec("AllowPublicShare", False, "Boolean", "false", NEW_VERSION,
                 "Must be true for ShareWith to hold * (every AWS account)."),
    PropertySpec("Bytecode", False, "String", "auto", NEW_VERSION,
                 "auto, true or false: .pyc compiled by each runtime's own interpreter."),
    PropertySpec("ImportCheck", False, "List of String", "auto", NEW_VERSION,
                 "auto (the requested packages' own modules), none, or the modules each runtime's worker "
                 "imports before the version is published."),
    PropertySpec("Lock", False, "List of String", "none (resolved at each build)", NEW_VERSION,
                 "The resolved set, written by pylayer lock --write: every distribution, version and wheel "
                 "sha256 the build may use. With it, nothing else is installed."),
)

# CloudFormation copies these into ResourceProperties; they are not ours.
IGNORED = frozenset({"ServiceToken", "ServiceTimeout"})
KNOWN = frozenset(p.name for p in SCHEMA)

LAYER_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_REQUIREMENTS = 200
MAX_REQUIREMENT_LENGTH = 300
MAX_DESCRIPTION = 200
MAX_LICENSE = 512
MAX_COMPATIBLE_RUNTIMES = 15
MAX_IMPORTS = 20
BytecodeSetting = Literal["auto", "true", "false"]
BYTECODE: tuple[BytecodeSetting, ...] = ("auto", "true", "false")
IMPORT_WORDS = ("auto", "none")
ImportMode = Literal["auto", "modules", "none"]
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
# A requirement that names a location instead of a project.
ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tgz", ".tar.bz2", ".tar")
_PATHLIKE = re.compile(r"^(\.|/|~|\\|[A-Za-z]:[\\/])|^[a-z+]+://|^file:", re.IGNORECASE)


@dataclass(frozen=True)
class LayerSpec:
    layer_name: str
    requirements: tuple[str, ...]
    architecture: str
    runtimes: tuple[str, ...]  # CompatibleRuntimes, as written (duplicates dropped)
    description: str = ""
    license_info: str = ""
    slim: bool = False
    exclude_runtime_packages: bool = False
    share_with: tuple[str, ...] = ()
    bytecode: BytecodeSetting = "auto"
    import_check: tuple[str, ...] = ()  # ImportCheck as a list of modules
    import_auto: bool = True  # with no list: auto (True) or none (False)
    lock: layerlock.Lock | None = None  # the Lock property: the only set the build may install

    @property
    def import_mode(self) -> ImportMode:
        """What the workers import: the listed modules, the requested packages' own (auto), or nothing."""
        if self.import_check:
            return "modules"
        return "auto" if self.import_auto else "none"

    @property
    def distributions(self) -> tuple[str, ...]:
        """The requested distributions' normalised names (extras and versions dropped)."""
        return tuple(dict.fromkeys(canonicalize_name(Requirement(r).name) for r in self.requirements))

    @property
    def targets(self) -> tuple[Target, ...]:
        """One build target per runtime the layer serves, oldest Python first."""
        ordered = sorted(self.runtimes, key=lambda r: RUNTIMES[r])
        return tuple(Target(runtime, self.architecture) for runtime in ordered)

    def describe(self) -> str:
        """'python3.12 arm64', or 'python3.11, python3.12 arm64' for a layer of several runtimes."""
        return f"{', '.join(t.runtime for t in self.targets)} {self.architecture}"


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
        raise InvalidProperties("ResourceProperties must be a map of properties.", kind="type")
    props = {k: v for k, v in properties.items() if k not in IGNORED}
    unknown = sorted(str(k) for k in props if k not in KNOWN)
    if unknown:
        raise InvalidProperties(
            f"Unknown properties: {clip(', '.join(unknown), 120)}.{_did_you_mean(unknown)} "
            f"Allowed: {', '.join(p.name for p in SCHEMA)}.", prop=unknown[0], kind="unknown"
        )
    architecture = _choice(props, "Architecture", ARCHITECTURES, defaults.architecture)
    layer_name = _layer_name(props)
    requirements = parse_requirements(_required(props, "Requirements"))
    runtimes = _runtimes(props, defaults.runtime)
    return LayerSpec(
        layer_name=layer_name,
        requirements=requirements,
        architecture=architecture,
        runtimes=runtimes,
        description=_text(props, "Description", MAX_DESCRIPTION),
        license_info=_text(props, "LicenseInfo", MAX_LICENSE),
        slim=_boolean(props, "Slim"),
        exclude_runtime_packages=_boolean(props, "ExcludeRuntimePackages"),
        share_with=_share_with(props),
        bytecode=_bytecode(props),
        import_check=_import_check(props),
        import_auto=_import_auto(props),
        lock=_lock(props, requirements, runtimes, architecture),
    )


def _did_you_mean(unknown: list[str]) -> str:
    """' Did you mean Requirements?' for a near miss (Requirement, layername, ImportChecks); '' otherwise."""
    by_case = {name.lower(): name for name in KNOWN}
    guesses = []
    for name in unknown[:3]:
        close = difflib.get_close_matches(name.lower(), list(by_case), n=1, cutoff=0.75)
        if close and by_case[close[0]] not in guesses:
            guesses.append(by_case[close[0]])
    return f" Did you mean {' or '.join(guesses)}?" if guesses else ""


def _required(props: Mapping[str, Any], name: str) -> Any:
    value = props.get(name)
    if value is None or value == "" or value == []:
        raise InvalidProperties(f"{name} is required.", prop=name, kind="missing")
    return value


def _string(props: Mapping[str, Any], name: str) -> str | None:
    value = props.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidProperties(f"{name} must be a string, got {type(value).__name__}.", prop=name,
                                kind="type")
    return value


def _strings(props: Mapping[str, Any], name: str, what: str) -> list[str]:
    """A list of strings, or one string standing for a list of it; [] when absent."""
    value = props.get(name)
    if value is None or value == "" or value == []:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InvalidProperties(f"{name} must be a list of {what}.", prop=name, kind="type")
    return list(items)


def _layer_name(props: Mapping[str, Any]) -> str:
    _required(props, "LayerName")
    name = _string(props, "LayerName") or ""
    if not LAYER_NAME.fullmatch(name):
        raise InvalidProperties(
            f"LayerName {clip(name)!s} is invalid: use 1-64 letters, digits, '_' or '-'.", prop="LayerName"
        )
    return name


def _choice(props: Mapping[str, Any], name: str, allowed: Mapping[str, object], default: str) -> str:
    value = _string(props, name)
    if value is None or value == "":
        return default
    if value not in allowed:
        raise InvalidProperties(f"{name} {clip(value)} is not supported: use one of {', '.join(allowed)}.",
                                prop=name)
    return value


def _text(props: Mapping[str, Any], name: str, limit: int) -> str:
    value = _string(props, name) or ""
    if len(value) > limit:
        raise InvalidProperties(f"{name} is {len(value)} characters long; the limit is {limit}.", prop=name)
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
    raise InvalidProperties(f"{name} must be true or false, got {clip(value)}.", prop=name, kind="type")


def _share_with(props: Mapping[str, Any]) -> tuple[str, ...]:
    allow_public = _boolean(props, "AllowPublicShare")
    items = _strings(props, "ShareWith", "account ids, organization ids or *")
    if len(items) > sharing.MAX_ENTRIES:
        raise InvalidProperties(f"ShareWith holds {len(items)} entries; the limit is {sharing.MAX_ENTRIES}.",
                                prop="ShareWith")
    for item in items:
        if sharing.kind(item) is None:
            raise InvalidProperties(
                f"ShareWith: {clip(item)} is not a 12-digit account id, an organization id (o-...) or *.",
                prop="ShareWith")
    if sharing.EVERYONE in items and not allow_public:
        raise InvalidProperties(
            'ShareWith "*" shares the layer with every AWS account: set AllowPublicShare to true to confirm.',
            prop="ShareWith")
    return tuple(sorted(set(items)))


def _runtimes(props: Mapping[str, Any], default: str) -> tuple[str, ...]:
    """CompatibleRuntimes (default [Runtime]); a Runtime given with it must be one of them."""
    runtime = _choice(props, "Runtime", RUNTIMES, default)
    items = _strings(props, "CompatibleRuntimes", "runtime names")
    if not items:
        return (runtime,)
    unknown = [i for i in items if i not in RUNTIMES]
    if unknown:
        raise InvalidProperties(
            f"CompatibleRuntimes: {clip(unknown[0])} is not supported: use python3.9 to python3.14.",
            prop="CompatibleRuntimes")
    if len(items) > MAX_COMPATIBLE_RUNTIMES:
        raise InvalidProperties(f"CompatibleRuntimes holds at most {MAX_COMPATIBLE_RUNTIMES} runtimes.",
                                prop="CompatibleRuntimes")
    runtimes = tuple(dict.fromkeys(items))
    if props.get("Runtime") and runtime not in runtimes:
        raise InvalidProperties(
            f"Runtime {runtime} is not among CompatibleRuntimes ({', '.join(runtimes)}): "
            "add it there, or leave Runtime out.", prop="Runtime")
    return runtimes


def _bytecode(props: Mapping[str, Any]) -> BytecodeSetting:
    value = props.get("Bytecode")
    if value is None or value == "":
        return "auto"
    text = str(value).lower() if isinstance(value, bool) else value
    word = text.strip().lower() if isinstance(text, str) else ""
    for setting in BYTECODE:
        if word == setting:
            return setting
    raise InvalidProperties(f"Bytecode must be auto, true or false, got {clip(value)}.", prop="Bytecode")


def _import_words(props: Mapping[str, Any]) -> str | None:
    """auto or none, where ImportCheck says one of them (a string, or a list of just that word)."""
    value = props.get("ImportCheck")
    if value is None or value == "":
        return "auto"
    if value == []:
        return "none"
    word = value[0] if isinstance(value, list) and len(value) == 1 else value
    if isinstance(word, str) and word.strip().lower() in IMPORT_WORDS:
        return word.strip().lower()
    return None


def _import_auto(props: Mapping[str, Any]) -> bool:
    return _import_words(props) != "none"


def _import_check(props: Mapping[str, Any]) -> tuple[str, ...]:
    if _import_words(props) is not None:
        return ()
    items = _strings(props, "ImportCheck", "module names")
    if len(items) > MAX_IMPORTS:
        raise InvalidProperties(f"ImportCheck holds {len(items)} modules; the limit is {MAX_IMPORTS}.",
                                prop="ImportCheck")
    for item in items:
        if item.strip().lower() in IMPORT_WORDS:
            raise InvalidProperties(f"ImportCheck: {item.strip()} stands alone (ImportCheck: {item.strip()}), not "
                                    "in a list of modules.", prop="ImportCheck")
        if not MODULE_NAME.fullmatch(item.strip()):
            raise InvalidProperties(f"ImportCheck: {clip(item)} is not a module name (such as numpy or "
                                    "google.protobuf).", prop="ImportCheck")
    return tuple(dict.fromkeys(item.strip() for item in items))


def _lock(props: Mapping[str, Any], requirements: tuple[str, ...], runtimes: tuple[str, ...], architecture: str
          ) -> layerlock.Lock | None:
    """The Lock, checked against what the layer asks for: a stale lock is refused before any work."""
    value = props.get("Lock")
    if value is None or value == "" or value == []:
        return None
    lines = value.splitlines() if isinstance(value, str) else _strings(props, "Lock", "lock lines")
    try:
        lock = layerlock.parse(lines)
    except layerlock.LockSyntax as exc:
        raise InvalidProperties(str(exc), prop="Lock") from None
    problem = layerlock.stale(lock, requirements, runtimes, architecture)
    if problem:
        raise InvalidProperties(problem, prop="Lock", kind="lock")
    return lock


def parse_requirements(value: object) -> tuple[str, ...]:
    """A list of PEP 508 strings (or one newline-separated string) -> canonical, sorted."""
    if isinstance(value, str):
        lines = [line.split(" #", 1)[0].strip() for line in value.splitlines()]
        items: list[object] = [line for line in lines if line and not line.startswith("#")]
    elif isinstance(value, list):
        items = list(value)
    else:
        raise InvalidProperties("Requirements must be a list of PEP 508 requirement strings.", prop="Requirements",
                                kind="type")
    if not items:
        raise InvalidProperties("Requirements is required.", prop="Requirements", kind="missing")
    if len(items) > MAX_REQUIREMENTS:
        raise InvalidProperties(f"Requirements holds {len(items)} entries; the limit is {MAX_REQUIREMENTS}.",
                                prop="Requirements", kind="requirement")
    canonical = {_requirement(item) for item in items}
    return tuple(sorted(canonical, key=str.lower))


def _requirement(item: object) -> str:
    def refuse(why: str, kind: PropertyFault = "requirement") -> InvalidProperties:
        return InvalidProperties(f"Requirements: {why}", prop="Requirements", kind=kind)

    if not isinstance(item, str):
        raise refuse(f"every entry must be a string, got {clip(item)}.", "type")
    text = item.strip()
    if not text:
        raise refuse("an entry is empty.")
    if len(text) > MAX_REQUIREMENT_LENGTH:
        raise refuse(f"{clip(text)} is longer than {MAX_REQUIREMENT_LENGTH} characters.")
    if text.startswith("-"):
        raise refuse(f"{clip(text)} is a pip option; only PEP 508 requirements are allowed "
                     "(the package index is set on the provider).")
    if _PATHLIKE.search(text):
        raise refuse(f"{clip(text)} is a path or URL; only packages from the index are allowed.")
    try:
        requirement = Requirement(text)
    except (InvalidRequirement, ValueError):  # ValueError: a marker value packaging cannot write back
        raise refuse(f"{clip(text)} is not a valid PEP 508 requirement.") from None
    if requirement.url:
        raise refuse(f"{clip(text)} is a direct URL reference; only packages from the index are allowed.")
    if requirement.name.lower().endswith(ARCHIVE_SUFFIXES):
        # uv reads such a name as a file in its working directory, not as a project on the index.
        raise refuse(f"{clip(requirement.name)} names a file (.whl, .tar.gz, .zip, .tgz), not a project; "
                     "only packages from the index are allowed.")
    try:
        return str(requirement)
    except ValueError:
        raise refuse(f"{clip(text)} is not a valid PEP 508 requirement.") from None
