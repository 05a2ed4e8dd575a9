"""An installer's stderr, turned into the one sentence CloudFormation shows the user (the stack event's Reason).

uv explains a failed resolution in a chain of "Because ..." clauses. When the
cause is a package without a usable wheel, the clause comes in many forms
(pinned or not, one version or several, a dependency, a range, wheels for
another platform or Python only); every one of them is answered with a
sentence naming the packages and the remedy. Anything else is answered with
uv's (or pip's) own explanation, clipped.

The summary never holds escape codes, credentials of an index URL, or more
than ``MAX_REASON`` characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from .fitting import supported_tags
from .properties import clip
from .target import Target

SDIST_HINT = "source distributions are not allowed (provider parameter AllowSourceDistributions)"
MAX_REASON = 300
_MAX_NAMES = 70  # characters of package names in a "No wheel of ..." sentence
_MAX_TAGS = 60  # characters of the wheel tags quoted from uv's hints

Kind = Literal["none", "platform", "python", "other"]

# Terminal escapes (CSI such as colours, OSC such as hyperlinks, character sets, two-byte ESC sequences), then any
# control character but newline and tab.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[()*+][0-9A-Za-z]"
                      r"|\x1b[@-Z\\-_]?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# user:password@ in a URL (uv masks it, pip and proxies may not); greedy to the last "@" before the path.
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s`'\"<>]*@")

_INDEX_REFUSED = re.compile(r"lack of valid authentication credentials \((?P<status>40[13][^)]*)\)")

# What uv says cannot be used: "mysqlclient", "mysqlclient==2.2.4", "mysqlclient[x]<=2.2.4", "a>=1.0,<2.0".
_OPERATOR = r"(?:===?|!=|~=|<=?|>=?)"
_SUBJECT = (r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[A-Za-z0-9._,-]*\])?"
            rf"(?:{_OPERATOR}[A-Za-z0-9.*+!_-]+(?:,\s?{_OPERATOR}[A-Za-z0-9.*+!_-]+)*)?")
_REASON = (r"no (?:usable wheels"  # only source distributions, and building them is disabled
           r"|wheels with (?:a matching |valid |a free-threading compatible )[A-Za-z ]*?tags?"  # wrong tags
           r"|[A-Za-z0-9_.-]*-?compatible wheels)")  # required environments: "no Linux-compatible wheels"
_NO_WHEEL = re.compile(
    rf"(?:\ball versions of (?P<all>{_SUBJECT}) have|(?<![\w.\[\]=<>!~*+-])(?P<one>{_SUBJECT}) has)"
    rf" (?P<reason>{_REASON})")
# uv's hints, the fallback when no clause matches, and where the tags of the wheels that exist are listed.
_HINT_SOURCE_ONLY = re.compile(r"Wheels are required for `(?P<package>[^`]+)` because building from source is disabled")
_HINT_TAGS = re.compile(
    r"(?:Wheels are available|only found wheels) for `(?P<package>[^`]+)`(?: \([^)]*\))? "
    r"(?:on|with) the following (?:platform|Python [A-Za-z ]*?tag)s?: (?P<tags>`[^`]*`(?:, `[^`]*`)*)")


@dataclass(frozen=True)
class WheelProblem:
    """One thing uv says has no wheel for the target: ``name`` as uv wrote it, ``package`` normalised."""

    name: str
    package: str
    kind: Kind


def summarize_failure(stderr: str, target: Target, releases: Mapping[str, Sequence[str]] | None = None) -> str:
    """The one sentence of installer output that tells the user what went wrong.

    ``releases``: the wheel file names the index has for a pinned release uv called unusable
    (``pinned_unusable``), where the caller looked them up: uv says "no usable wheels" both of a release
    that is source only and of one whose wheels are all for other Pythons (numpy 2.1 on python3.9).
    """
    text = clean(stderr)
    problems = wheel_problems(text)
    if problems:
        tags = _found_tags(text, problems)
        if releases:
            problems, tags = _with_releases(problems, tags, releases, target)
        return _no_wheel_reason(problems, tags, target)
    refused = _INDEX_REFUSED.search(text)
    if refused:
        return (f"Install failed for {target.describe()}: the package index refused the provider's "
                f"credentials ({clip(refused['status'], 40)}); check the index secret.")
    all_lines = [line.strip(" ×╰─▶│\t") for line in text.splitlines()]
    lines = [line for line in all_lines if line]
    # uv puts the explanation in a "Because ..." paragraph under its "error:" line (its "And because ..."
    # lines name the other side of a conflict); pip in its last "ERROR:" line; network failures in a
    # chain of "cause:" lines.
    explanation = _paragraph(all_lines, next((i for i, line in enumerate(all_lines) if "Because " in line), None))
    causes = [line.removeprefix("cause: ") for line in lines if line.startswith("cause: ")]
    errors = [line for line in lines if line.startswith(("ERROR: ", "error: "))]
    if not explanation and errors:
        explanation = errors[-1].removeprefix("ERROR: ").removeprefix("error: ")
        if explanation.startswith("Request failed after") and causes:
            explanation = causes[0]  # "... after 3 retries": the first cause says what
        if causes and causes[-1] != explanation:
            explanation = f"{explanation} ({causes[-1]})"  # the root cause: refused, DNS, TLS ...
    if not explanation:
        explanation = lines[-1] if lines else "the installer failed"
    explanation = explanation.removeprefix("cause: ").removeprefix("ERROR: ").removeprefix("error: ")
    prefix = f"Install failed for {target.describe()}: "
    return prefix + clip(explanation, MAX_REASON - len(prefix))


def _paragraph(lines: list[str], start: int | None) -> str:
    """The line at ``start`` and the lines continuing it, up to a blank line or uv's next message."""
    if start is None:
        return ""
    paragraph = [lines[start]]
    for line in lines[start + 1:]:
        if not line or line.startswith(("hint: ", "error: ", "warning: ", "cause: ", "ERROR: ")):
            break
        paragraph.append(line)
    return " ".join(paragraph)


