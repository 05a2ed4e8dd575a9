"""LayerStore against botocore's Stubber: what each AWS answer becomes (no network, no moto)."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from pylayer.aws import Clients
from pylayer.errors import AwsCallFailed
from pylayer.invoker import Invoker
from pylayer.layerversion import LayerVersion
from pylayer.store import LayerStore

ARN = "arn:aws:lambda:us-east-1:123456789012:layer:deps:3"
Plan = Callable[[Stubber], None]


class StubbedSession:
    """Stands in for boto3's Session: each client comes with a Stubber already loaded by the test."""

    def __init__(self, **plans: Plan) -> None:
        self.plans = plans
        self.stubbers: list[Stubber] = []

    def client(self, service: str, region_name: str | None = None, config: Any = None) -> Any:
        client = botocore.session.get_session().create_client(
            service, region_name=region_name or "us-east-1", config=config,
            aws_access_key_id="testing", aws_secret_access_key="testing")
        stubber = Stubber(client)
        self.plans[service](stubber)
        stubber.activate()
        self.stubbers.append(stubber)
        return client

    def done(self) -> None:
        for stubber in self.stubbers:
            stubber.assert_no_pending_responses()


def store(plans: dict[str, Plan], attempts: int = 3) -> tuple[LayerStore, StubbedSession]:
    session = StubbedSession(**plans)
    return LayerStore.connect("bucket", "us-east-1", session, attempts), session


def version() -> LayerVersion:
    found = LayerVersion.parse(ARN)
    assert found is not None
    return found


def layer_version_answer(description: str = "d [pylayer 0123456789abcdef abcdef012345 10 i]") -> dict[str, Any]:
    return {"LayerVersionArn": ARN, "LayerArn": ARN.rsplit(":", 1)[0], "Version": 3, "Description": description,
            "Content": {"CodeSha256": "c2hh", "CodeSize": 10, "Location": "https://x"}}


def test_a_version_that_does_not_exist_reads_as_none() -> None:
    aws, session = store({"lambda": lambda s: s.add_client_error(
        "get_layer_version", "ResourceNotFoundException", http_status_code=404)})
    assert aws.layers.get(version()) is None
    session.done()


def test_a_version_reads_with_its_content_identity() -> None:
    expected = {"LayerName": ARN.rsplit(":", 1)[0], "VersionNumber": 3}
    aws, session = store({"lambda": lambda s: s.add_response(
        "get_layer_version", layer_version_answer(), expected)})
    found = aws.layers.get(version())
    assert found is not None
    assert (found.number, found.code_sha256, found.code_size) == (3, "c2hh", 10)
    session.done()


def test_throttling_that_outlasts_the_retries_is_a_short_reason() -> None:
    # The Stubber answers after botocore's retries; that they happen (standard mode, backoff) is shown below
    # boto3 by tests/functional/test_faults.py.
    aws, session = store({"lambda": lambda s: s.add_client_error(
        "delete_layer_version", "TooManyRequestsException", http_status_code=429)}, attempts=3)
    with pytest.raises(AwsCallFailed) as caught:
        aws.layers.delete(version())
    assert caught.value.reason == (f"DeleteLayerVersion for {ARN} failed: TooManyRequestsException "
                                   "(throttled, still after 4 attempts). Retry the deployment.")
    session.done()


def test_a_delete_of_a_version_already_gone_counts_as_done() -> None:
    aws, session = store({"lambda": lambda s: s.add_client_error(
        "delete_layer_version", "ResourceNotFoundException", http_status_code=404)})
    aws.layers.delete(version())
    session.done()


def test_access_denied_names_the_role() -> None:
    aws, session = store({"lambda": lambda s: s.add_client_error(
        "list_layer_versions", "AccessDeniedException", http_status_code=403)})
    with pytest.raises(AwsCallFailed) as caught:
        aws.layers.versions("deps")
    assert caught.value.reason == ("ListLayerVersions for deps failed: AccessDeniedException. "
                                   "Check the provider role's permissions.")
    session.done()


def test_a_layer_that_does_not_exist_has_no_versions() -> None:
    aws, session = store({"lambda": lambda s: s.add_client_error(
        "list_layer_versions", "ResourceNotFoundException", http_status_code=404)})
    assert aws.layers.versions("deps") == []
    session.done()


def test_a_missing_object_is_none_and_not_there() -> None:
    def plan(stubber: Stubber) -> None:
        stubber.add_client_error("get_object", "NoSuchKey", http_status_code=404)
        stubber.add_client_error("head_object", "404", http_status_code=404)

    aws, session = store({"s3": plan})
    assert aws.artifacts.read_json("specs/x.json") is None
    assert aws.artifacts.exists("layers/x.zip") is False
    session.done()


def test_an_object_that_is_not_json_reads_as_none() -> None:
    aws, session = store({"s3": lambda s: s.add_response(
        "get_object", {"Body": io.BytesIO(b"not json")}, {"Bucket": "bucket", "Key": "specs/x.json"})})
    assert aws.artifacts.read_json("specs/x.json") is None
    session.done()


