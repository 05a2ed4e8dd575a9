"""Is an event CloudFormation's? Checked before anything else (no build, no publish, no answer). Pure.

CloudFormation's ResponseURL is a presigned URL into its response bucket of the stack's region,
``cloudformation-custom-resource-response-<region without dashes>``, always virtual-hosted (the bucket in
the host name). Seen in the field: ``<bucket>.s3.amazonaws.com`` (us-east-1),
``<bucket>.s3-<region>.amazonaws.com`` and ``<bucket>.s3.<region>.amazonaws.com``, and in China
``<bucket>.s3.<region>.amazonaws.com.cn``; the other partitions have their own domain. A custom
resource's function must be in the stack's region, so the StackId's region and the bucket's are the
provider's own. Tests and the demo name their local receiver in PYLAYER_RESPONSE_HOSTS.

An event that fails this is logged and dropped, never answered: answering would PUT to a host someone
else chose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

BUCKET = "cloudformation-custom-resource-response-"
# Partition DNS suffixes (botocore's partitions.json): aws and aws-us-gov, aws-cn, aws-iso, aws-iso-b,
# aws-iso-e, aws-iso-f, aws-eusc.
DOMAINS = ("amazonaws.com", "amazonaws.com.cn", "c2s.ic.gov", "sc2s.sgov.gov", "cloud.adc-e.uk", "csp.hci.ic.gov",
           "amazonaws.eu")
_HOST = re.compile(rf"^{BUCKET}(?P<bucket_region>[a-z0-9]+)\.s3(?:[.-](?P<region>[a-z]{{2,5}}(?:-[a-z]+)+-\d+))?"
                   rf"\.(?P<domain>{'|'.join(re.escape(d) for d in DOMAINS)})$")
_STACK_REGION = re.compile(r"^arn:aws[a-z-]*:cloudformation:(?P<region>[a-z0-9-]+):\d{12}:stack/")


# The DNS suffix of each partition, by its regions' prefix (botocore's partitions.json); the rest: aws.
_PARTITION_DOMAINS = (("cn-", "amazonaws.com.cn"), ("us-isob-", "sc2s.sgov.gov"), ("us-isof-", "csp.hci.ic.gov"),
                      ("us-iso-", "c2s.ic.gov"), ("eu-isoe-", "cloud.adc-e.uk"), ("eusc-", "amazonaws.eu"))


def partition_domain(region: str) -> str:
    """The S3 domain of the region's own partition: a response host of another partition is not ours."""
    return next((domain for prefix, domain in _PARTITION_DOMAINS if region.startswith(prefix)), "amazonaws.com")


def response_host(url: str, region: str) -> bool:
    """Whether a ResponseURL's host is CloudFormation's response bucket for this region."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # out of range, or not a number: not a URL CloudFormation sends
        return False
    if parts.scheme != "https" or parts.username or parts.password or port not in (None, 443):
        return False
    match = _HOST.match(parts.hostname or "")
    if match is None or match["domain"] != partition_domain(region):
        return False
    # The global endpoint (no region in the host) serves a bucket of any region: its name says which.
    return match["bucket_region"] == region.replace("-", "") and match["region"] in (None, region)


def problem(event: Mapping[str, object], region: str, extra_hosts: frozenset[str] = frozenset()) -> str | None:
    """Why an event does not come from CloudFormation for this provider's region, or None when it may."""
    url = str(event.get("ResponseURL", ""))
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return "the ResponseURL is not a URL"
    if not (host in extra_hosts and url.startswith("https://")) and not response_host(url, region):
        return f"the ResponseURL's host {host[:80] or '(none)'} is not CloudFormation's in {region}"
    found = _STACK_REGION.match(str(event.get("StackId", "")))
    if found is None or found["region"] != region:
        return f"the StackId is not a stack of {region}"
    return None


def hosts(value: str) -> frozenset[str]:
    """PYLAYER_RESPONSE_HOSTS: comma-separated host names (tests, the demo)."""
    return frozenset(h.strip().lower() for h in value.split(",") if h.strip())
