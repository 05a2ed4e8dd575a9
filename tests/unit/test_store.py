from __future__ import annotations

import pytest

from pylayer.store import parse_version_arn


def test_a_layer_version_arn_is_understood() -> None:
    ref = parse_version_arn("arn:aws-cn:lambda:cn-north-1:123456789012:layer:my_layer-1:42")
    assert ref is not None
    assert (ref.region, ref.account, ref.name, ref.version) == ("cn-north-1", "123456789012", "my_layer-1", 42)
    assert ref.layer_arn == "arn:aws-cn:lambda:cn-north-1:123456789012:layer:my_layer-1"


@pytest.mark.parametrize("value", [
    "stack_Layer_ABCDEFGH", "", None, 42, ["arn"],
    "arn:aws:lambda:us-east-1:123456789012:layer:name",
    "arn:aws:lambda:us-east-1:123456789012:layer:name:0",
    "arn:aws:lambda:us-east-1:123456789012:function:name:1",
    "arn:aws:lambda:us-east-1:1234:layer:name:1",
    "arn:aws:lambda:us-east-1:123456789012:layer:name:1\n",
])
def test_anything_else_is_not_a_layer_version(value: object) -> None:
    assert parse_version_arn(value) is None
