"""cfn-lint rules for Custom::PythonLayer resources.

    cfn-lint --append-rules cfn-lint-rules template.yaml

cfn-lint imports every ``*.py`` file of the folder whose name starts with a
letter or 1-9, and instantiates each subclass of ``CloudFormationLintRule``
in it. The facts the rules check (property names, types, patterns, limits,
runtimes, architectures) are read from ``python_layer_schema.json`` next to
this file, which ``handler/pylayer/lintschema.py`` generates from the
provider's own validation; nothing of the provider needs to be importable.

Requirement strings get the provider's checks in the provider's order: pip
option, path or URL, PEP 508 syntax, direct URL reference. PEP 508 is parsed
with ``packaging`` when it is importable (cfn-lint does not depend on it,
most environments have it); otherwise with ``parse_requirement_fallback``
below, the same grammar as packaging 26's parser, which the project's tests
keep in agreement with packaging.

Values CloudFormation only knows at deploy time (``Ref``, ``Fn::*``) are not
checked; literal entries of a list that also holds such values still are.

Works with Python 3.9+ (cfn-lint 1.x's minimum).
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from cfnlint.rules import CloudFormationLintRule, RuleMatch

SCHEMA_FILE = Path(__file__).with_name("python_layer_schema.json")
SCHEMA: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
RESOURCE_TYPE: str = SCHEMA["resource_type"]
PROPERTIES: dict[str, dict[str, Any]] = {p["name"]: p for p in SCHEMA["properties"]}
IGNORED = frozenset(SCHEMA["ignored_properties"])
# The property types these rules know how to check; a property of another type
# is only checked for presence (tests fail if the schema grows one).
KNOWN_TYPES = frozenset({"String", "Boolean", "List of String"})
_PATHLIKE = re.compile(SCHEMA["path_like_pattern"], re.IGNORECASE if SCHEMA["path_like_ignore_case"] else 0)

UNKNOWN_PROPERTY = "E9101"
MISSING_PROPERTY = "E9102"
WRONG_TYPE = "E9103"
BAD_VALUE = "E9104"
BAD_REQUIREMENT = "E9105"
UNPINNED_REQUIREMENT = "W9101"
NO_SERVICE_TIMEOUT = "W9102"

_DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-customresource.html"
_PEP508 = "https://peps.python.org/pep-0508/"


class Finding(NamedTuple):
    rule: str
    path: tuple[str | int, ...]  # below Resources/<logical id>
    message: str


class Parsed(NamedTuple):
    url: str
    specifiers: tuple[tuple[str, str], ...]  # (operator, version)


class InvalidRequirementText(ValueError):
    """Not a PEP 508 requirement."""


# --------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------
def is_function(value: object) -> bool:
    """A value CloudFormation computes at deploy time: {"Ref": ...} or {"Fn::...": ...}."""
    if not isinstance(value, Mapping) or len(value) != 1:
        return False
    key = str(next(iter(value)))
    return key == "Ref" or key.startswith("Fn::")


def as_text(value: object) -> str | None:
    """A scalar as CloudFormation sends it to the provider (a string); None for lists and maps."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return None


def clip(text: str, limit: int = 60) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a map"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


# --------------------------------------------------------------------------------------
# PEP 508
# --------------------------------------------------------------------------------------
# The token rules of packaging 26's hand-written parser (packaging/_tokenizer.py).
_WS = re.compile(r"[ \t]+")
_IDENTIFIER = re.compile(r"\b[a-zA-Z0-9][a-zA-Z0-9._-]*\b")
_LEFT_BRACKET, _RIGHT_BRACKET = re.compile(r"\["), re.compile(r"\]")
_LEFT_PAREN, _RIGHT_PAREN = re.compile(r"\("), re.compile(r"\)")
_COMMA, _SEMICOLON, _AT = re.compile(r","), re.compile(r";"), re.compile(r"@")
_URL = re.compile(r"[^ \t]+")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_MARKER_OP = re.compile(r"===|==|~=|!=|<=|>=|<|>")
_BOOLOP = re.compile(r"\b(?:or|and)\b")
_IN = re.compile(r"\bin\b")
_NOT = re.compile(r"\bnot\b")
_VARIABLE = re.compile(
    r"\b(?:python_version|python_full_version|os[._]name|sys[._]platform|platform_(?:release|system)"
    r"|platform[._](?:version|machine|python_implementation)|python_implementation"
    r"|implementation_(?:name|version)|extras?|dependency_groups)\b"
)
# PEP 440 versions as packaging.specifiers.Specifier accepts them after each operator.
_RELEASE = r"v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*"
_PRE = r"(?:[-_\.]?(alpha|beta|preview|pre|a|b|c|rc)[-_\.]?[0-9]*)?"
_POST = r"(?:(?:-[0-9]+)|(?:[-_\.]?(post|rev|r)[-_\.]?[0-9]*))?"
_DEV = r"(?:[-_\.]?dev[-_\.]?[0-9]*)?"
_LOCAL = r"(?:\+[a-z0-9]+(?:[-_\.][a-z0-9]+)*)?"


