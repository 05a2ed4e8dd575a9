"""Only CloudFormation is answered: the ResponseURL's host must be its response bucket in the provider's region."""

from __future__ import annotations

import pytest

from pylayer import origin

STACK = "arn:aws:cloudformation:{region}:123456789012:stack/s/0f1e2d3c"


def event(url: str, region: str = "us-east-1") -> dict[str, str]:
    return {"ResponseURL": url, "StackId": STACK.format(region=region)}


@pytest.mark.parametrize(("url", "region"), [
    ("https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws%3A...?Signature=x",
     "us-east-1"),
    ("https://cloudformation-custom-resource-response-useast2.s3.us-east-2.amazonaws.com/p?X-Amz-Expires=7200",
     "us-east-2"),
    ("https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/p", "eu-west-1"),
    ("https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/p", "eu-west-1"),  # global endpoint
    ("https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/p", "cn-north-1"),
    ("https://cloudformation-custom-resource-response-usgovwest1.s3.us-gov-west-1.amazonaws.com/p",
     "us-gov-west-1"),
    ("https://cloudformation-custom-resource-response-usisoeast1.s3.us-iso-east-1.c2s.ic.gov/p", "us-iso-east-1"),
    ("https://cloudformation-custom-resource-response-euscdeeast1.s3.eusc-de-east-1.amazonaws.eu/p",
     "eusc-de-east-1"),
])
def test_cloudformations_response_hosts_in_every_partition(url: str, region: str) -> None:
    assert origin.problem(event(url, region), region) is None


@pytest.mark.parametrize(("url", "why"), [
    ("https://attacker.example.com/cloudformation-custom-resource-response-useast1/x", "is not CloudFormation's"),
    ("http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x", "is not CloudFormation's"),
    ("https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.evil.com/x", "is not CloudFormation's"),
    ("https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com:8443/x", "is not CloudFormation's"),
    ("https://user:pw@cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x", "is not CloudFormation's"),
    ("https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/x",
     "is not CloudFormation's in us-east-1"),  # another region's bucket
    ("https://cloudformation-custom-resource-response-useast1.s3.eu-west-1.amazonaws.com/x",
     "is not CloudFormation's"),  # the bucket's region and the endpoint's disagree
    ("https://s3.amazonaws.com/cloudformation-custom-resource-response-useast1/x", "is not CloudFormation's"),
    ("", "(none)"),
])
def test_anything_else_is_refused_with_why(url: str, why: str) -> None:
    found = origin.problem(event(url), "us-east-1")
    assert found is not None and why in found


def test_the_stack_must_be_in_the_providers_region() -> None:
    url = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x"
    assert origin.problem(event(url, region="eu-west-1"), "us-east-1") == "the StackId is not a stack of us-east-1"
    assert origin.problem({"ResponseURL": url, "StackId": "stack/s"}, "us-east-1") is not None


def test_tests_and_the_demo_name_their_local_receiver() -> None:
    hosts = origin.hosts(" localhost, Receiver.test ,")
    assert hosts == {"localhost", "receiver.test"}
    assert origin.problem(event("https://localhost:8443/x"), "us-east-1", hosts) is None
    assert origin.problem(event("http://localhost:8443/x"), "us-east-1", hosts) is not None  # still HTTPS only
    assert origin.problem(event("https://localhost:8443/x"), "us-east-1") is not None


@pytest.mark.parametrize("url", [
    "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com:99999/x",  # a port out of range
    "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com:http/x",
    "https://[::1/x",
])
def test_a_malformed_response_url_is_refused_not_raised(url: str) -> None:
    found = origin.problem(event(url), "us-east-1")
    assert found is not None


@pytest.mark.parametrize(("url", "region"), [
    ("https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.cn/x", "us-east-1"),
    ("https://cloudformation-custom-resource-response-useast1.s3.c2s.ic.gov/x", "us-east-1"),
    ("https://cloudformation-custom-resource-response-useast1.s3.sc2s.sgov.gov/x", "us-east-1"),
    ("https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com/x", "cn-north-1"),
])
def test_only_the_providers_own_partition_answers(url: str, region: str) -> None:
    found = origin.problem(event(url, region), region)
    assert found is not None and "is not CloudFormation's" in found