def clean(stderr: str) -> str:
    """Installer output without terminal escapes, control characters or credentials in URLs."""
    text = _ESCAPES.sub("", stderr.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text)
    return _URL_CREDENTIALS.sub("", text)


def wheel_problems(text: str) -> list[WheelProblem]:
    """Everything uv's explanation says has no usable wheel for the target, in the order it says it."""
    flat = " ".join(text.split())  # uv breaks its clauses over indented lines
    found: dict[str, WheelProblem] = {}
    for match in _NO_WHEEL.finditer(flat):
        name = match["all"] or match["one"]
        problem = WheelProblem(name, _package(name), _kind(match["reason"]))
        found.setdefault(f"{problem.name}\0{problem.kind}", problem)
    if not found:  # the hint alone: "Wheels are required for `x` because building from source is disabled"
        for match in _HINT_SOURCE_ONLY.finditer(flat):
            problem = WheelProblem(match["package"], _package(match["package"]), "none")
            found.setdefault(f"{problem.name}\0{problem.kind}", problem)
    return list(found.values())


def pinned_unusable(stderr: str) -> list[tuple[str, str]]:
    """(project, version) of each ``name==version`` uv called unusable for no stated reason."""
    found = []
    for problem in wheel_problems(clean(stderr)):
        _, operator, version = problem.name.partition("==")
        if problem.kind == "none" and operator and re.fullmatch(r"[A-Za-z0-9.+!_-]+", version):
            found.append((problem.package, version))
    return found