def _ascii(pattern: str) -> str:
    return "(?a:" + pattern + ")"


_SPECIFIER_PATTERN = (
    r"(?:"
    r"(?:===\s*[^\s;)]*)"
    r"|(?:(?:==|!=)\s*" + _RELEASE + r"(?:\.\*|" + _ascii(_PRE) + _ascii(_POST) + _ascii(_DEV)
    + _ascii(_LOCAL) + r")?)"
    r"|(?:~=\s*v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)+" + _PRE + _POST + _DEV + r")"
    r"|(?:(?:<=|>=|<|>)\s*" + _RELEASE + _ascii(_PRE) + _ascii(_POST) + _ascii(_DEV) + r")"
    r")"
)
_SPECIFIER = re.compile(_SPECIFIER_PATTERN, re.IGNORECASE)
_ONE_SPECIFIER = re.compile(r"\s*" + _SPECIFIER_PATTERN + r"\s*", re.IGNORECASE)


class _Cursor:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def take(self, pattern: re.Pattern[str]) -> str | None:
        found = pattern.match(self.text, self.pos)
        if found is None:
            return None
        self.pos = found.end()
        return found.group(0)

    def sees(self, pattern: re.Pattern[str]) -> bool:
        return pattern.match(self.text, self.pos) is not None

    def expect(self, pattern: re.Pattern[str]) -> str:
        token = self.take(pattern)
        if token is None:
            raise InvalidRequirementText(self.text)
        return token

    def skip_ws(self) -> None:
        self.take(_WS)

    def at_end(self) -> bool:
        return self.pos == len(self.text)


def parse_requirement_fallback(text: str) -> Parsed:
    """PEP 508 as packaging 26 parses it, for where packaging is not installed."""
    cursor = _Cursor(text)
    cursor.skip_ws()
    cursor.expect(_IDENTIFIER)
    cursor.skip_ws()
    _extras(cursor)
    cursor.skip_ws()
    url, specifier = "", ""
    if cursor.take(_AT) is not None:
        cursor.skip_ws()
        url = cursor.expect(_URL)
        if not cursor.at_end():
            cursor.expect(_WS)
            if not cursor.at_end():
                _requirement_marker(cursor)
    else:
        specifier = _specifier(cursor)
        cursor.skip_ws()
        if not cursor.at_end():
            _requirement_marker(cursor)
    if not cursor.at_end():
        raise InvalidRequirementText(text)
    return Parsed(url, _specifier_set(specifier))


def _extras(cursor: _Cursor) -> None:
    if cursor.take(_LEFT_BRACKET) is None:
        return
    cursor.skip_ws()
    if cursor.take(_IDENTIFIER) is not None:
        while True:
            cursor.skip_ws()
            if cursor.sees(_IDENTIFIER):
                raise InvalidRequirementText(cursor.text)  # a missing comma
            if cursor.take(_COMMA) is None:
                break
            cursor.skip_ws()
            cursor.expect(_IDENTIFIER)
    cursor.skip_ws()
    cursor.expect(_RIGHT_BRACKET)


def _specifier(cursor: _Cursor) -> str:
    opened = cursor.take(_LEFT_PAREN) is not None
    cursor.skip_ws()
    text = ""
    while True:
        token = cursor.take(_SPECIFIER)
        if token is None:
            break
        text += token  # a ".*" or "+local" after it is left unread: refused, as by packaging
        cursor.skip_ws()
        if cursor.take(_COMMA) is None:
            break
        text += ","
        cursor.skip_ws()
    cursor.skip_ws()
    if opened:
        cursor.expect(_RIGHT_PAREN)
    return text


def _specifier_set(text: str) -> tuple[tuple[str, str], ...]:
    """packaging.specifiers.SpecifierSet's own check of each comma-separated specifier."""
    result: list[tuple[str, str]] = []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        if not _ONE_SPECIFIER.fullmatch(piece):
            raise InvalidRequirementText(text)
        size = 3 if piece.startswith("===") else 2 if piece[1] == "=" else 1
        result.append((piece[:size], piece[size:].strip()))
    return tuple(result)


