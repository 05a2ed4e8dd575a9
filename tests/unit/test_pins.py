"""One uv version everywhere: the provider's layer, its build's pinned wheels, the package and the tests."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_uv_pin_names_the_same_version() -> None:
    version = (ROOT / "layers" / "provider" / "uv-version.txt").read_text().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    pins = {
        "pyproject.toml": re.findall(r'"uv==([^"]+)"', (ROOT / "pyproject.toml").read_text()),
        "tests/requirements.txt": re.findall(r"^uv==(\S+)", (ROOT / "tests" / "requirements.txt").read_text(),
                                             re.MULTILINE),
        "layers/provider/uv-wheels.txt": re.findall(r"\buv-([0-9][^-]*)-py3", (ROOT / "layers" / "provider" /
                                                                                "uv-wheels.txt").read_text()),
    }
    for where, found in pins.items():
        assert found, f"no uv pin found in {where}"
        assert set(found) == {version}, f"{where} pins uv {sorted(set(found))}, uv-version.txt {version}"