def _with_releases(problems: list[WheelProblem], tags: list[str], releases: Mapping[str, Sequence[str]],
                   target: Target) -> tuple[list[WheelProblem], list[str]]:
    """A release uv called unusable that has wheels is one for other Pythons or platforms: say which."""
    accepted = {(t.interpreter, t.abi) for t in supported_tags(target)}
    changed = []
    for problem in problems:
        found = [tag for name in releases.get(problem.package, ()) for tag in _wheel_tags(name)]
        if problem.kind != "none" or not found:
            changed.append(problem)
            continue
        python_fits = any((t.interpreter, t.abi) in accepted for t in found)
        kind: Kind = "platform" if python_fits else "python"
        changed.append(WheelProblem(problem.name, problem.package, kind))
        shown = sorted({t.platform if python_fits else t.interpreter for t in found})
        tags = tags + [t for t in shown if t not in tags]
    return changed, tags


def _wheel_tags(filename: str) -> frozenset[Tag]:
    try:
        return parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return frozenset()


def _kind(reason: str) -> Kind:
    if reason == "no usable wheels":
        return "none"
    if "platform tag" in reason:
        return "platform"
    if "Python" in reason or "free-threading" in reason:
        return "python"
    if reason.endswith("-compatible wheels"):  # "no Linux-compatible wheels"
        return "platform"
    return "other"


def _package(name: str) -> str:
    """PEP 503 normalised project name of "Foo_Bar[x]>=1"."""
    bare = re.split(r"[\[<>=!~]", name, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", bare).lower()


def _found_tags(text: str, problems: list[WheelProblem]) -> list[str]:
    """The tags of the wheels that do exist, from uv's hints, for the packages whose wheels do not fit."""
    packages = {p.package for p in problems if p.kind != "none"}
    tags: list[str] = []
    for match in _HINT_TAGS.finditer(" ".join(text.split())):
        if _package(match["package"]) in packages:
            tags += [tag for tag in re.findall(r"`([^`]+)`", match["tags"]) if tag not in tags]
    return tags


def _names(problems: list[WheelProblem], limit: int = _MAX_NAMES) -> str:
    return _join(list(dict.fromkeys(p.name for p in problems)), limit, counted=True)


def _join(items: list[str], limit: int, counted: bool) -> str:
    """``items`` joined by ", ": as many whole ones as fit in ``limit`` characters, then "and N more" (or "...")."""

    def more(left: int) -> str:
        return "" if not left else f" and {left} more" if counted else ", ..."

    shown: list[str] = []
    length = 0
    for item in items:
        grown = length + (2 if shown else 0) + len(item)
        if grown + len(more(len(items) - len(shown) - 1)) > limit:
            break
        shown.append(item)
        length = grown
    left = len(items) - len(shown)
    if not shown:  # the first alone is too long
        return clip(items[0], limit - len(more(left - 1))) + more(left - 1)
    return ", ".join(shown) + more(left)


def _no_wheel_reason(problems: list[WheelProblem], tags: list[str], target: Target) -> str:
    # A package with wheels for another target is one a version, Runtime or Architecture may fix (even if
    # some of its versions are source only); a package uv calls unusable for no other reason is source only.
    other_target = [p for p in problems if p.kind != "none"]
    has_wheels = {p.package for p in other_target}
    source_only = [p for p in problems if p.kind == "none" and p.package not in has_wheels]
    kinds = {p.kind for p in other_target}
    elsewhere = ("other platforms" if kinds == {"platform"} else "other Python versions" if kinds == {"python"}
                 else "other platforms or Python versions")
    if not other_target:
        return f"No wheel of {_names(source_only)} for {target.describe()}; {SDIST_HINT}."
    if not source_only:
        listed = f": {_join(tags, _MAX_TAGS, counted=False)}" if tags else ""
        return clip(f"No wheel of {_names(other_target)} fits {target.describe()} (the index has wheels only for "
                    f"{elsewhere}{listed}); pick a version that has one, or change Runtime/Architecture.", MAX_REASON)
    return clip(f"No wheel of {_names(source_only, 50)} for {target.describe()}; {SDIST_HINT}. "
                f"Wheels of {_names(other_target, 50)} exist only for {elsewhere}.", MAX_REASON)
