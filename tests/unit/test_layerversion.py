from __future__ import annotations

import pytest

from pylayer.layerversion import LayerVersion


def test_a_layer_version_arn_is_understood() -> None:
    found = LayerVersion.parse("arn:aws-cn:lambda:cn-north-1:123456789012:layer:my_layer-1:42", "d", "c2hh", 7)
    assert found is not None
    assert (found.region, found.account, found.name, found.number) == ("cn-north-1", "123456789012", "my_layer-1", 42)
    assert found.layer_arn == "arn:aws-cn:lambda:cn-north-1:123456789012:layer:my_layer-1"
    assert (found.description, found.code_sha256, found.code_size) == ("d", "c2hh", 7)


@pytest.mark.parametrize("value", [
    "stack_Layer_ABCDEFGH", "", None, 42, ["arn"],
    "arn:aws:lambda:us-east-1:123456789012:layer:name",
    "arn:aws:lambda:us-east-1:123456789012:layer:name:0",
    "arn:aws:lambda:us-east-1:123456789012:function:name:1",
    "arn:aws:lambda:us-east-1:1234:layer:name:1",
    "arn:aws:lambda:us-east-1:123456789012:layer:name:1\n",
])
def test_anything_else_is_not_a_layer_version(value: object) -> None:
    assert LayerVersion.parse(value) is None