def _requirement_marker(cursor: _Cursor) -> None:
    cursor.expect(_SEMICOLON)
    _marker(cursor)
    cursor.skip_ws()


def _marker(cursor: _Cursor) -> None:
    _marker_atom(cursor)
    while cursor.take(_BOOLOP) is not None:
        _marker_atom(cursor)


def _marker_atom(cursor: _Cursor) -> None:
    cursor.skip_ws()
    if cursor.take(_LEFT_PAREN) is not None:
        cursor.skip_ws()
        _marker(cursor)
        cursor.skip_ws()
        cursor.expect(_RIGHT_PAREN)
    else:
        _marker_var(cursor)
        cursor.skip_ws()
        _marker_op(cursor)
        cursor.skip_ws()
        _marker_var(cursor)
    cursor.skip_ws()


def _marker_var(cursor: _Cursor) -> None:
    cursor.skip_ws()
    if cursor.take(_VARIABLE) is not None:
        return
    quoted = cursor.expect(_QUOTED)
    try:
        value = str(ast.literal_eval(quoted))
    except (SyntaxError, ValueError):
        raise InvalidRequirementText(cursor.text) from None
    if "'" in value and '"' in value:  # packaging cannot write it back (see _packaging_parser)
        raise InvalidRequirementText(cursor.text)


def _marker_op(cursor: _Cursor) -> None:
    if cursor.take(_IN) is not None:
        return
    if cursor.take(_NOT) is not None:
        cursor.expect(_WS)
        cursor.expect(_IN)
        return
    cursor.expect(_MARKER_OP)


def _packaging_parser() -> Callable[[str], Parsed] | None:
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:
        return None

    def parse(text: str) -> Parsed:
        try:
            requirement = Requirement(text)
            # The provider keeps str(requirement), which fails for a marker value holding both
            # quote characters (written with escapes): the deploy fails, so refuse it here.
            str(requirement)
        except (InvalidRequirement, ValueError):
            raise InvalidRequirementText(text) from None
        return Parsed(requirement.url or "", tuple((s.operator, s.version) for s in requirement.specifier))

    return parse


_PACKAGING = _packaging_parser()
USES_PACKAGING = _PACKAGING is not None
parse_requirement: Callable[[str], Parsed] = _PACKAGING or parse_requirement_fallback


class Verdict(NamedTuple):
    problem: str  # why the provider refuses it; "" if it does not
    pinned: bool


def check_requirement(text: str, parse: Callable[[str], Parsed] | None = None) -> Verdict:
    """The provider's checks of one requirement (properties._requirement), in its order."""
    text = text.strip()
    limit = PROPERTIES["Requirements"]["max_item_length"]
    if not text:
        return Verdict("is empty", pinned=False)
    if len(text) > limit:
        return Verdict(f"is longer than {limit} characters", pinned=False)
    if text.startswith("-"):
        return Verdict("is a pip option; only PEP 508 requirements are allowed "
                       "(the package index is set on the provider)", pinned=False)
    if _PATHLIKE.search(text):
        return Verdict("is a path or URL; only packages from the index are allowed", pinned=False)
    try:
        parsed = (parse or parse_requirement)(text)
    except InvalidRequirementText:
        return Verdict("is not a valid PEP 508 requirement", pinned=False)
    if parsed.url:
        return Verdict("is a direct URL reference; only packages from the index are allowed", pinned=False)
    pinned = any(op == "===" or (op == "==" and not version.endswith(".*")) for op, version in parsed.specifiers)
    return Verdict("", pinned=pinned)


# --------------------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------------------
def check_resource(name: str, resource: Mapping[str, Any]) -> list[Finding]:
    """Every finding for one Custom::PythonLayer resource."""
    properties = resource.get("Properties")
    base: tuple[str | int, ...] = ("Properties",)
    if properties is None:
        properties, base = {}, ()
    if not isinstance(properties, Mapping) or is_function(properties):
        return []  # not a map (cfn-lint's own rules say so), or computed at deploy time
    findings: list[Finding] = []
    for key, value in properties.items():
        key = str(key)
        if key in IGNORED or key.startswith("Fn::"):
            continue
        spec = PROPERTIES.get(key)
        if spec is None:
            findings.append(Finding(UNKNOWN_PROPERTY, (*base, key), _unknown(name, key)))
        elif value is not None and not is_function(value):
            findings.extend(_check_property(name, spec, value, (*base, key)))
    if any(str(key).startswith("Fn::") for key in properties):
        return findings  # Fn::Transform may add properties: presence cannot be judged
    for spec in PROPERTIES.values():
        value = properties.get(spec["name"])
        if not spec["required"]:
            continue
        if value is None:
            findings.append(Finding(MISSING_PROPERTY, base, f"{name}: {spec['name']} is required."))
        elif value in ("", []):
            findings.append(Finding(MISSING_PROPERTY, (*base, spec["name"]),
                                    f"{name}: {spec['name']} is required; it is empty."))
    if "ServiceTimeout" not in properties:
        findings.append(Finding(NO_SERVICE_TIMEOUT, base,
                                f"{name}: ServiceTimeout is not set: CloudFormation would wait up to an hour "
                                "for an answer that is lost. Set it (900 is plenty)."))
    return findings


