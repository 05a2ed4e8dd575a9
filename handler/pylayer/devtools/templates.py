"""Custom::PythonLayer resources read out of a template (a file or `REV:PATH` at a git revision). Pure."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidProperties
from ..properties import IGNORED, KNOWN, Defaults, LayerSpec, clip, parse

RESOURCE_TYPE = "Custom::PythonLayer"
# What an omitted Runtime/Architecture means for a provider deployed from template.yaml.
PROVIDER_DEFAULTS = Defaults("python3.13", "arm64")


class CliError(Exception):
    """The command cannot run: a bad argument, an unreadable template, a failed git call."""


# Properties whose value decides what is installed: an intrinsic function there
# makes the layer's content unknowable before the stack is deployed.
_CONTENT_PROPERTIES = ("Requirements", "Runtime", "Architecture", "CompatibleRuntimes", "Lock", "Slim",
                       "ExcludeRuntimePackages")
# The others only label or share the version: an intrinsic there is left out
# (LayerName, which is required, gets a stand-in), so the layer still resolves.
_LAYER_NAME_STAND_IN = "unresolved"


def intrinsic(value: object) -> str | None:
    """'Fn::If' for {'Fn::If': [...]}, 'Ref' for {'Ref': ...}; None for anything else."""
    if isinstance(value, Mapping) and len(value) == 1:
        key = next(iter(value))
        if isinstance(key, str) and (key == "Ref" or key.startswith("Fn::")):
            return key
    return None


def find_intrinsic(value: object) -> str | None:
    """The first intrinsic function anywhere in value (a list entry, a nested map)."""
    found = intrinsic(value)
    if found:
        return found
    if isinstance(value, Mapping):
        children: list[object] = list(value.values())
    elif isinstance(value, list):
        children = list(value)
    else:
        return None
    for child in children:
        found = find_intrinsic(child)
        if found:
            return found
    return None


def render(value: object) -> str:
    """A short display of a property value: literals as they are, !Ref X, !Sub '...', !If ...."""
    name = intrinsic(value)
    if isinstance(value, list):
        return clip("[" + ", ".join(render(item) for item in value) + "]")
    if name is None or not isinstance(value, Mapping):
        return clip(value if isinstance(value, str) else repr(value))
    short = "!" + name.removeprefix("Fn::")
    argument = value[name]
    if isinstance(argument, str):
        return clip(f"{short} {argument}")
    return f"{short} ..."


def plain(value: object) -> object:
    """cfn-lint's nodes (dict/list/str subclasses carrying line numbers) as plain values."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


@dataclass(frozen=True)
class TemplateLayer:
    """A Custom::PythonLayer resource as written, and the spec the provider would make of it."""

    logical_id: str
    properties: Mapping[str, Any]  # without ServiceToken and ServiceTimeout
    name: str  # LayerName for display (an intrinsic rendered)
    target: str  # "python3.12 arm64" for display
    spec: LayerSpec | None = None
    unresolved: str = ""  # an intrinsic decides the content: known only when deployed
    invalid: str = ""  # the provider's own InvalidProperties reason
    stood_in: tuple[tuple[str, str], ...] = ()  # (property, its intrinsic rendered) left out of the spec
    unlocked: LayerSpec | None = None  # the spec without its Lock (what pylayer lock --write resolves)

    @property
    def problem(self) -> str:
        if self.unresolved:
            return f"not resolved: {self.unresolved}"
        return f"invalid: {self.invalid}" if self.invalid else ""

    def label(self) -> str:
        return f"{self.logical_id} ({self.name}, {self.target})"


def _target_label(props: Mapping[str, Any], defaults: Defaults) -> str:
    runtime = props.get("Runtime") or defaults.runtime
    architecture = props.get("Architecture") or defaults.architecture
    return f"{render(runtime)} {render(architecture)}"