def test_an_archive_already_uploaded_is_not_uploaded_again(tmp_path: Path) -> None:
    zipped = tmp_path / "layer.zip"
    zipped.write_bytes(b"PK")
    aws, session = store({"s3": lambda s: s.add_response("head_object", {}, {"Bucket": "bucket", "Key": "k"})})
    assert aws.artifacts.upload(zipped, "k") is False
    session.done()


def test_a_publish_that_boto3_retried_says_so() -> None:
    def plan(stubber: Stubber) -> None:
        answer = {**layer_version_answer(), "ResponseMetadata": {"RetryAttempts": 1, "HTTPStatusCode": 201}}
        stubber.add_response("publish_layer_version", answer, {
            "LayerName": "deps", "Content": {"S3Bucket": "bucket", "S3Key": "layers/x.zip"},
            "CompatibleRuntimes": ["python3.12", "python3.13"], "CompatibleArchitectures": ["arm64"],
            "Description": "d"})

    from pylayer.properties import Defaults, parse

    spec = parse({"LayerName": "deps", "Requirements": ["six"], "CompatibleRuntimes": ["python3.13", "python3.12"]},
                 Defaults("python3.12", "arm64"))
    aws, session = store({"lambda": plan})
    published, retried = aws.layers.publish(spec, "layers/x.zip", "d")
    assert published.arn == ARN and retried
    session.done()


def test_a_worker_that_raised_answers_with_its_error() -> None:
    aws, session = store({"lambda": lambda s: s.add_response(
        "invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                   "Payload": io.BytesIO(json.dumps({"errorMessage": "boom", "errorType": "KeyError"}).encode())})})
    assert aws.invoker.invoke("arn:aws:lambda:us-east-1:123456789012:function:w", {}, 60) == {
        "error": "Unhandled: boom"}
    session.done()


def test_a_worker_answer_is_its_report() -> None:
    aws, session = store({"lambda": lambda s: s.add_response(
        "invoke", {"StatusCode": 200, "Payload": io.BytesIO(b'{"runtime": "python3.12"}')})})
    assert aws.invoker.invoke("arn:aws:lambda:us-east-1:123456789012:function:w", {}, 60) == {"runtime": "python3.12"}
    session.done()


def test_a_throttled_worker_invoke_counts_its_own_attempts() -> None:
    aws, session = store({"lambda": lambda s: s.add_client_error(
        "invoke", "TooManyRequestsException", http_status_code=429)}, attempts=6)
    with pytest.raises(AwsCallFailed) as caught:
        aws.invoker.invoke("w", {}, 60)
    # The invoke's own retries (2 after the first), not the store's.
    assert "still after 3 attempts" in caught.value.reason
    session.done()


def test_keys_refused_inside_a_successful_delete_objects_are_an_error() -> None:
    refused = {"Deleted": [], "Errors": [{"Key": "orphans/o/k.json", "Code": "AccessDenied", "Message": "no"}]}
    aws, session = store({"s3": lambda s: s.add_response("delete_objects", refused)})
    with pytest.raises(AwsCallFailed) as caught:
        aws.artifacts.remove(["orphans/o/k.json"])
    assert caught.value.reason == "Deleting s3://bucket/orphans/o/k.json failed: AccessDenied."
    session.done()


@pytest.mark.parametrize("code", ["PreconditionFailed", "ConditionalRequestConflict"])
def test_a_claim_another_delivery_made_first_is_not_this_ones(code: str) -> None:
    aws, session = store({"s3": lambda s: s.add_client_error("put_object", code, http_status_code=412)})
    assert aws.artifacts.claim("requests/k.claim") is False
    session.done()


def test_a_permission_already_granted_counts_as_granted() -> None:
    from pylayer.sharing import Statement

    aws, session = store({"lambda": lambda s: s.add_client_error(
        "add_layer_version_permission", "ResourceConflictException", http_status_code=409)})
    aws.layers.share(ARN, Statement("share-111122223333", "111122223333"))
    session.done()


class CountingSession:
    """A session that is slow to make a client, and counts what it made and when two makes overlapped."""

    def __init__(self) -> None:
        self.made: list[tuple[str, int]] = []
        self.inside = 0
        self.overlapped = False
        self.lock = threading.Lock()

    def client(self, service: str, region_name: str | None = None, config: Any = None) -> Any:
        with self.lock:
            self.inside += 1
            self.overlapped = self.overlapped or self.inside > 1
        time.sleep(0.02)
        with self.lock:
            self.inside -= 1
        self.made.append((service, config.read_timeout))
        return object()


def test_clients_are_made_one_at_a_time_and_once_each() -> None:
    session = CountingSession()
    clients = Clients("us-east-1", session)
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(lambda i: clients.client("lambda" if i % 2 else "s3"), range(16)))

    assert not session.overlapped  # a boto3 session may not make two clients at once
    assert sorted(session.made) == [("lambda", 120), ("s3", 120)]
    assert len({id(m) for m in made}) == 2


def test_one_invoke_client_serves_every_invoke_of_a_container() -> None:
    session = CountingSession()
    invoker = Invoker(Clients("us-east-1", session))
    assert invoker.client() is invoker.client()
    # Longer than any function may run: how long the provider waits is bounded by its caller, not here.
    assert session.made == [("lambda", 910)]