def _unknown(name: str, key: str) -> str:
    close = difflib.get_close_matches(key, list(PROPERTIES), n=1)
    hint = f"did you mean {close[0]}?" if close else "allowed: " + ", ".join(PROPERTIES)
    return f"{name}: {clip(key)} is not a property of {RESOURCE_TYPE} ({hint})."


def _check_property(name: str, spec: Mapping[str, Any], value: object, path: tuple[str | int, ...]) -> list[Finding]:
    prop = spec["name"]
    kind = spec["type"]
    if kind == "List of String":
        return list(_check_list(name, spec, value, path))
    if kind not in ("String", "Boolean"):
        return []
    text = as_text(value)
    if kind == "Boolean":
        if text is None or text.strip().lower() not in ("true", "false", ""):
            shown = _kind(value) if text is None else repr(clip(text))
            return [Finding(WRONG_TYPE, path, f"{name}: {prop} must be true or false, got {shown}.")]
        return []
    if text is None:
        return [Finding(WRONG_TYPE, path, f"{name}: {prop} must be a string, got {_kind(value)}.")]
    if text == "":
        return []  # empty: the default, or "is required" for a required property
    return [Finding(BAD_VALUE, path, f"{name}: {message}") for message in _check_text(spec, prop, text)]


def _check_text(spec: Mapping[str, Any], label: str, text: str) -> Iterator[str]:
    pattern = spec.get("pattern")
    if pattern is not None and not re.fullmatch(pattern, text):
        yield f"{label} {clip(text)!r} is invalid: use {spec['pattern_hint']}."
    allowed = spec.get("enum")
    if allowed is not None and text not in allowed:
        yield f"{label} {clip(text)!r} is not supported: use one of {', '.join(allowed)}."
    limit = spec.get("max_length")
    if limit is not None and len(text) > limit:
        yield f"{label} is {len(text)} characters long; the limit is {limit}."


