"""A Lambda layer version: the one type for what the provider lists, reads, publishes and deletes."""

from __future__ import annotations

import re
from dataclasses import dataclass

LAYER_VERSION_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"layer:(?P<name>[A-Za-z0-9_-]{1,140}):(?P<number>[1-9]\d{0,9})"
)


@dataclass(frozen=True)
class LayerVersion:
    """Built only by ``parse``, so every instance names a well-formed version ARN.

    ``description`` comes with a listing; ``code_sha256`` and ``code_size`` with
    GetLayerVersion or a publish.
    """

    arn: str
    region: str
    account: str
    name: str
    number: int
    description: str = ""
    code_sha256: str = ""
    code_size: int = 0

    @property
    def layer_arn(self) -> str:
        return self.arn.rsplit(":", 1)[0]

    @classmethod
    def parse(cls, arn: object, description: str = "", code_sha256: str = "", code_size: int = 0
              ) -> LayerVersion | None:
        """The version an id names, or None when it is not a layer version ARN."""
        if not isinstance(arn, str):
            return None
        match = LAYER_VERSION_ARN.fullmatch(arn)
        if not match:
            return None
        return cls(arn, match["region"], match["account"], match["name"], int(match["number"]), description,
                   code_sha256, code_size)
