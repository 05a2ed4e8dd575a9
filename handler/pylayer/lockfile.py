"""What a published layer holds, written into it: a PEP 751 lock (pylock.toml) per runtime it serves.

The locks sit outside ``python/`` (so no runtime imports them), at
``pylayer/<content key>/pylock.python312.toml``: a path that two layers of one
function never share (their content keys differ) and that does not name the
layer (so the archive can be published again under another LayerName).
A scanner, a reviewer or ``pylayer diff`` reads them from the zip alone.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .target import RUNTIMES, Target
from .wheels import Wheel

FOLDER = "pylayer"
PYPI = "https://pypi.org/simple/"


@dataclass(frozen=True)
class Locked:
    """One package of a lock: what ``diff`` compares."""

    name: str
    version: str
    wheel: str
    sha256: str
    folder: str  # where it is in the layer: python, or python/lib/python3.12/site-packages


def path(content_key: str, runtime: str) -> str:
    major, minor = RUNTIMES[runtime]
    return f"{FOLDER}/{content_key[:16]}/pylock.python{major}{minor}.toml"  # PEP 751: no dot in the name


def without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))  # keeps [ipv6]:port as written


def _string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def render(target: Target, wheels: Sequence[Wheel], folders: Mapping[str, str], index: str) -> str:
    """The lock of one runtime: every wheel it loads, where it is in the layer. Deterministic text."""
    index = without_credentials(index or PYPI)
    lines = [
        'lock-version = "1.0"',
        'created-by = "pylayer"',
        f"requires-python = {_string('==' + target.python_version + '.*')}",
        f"environments = [{_string(environment(target))}]",
    ]
    for wheel in sorted(wheels, key=lambda w: w.name.lower()):
        lines += [
            "",
            "[[packages]]",
            f"name = {_string(wheel.name)}",
            f"version = {_string(wheel.version)}",
            f"index = {_string(index)}",
        ]
        if wheel.url:  # without one (a hand-made Wheel in tests), the lock names the version only
            url = without_credentials(wheel.url)
            lines.append(f"wheels = [{{ name = {_string(wheel.filename)}, url = {_string(url)}, "
                         f"hashes = {{ sha256 = {_string(wheel.sha256)} }} }}]")
        lines += [
            "",
            "[packages.tool.pylayer]",
            f"folder = {_string(folders.get(wheel.sha256 or wheel.name, 'python'))}",
        ]
    return "\n".join(lines) + "\n"


def environment(target: Target) -> str:
    return (f"python_version == '{target.python_version}' and platform_machine == '{target.machine}' "
            "and sys_platform == 'linux'")


def read(text: str) -> list[Locked]:
    """The packages of a lock this module wrote (or any PEP 751 lock naming one wheel per package)."""
    data = tomllib.loads(text)
    found = []
    for package in data.get("packages", []):
        wheels = package.get("wheels") or [{}]
        tool = package.get("tool", {}).get("pylayer", {})
        found.append(Locked(str(package.get("name", "")), str(package.get("version", "")),
                            str(wheels[0].get("name", "")), str(wheels[0].get("hashes", {}).get("sha256", "")),
                            str(tool.get("folder", "python"))))
    return found


def runtime_of(name: str) -> str | None:
    """'pylayer/<key>/pylock.python312.toml' -> 'python3.12'."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != FOLDER or not parts[2].startswith("pylock.python"):
        return None
    digits = parts[2].removeprefix("pylock.python").removesuffix(".toml")
    runtime = f"python{digits[0]}.{digits[1:]}" if len(digits) >= 2 else ""
    return runtime if runtime in RUNTIMES else None