def _items(
    spec: Mapping[str, Any], value: object, path: tuple[str | int, ...]
) -> list[tuple[str, tuple[str | int, ...], object]] | None:
    """(label, path, entry) of a list property's entries; None if the value is a map."""
    if isinstance(value, list):
        return [(f"[{i}]", (*path, i), entry) for i, entry in enumerate(value)]
    text = as_text(value)
    if text is None:
        return None
    if spec.get("string_form") == "lines":
        # The provider's reading of one string: a requirements.txt without options.
        items: list[tuple[str, tuple[str | int, ...], object]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                items.append((f" line {number}", path, line))
        return items
    return [] if text == "" else [("", path, text)]


def _check_list(name: str, spec: Mapping[str, Any], value: object, path: tuple[str | int, ...]) -> Iterator[Finding]:
    prop = spec["name"]
    items = _items(spec, value, path)
    if items is None:
        yield Finding(WRONG_TYPE, path, f"{name}: {prop} must be a list of strings, got {_kind(value)}.")
        return
    if not items:
        if spec["required"] and value not in ("", []):
            yield Finding(MISSING_PROPERTY, path, f"{name}: {prop} is required; it holds only comments.")
        return
    literal = [item for item in items if not is_function(item[2])]
    limit = spec.get("max_items")
    if limit is not None and len(literal) > limit:
        yield Finding(BAD_VALUE, path, f"{name}: {prop} holds {len(literal)} entries; the limit is {limit}.")
    for label, where, entry in literal:
        text = as_text(entry)
        if text is None:
            yield Finding(WRONG_TYPE, where, f"{name}: {prop}{label} must be a string, got {_kind(entry)}.")
        elif spec.get("items") == "pep508":
            yield from _check_requirement_entry(name, f"{prop}{label}", where, text)
        elif "items_enum" in spec and text not in spec["items_enum"]:
            yield Finding(BAD_VALUE, where, f"{name}: {prop}{label} {clip(text)!r} is not supported: "
                                            f"use one of {', '.join(spec['items_enum'])}.")


def _check_requirement_entry(name: str, label: str, path: tuple[str | int, ...], text: str) -> Iterable[Finding]:
    verdict = check_requirement(text)
    subject = f"{name}: {label} {clip(text.strip())!r}" if text.strip() else f"{name}: {label}"
    if verdict.problem:
        return [Finding(BAD_REQUIREMENT, path, f"{subject} {verdict.problem}.")]
    if not verdict.pinned:
        return [Finding(UNPINNED_REQUIREMENT, path,
                        f"{subject} is not pinned to one version with ==: the layer can change between "
                        "deploys while the template stays the same.")]
    return []


def template_findings(cfn: Any) -> Iterator[tuple[str, Finding]]:
    """(logical id, finding) for every Custom::PythonLayer resource of a cfn-lint Template."""
    for name, resource in cfn.get_resources([RESOURCE_TYPE]).items():
        for finding in check_resource(str(name), resource):
            yield name, finding


# --------------------------------------------------------------------------------------
# The rules: one id each, all fed by check_resource.
# --------------------------------------------------------------------------------------
class _Matcher:
    """Shared match(); not a CloudFormationLintRule itself, so cfn-lint does not load it."""

    id: str

    def match(self, cfn: Any) -> list[Any]:
        return [RuleMatch(["Resources", name, *finding.path], finding.message)
                for name, finding in template_findings(cfn) if finding.rule == self.id]


class PythonLayerUnknownProperty(_Matcher, CloudFormationLintRule):  # type: ignore[misc]
    id = UNKNOWN_PROPERTY
    shortdesc = "Unknown Custom::PythonLayer property"
    description = ("Custom::PythonLayer refuses any property it does not know (a misspelt name is not "
                   "silently dropped). ServiceToken and ServiceTimeout are CloudFormation's.")
    source_url = _DOCS
    tags: ClassVar[list[str]] = ["resources", "custom", "pythonlayer"]


class PythonLayerMissingProperty(_Matcher, CloudFormationLintRule):  # type: ignore[misc]
    id = MISSING_PROPERTY
    shortdesc = "Required Custom::PythonLayer property missing"
    description = "LayerName and Requirements must be set and not empty."
    source_url = _DOCS
    tags: ClassVar[list[str]] = ["resources", "custom", "pythonlayer"]


class PythonLayerWrongType(_Matcher, CloudFormationLintRule):  # type: ignore[misc]
    id = WRONG_TYPE
    shortdesc = "Custom::PythonLayer property of the wrong type"
    description = ("A list or map where a string belongs, a Boolean that is not true or false, "
                   "a map where a list belongs, a list entry that is not a string.")
    source_url = _DOCS
    tags: ClassVar[list[str]] = ["resources", "custom", "pythonlayer"]


class PythonLayerBadValue(_Matcher, CloudFormationLintRule):  # type: ignore[misc]
    id = BAD_VALUE
    shortdesc = "Custom::PythonLayer property value not allowed"
    description = ("LayerName not 1-64 of letters, digits, _ or -; Runtime, Architecture or a "
                   "CompatibleRuntimes entry the provider does not support; Description or LicenseInfo "
                   "too long; too many Requirements or CompatibleRuntimes.")
    source_url = _DOCS
    tags: ClassVar[list[str]] = ["resources", "custom", "pythonlayer"]


class PythonLayerBadRequirement(_Matcher, CloudFormationLintRule):  # type: ignore[misc]
    id = BAD_REQUIREMENT
    shortdesc = "Custom::PythonLayer requirement refused"
    description = ("Each requirement must be a PEP 508 requirement of a package from the index: "
                   "no pip options, local paths, URLs or direct URL references (name @ url).")
    source_url = _PEP508
    tags: ClassVar[list[str]] = ["resources", "custom", "pythonlayer", "requirements"]


class PythonLayerUnpinnedRequirement(_Matcher, CloudFormationLintRule):  # type: ignore[misc]
    id = UNPINNED_REQUIREMENT
    shortdesc = "Custom::PythonLayer requirement not pinned"
    description = ("A requirement without == (or ===) can resolve to another version at the next build "
                   "while the template shows no change.")
    source_url = _PEP508
    tags: ClassVar[list[str]] = ["resources", "custom", "pythonlayer", "requirements"]


class PythonLayerServiceTimeout(_Matcher, CloudFormationLintRule):  # type: ignore[misc]
    id = NO_SERVICE_TIMEOUT
    shortdesc = "Custom::PythonLayer without ServiceTimeout"
    description = ("Without ServiceTimeout, CloudFormation waits up to an hour for an answer that is lost; "
                   "set it (900 is plenty).")
    source_url = _DOCS
    tags: ClassVar[list[str]] = ["resources", "custom", "pythonlayer"]
