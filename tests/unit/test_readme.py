"""README.md is the user's manual: it must name everything the code and template offer."""

from __future__ import annotations

import re
from pathlib import Path

from cfnlint.decode import cfn_yaml

from pylayer.properties import SCHEMA

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_property_of_the_schema_has_a_reference_entry() -> None:
    for prop in SCHEMA:
        entry = re.search(rf"^`{prop.name}`\n: (?P<text>.+)\n: \*Required\*: (?P<required>Yes|No)\.", README,
                          re.MULTILINE)
        assert entry, f"README.md has no reference entry for {prop.name}"
        assert (entry["required"] == "Yes") == prop.required, prop.name
        assert f"  {prop.name}: " in README, f"{prop.name} is missing from the Syntax block"


def test_every_template_parameter_is_documented() -> None:
    parameters = cfn_yaml.load(str(ROOT / "template.yaml"))["Parameters"]
    for name in parameters:
        assert f"`{name}`" in README, name


def test_every_make_target_named_in_the_readme_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in set(re.findall(r"`make (?:-s )?([a-z][a-z-]*)", README)):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"make {target} is not in the Makefile"
