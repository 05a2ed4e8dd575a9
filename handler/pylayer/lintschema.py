"""The property facts the shipped cfn-lint rules check, written out as data.

The rules in cfn-lint-rules/ run in a user's cfn-lint, where this package is
not importable, so they read cfn-lint-rules/python_layer_schema.json instead.
That file is produced from the same constants ``properties.parse`` validates
with, and committed:

    PYTHONPATH=handler python -m pylayer.lintschema > cfn-lint-rules/python_layer_schema.json

tests/unit/test_cfn_lint_rules.py fails when the committed file differs from
what ``render`` produces, so the two never drift.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from . import properties
from .target import ARCHITECTURES, RUNTIMES

RESOURCE_TYPE = "Custom::PythonLayer"
# properties._compatible_runtimes refuses more than this many (a literal there;
# the unit test checks the handler agrees).
MAX_COMPATIBLE_RUNTIMES = 15
COMMAND = "PYTHONPATH=handler python -m pylayer.lintschema > cfn-lint-rules/python_layer_schema.json"


def constraints() -> dict[str, dict[str, Any]]:
    """What ``properties.parse`` checks beyond a property's type, by property name.

    A property of SCHEMA that is not named here is checked for its type only.
    """
    return {
        "LayerName": {
            "pattern": properties.LAYER_NAME.pattern,  # matched in full, as the provider does
            "pattern_hint": "1-64 letters, digits, '_' or '-'",
        },
        "Requirements": {
            "items": "pep508",
            "string_form": "lines",  # one string: a requirement per line, '#' comments
            "max_items": properties.MAX_REQUIREMENTS,
            "max_item_length": properties.MAX_REQUIREMENT_LENGTH,
        },
        "Runtime": {"enum": list(RUNTIMES)},
        "Architecture": {"enum": list(ARCHITECTURES)},
        "CompatibleRuntimes": {
            "items_enum": list(RUNTIMES),
            "string_form": "item",  # one string: a list of that one runtime
            "max_items": MAX_COMPATIBLE_RUNTIMES,
        },
        "Description": {"max_length": properties.MAX_DESCRIPTION},
        "LicenseInfo": {"max_length": properties.MAX_LICENSE},
    }


def schema() -> dict[str, Any]:
    """Everything the rules need to refuse what ``properties.parse`` refuses."""
    extra = constraints()
    unknown = set(extra) - {p.name for p in properties.SCHEMA}
    if unknown:
        raise ValueError(f"constraints for properties not in properties.SCHEMA: {sorted(unknown)}")
    return {
        "generated_by": COMMAND,
        "resource_type": RESOURCE_TYPE,
        "properties": [
            {"name": p.name, "required": p.required, "type": p.type, "description": p.description,
             **extra.get(p.name, {})}
            for p in properties.SCHEMA
        ],
        "ignored_properties": sorted(properties.IGNORED),
        "path_like_pattern": properties._PATHLIKE.pattern,
        "path_like_ignore_case": bool(properties._PATHLIKE.flags & re.IGNORECASE),
    }


def render() -> str:
    """The JSON text, exactly as committed."""
    return json.dumps(schema(), indent=2, ensure_ascii=True) + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