def layer_from_properties(logical_id: str, raw: object, defaults: Defaults) -> TemplateLayer:
    if intrinsic(raw):
        return TemplateLayer(logical_id, {}, "?", "?", unresolved=f"Properties is {render(raw)}.")
    if not isinstance(raw, Mapping):
        return TemplateLayer(logical_id, {}, "?", "?", invalid="ResourceProperties must be a map of properties.")
    props = {k: v for k, v in raw.items() if k not in IGNORED}
    name = render(props["LayerName"]) if "LayerName" in props else "?"
    target = _target_label(props, defaults)
    # An unknown property is refused whatever the values (the provider checks it first).
    if all(k in KNOWN for k in props):
        for key in _CONTENT_PROPERTIES:
            found = find_intrinsic(props.get(key))
            if found:
                return TemplateLayer(logical_id, props, name, target,
                                     unresolved=f"{key} uses {found}; it is known only when the stack is deployed.")
    stood_in = tuple((k, render(v)) for k, v in props.items() if k in KNOWN and find_intrinsic(v))
    literal = {k: v for k, v in props.items() if k not in dict(stood_in)}
    if "LayerName" in dict(stood_in):
        literal["LayerName"] = _LAYER_NAME_STAND_IN
    try:
        # Without its Lock (what `pylayer lock --write` resolves anew), then with it: a spec either way.
        unlocked = parse({k: v for k, v in literal.items() if k != "Lock"}, defaults)
        spec = parse(literal, defaults) if "Lock" in literal else unlocked
    except InvalidProperties as exc:
        known = unlocked if exc.prop == "Lock" else None
        return TemplateLayer(logical_id, props, name, target, invalid=exc.reason, stood_in=stood_in, unlocked=known)
    return TemplateLayer(logical_id, props, name, spec.describe(), spec=spec, stood_in=stood_in, unlocked=unlocked)


def read_layers(template: object, defaults: Defaults) -> list[TemplateLayer]:
    """Every Custom::PythonLayer of a decoded template, by logical id."""
    if not isinstance(template, Mapping) or not isinstance(template.get("Resources"), Mapping):
        raise CliError("the template has no Resources section.")
    layers = []
    for logical_id, resource in sorted(template["Resources"].items()):
        if isinstance(resource, Mapping) and resource.get("Type") == RESOURCE_TYPE:
            layers.append(layer_from_properties(str(logical_id), plain(resource.get("Properties", {})), defaults))
    return layers


def decode_template(text: str, origin: str) -> object:
    """YAML (short-form intrinsics included) or JSON, as cfn-lint reads it."""
    from cfnlint.decode import decode_str  # slow to import: only the commands that read templates need it

    template, matches = decode_str(text)
    if matches:
        first = matches[0]
        line = getattr(first, "linenumber", 0)
        raise CliError(f"{origin}: cannot read the template: {first.message}" + (f" (line {line})" if line else ""))
    return template


@dataclass(frozen=True)
class Source:
    """A template on disk, or a file at a git revision (REV:PATH)."""

    path: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"{self.revision}:{self.path}" if self.revision is not None else self.path


def parse_source(argument: str, is_file: Callable[[str], bool] = os.path.isfile) -> Source:
    """A path that exists is a file; otherwise REV:PATH is read with `git show REV:PATH`."""
    if is_file(argument) or ":" not in argument:
        return Source(argument)
    revision, _, path = argument.partition(":")
    if not revision or not path:
        raise CliError(f"{argument}: expected a template path or REV:PATH (e.g. HEAD~1:template.yaml).")
    return Source(path, revision)


def read_source(source: Source) -> str:
    if source.revision is None:
        try:
            return Path(source.path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"{source}: {getattr(exc, 'strerror', None) or exc}.") from None
    try:
        done = subprocess.run(["git", "show", f"{source.revision}:{source.path}"],  # noqa: S603, S607
                              capture_output=True, text=True, timeout=60, check=False)
    except OSError as exc:
        raise CliError(f"{source}: git could not run: {exc.strerror}.") from None
    if done.returncode != 0:
        message = next((line for line in done.stderr.splitlines() if line.strip()), "git show failed")
        raise CliError(f"{source}: {message.removeprefix('fatal: ')}")
    return done.stdout


def load_layers(argument: str, defaults: Defaults) -> tuple[Source, list[TemplateLayer]]:
    source = parse_source(argument)
    return source, read_layers(decode_template(read_source(source), str(source)), defaults)
