"""Lambda entry point: checks the event, wires Powertools (logs, metrics, traces) to the core, and answers.

The way of a request: ``lambda_handler`` drops what is not CloudFormation's (``foreign``), rejects what
cannot be run (``malformed``), claims the request (a duplicate delivery repeats the first answer), then
``dispatch.dispatch`` runs it on the provider and ``response.answer`` records and sends its answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from pylayer import answers, dispatch, origin, response
from pylayer.answers import Journal
from pylayer.errors import ProviderError
from pylayer.provider import Provider, Store
from pylayer.settings import Settings
from pylayer.store import LayerStore
from pylayer.workspace import Workspace

# The AWS SDK's own chatter stays out of the provider's log (crhelper set this when it ran the requests).
for _noisy in ("boto", "boto3", "botocore", "urllib3", "s3transfer"):
    logging.getLogger(_noisy).setLevel(logging.ERROR)

SERVICE = "python-layer-provider"
NAMESPACE = "PythonLayerProvider"
logger = Logger(service=SERVICE)
copy_config_to_registered_loggers(source_logger=logger, include={"pylayer"})
# Embedded metric format: CloudWatch reads the metrics from the log stream, no API calls.
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# Disabled outside Lambda by Powertools itself (no X-Ray daemon there).
tracer = Tracer(service=SERVICE)


@lru_cache(maxsize=4)
def default_store(bucket: str, region: str | None) -> LayerStore:
    """One store per bucket and region for the container's life: its boto3 clients are reused."""
    return LayerStore.connect(bucket, region)


@dataclass
class Dependencies:
    """What the handler makes its collaborators from: the seam tests (and fault injection) replace."""

    settings: Callable[[], Settings] = Settings.from_env
    store: Callable[[str, str | None], Store] = default_store
    send: Callable[[str, dict[str, Any]], int] = field(default=response.send)


dependencies = Dependencies()


class PowertoolsObserver:
    """The core's phases as X-Ray subsegments, its measurements as metrics."""

    def phase(self, name: str) -> AbstractContextManager[object]:
        segment: AbstractContextManager[object] = tracer.provider.in_subsegment(f"## {name}")
        return segment

    def measure(self, name: str, value: float, unit: str) -> None:
        metrics.add_metric(name=name, unit=MetricUnit(unit), value=value)


def count_failure(cause: str) -> None:
    """Failures by cause: a metric of its own, so the dimension does not spill onto the others."""
    with single_metric(name="Failures", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="service", value=SERVICE)
        metric.add_dimension(name="Cause", value=cause)


DUPLICATE_POLL_SECONDS = 1.0


def _provider(context: Any, journal: Journal, event: dict[str, Any]) -> Provider:
    settings = dependencies.settings()
    function_arn = str(getattr(context, "invoked_function_arn", ""))
    account = function_arn.split(":")[4] if function_arn.count(":") >= 5 else None
    return Provider.from_settings(settings, dependencies.store(settings.bucket, settings.region),
                                  time_left(context, service_timeout(event), time.monotonic()),
                                  account=account, observer=PowertoolsObserver(), journal=journal)


def service_timeout(event: dict[str, Any]) -> float | None:
    """The template's ServiceTimeout (seconds CloudFormation waits for the answer), if it gave one."""
    properties = event.get("ResourceProperties")
    value = properties.get("ServiceTimeout") if isinstance(properties, dict) else None
    try:
        seconds = float(str(value))
    except ValueError:
        return None
    return seconds if 0 < seconds <= 43200 else None


def time_left(context: Any, timeout: float | None, started: float) -> Callable[[], float]:
    """Seconds left for the request: Lambda's, and no more than CloudFormation will wait."""
    def left() -> float:
        lambda_left = float(context.get_remaining_time_in_millis()) / 1000
        return lambda_left if timeout is None else min(lambda_left, timeout - (time.monotonic() - started))

    return left


def malformed(event: Any) -> str | None:
    """Why an event is not a custom-resource request we can answer, or None."""
    if not isinstance(event, dict):
        return "the event is not an object"
    for key in ("ResponseURL", "StackId", "RequestId", "LogicalResourceId", "RequestType"):
        if not isinstance(event.get(key), str) or not event[key]:
            return f"the event has no {key}"
    if not event["ResponseURL"].startswith("https://"):
        return "the ResponseURL is not HTTPS"
    if event["RequestType"] not in dispatch.REQUEST_TYPES:
        return "unknown RequestType"
    if "/" not in event["StackId"]:
        return "the StackId is not a stack ARN"
    return None


def foreign(event: Any, settings: Settings) -> str | None:
    """Why an event is not CloudFormation's for this provider (never answered), or None."""
    if not isinstance(event, dict):
        return "the event is not an object"
    return origin.problem(event, settings.region or "", settings.response_hosts)


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context(log_event=False, clear_state=True)
def lambda_handler(event: Any, context: Any) -> None:
    settings = dependencies.settings()
    stranger = foreign(event, settings)
    if stranger:
        # Before anything else: no build, no publish, and no answer to a host someone else chose.
        logger.error("Dropping an event that is not CloudFormation's: %s", stranger)
        metrics.add_metric(name="RejectedEvents", unit=MetricUnit.Count, value=1)
        return
    problem = malformed(event)
    if problem:
        logger.error("Ignoring a malformed event: %s", problem)
        metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
        _reject(event, f"Malformed request: {problem}.")
        return
    logger.append_keys(stack_id=event["StackId"], logical_resource_id=event["LogicalResourceId"],
                       request_type=event["RequestType"], cfn_request_id=event["RequestId"])
    metrics.add_metric(name=f"{event['RequestType']}Requests", unit=MetricUnit.Count, value=1)
    try:
        Workspace(settings.work_root, settings.cache_root).clean()
    except OSError:
        logger.exception("Could not clean the build root")
    store = dependencies.store(settings.bucket, settings.region) if settings.bucket else None
    if store is not None and not _first_delivery(store, event):
        # Lambda's asynchronous invoke delivers at least once: one delivery builds, the others repeat it.
        metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
        _answer_as_the_first(store, event, context)
        return
    event = cloudformations_own(event)
    journal = Journal(store.artifacts if store is not None else None, event)
    reply = dispatch.dispatch(event, lambda: _provider(context, journal, event),
                              str(getattr(context, "aws_request_id", "unknown")))
    if reply.status == "FAILED":
        count_failure(reply.cause)
    response.answer(event, reply, journal, dependencies.send)


def _first_delivery(store: Store, event: dict[str, Any]) -> bool:
    try:
        return store.artifacts.claim(answers.claim_key(event))
    except ProviderError:
        logger.warning("Could not claim the request; building it anyway", exc_info=True)
        return True


def _answer_as_the_first(store: Store, event: dict[str, Any], context: Any) -> None:
    """Wait for the first delivery's answer and send it again; if it never comes, its reaper answers."""
    stop = time.monotonic() + max(0.0, context.get_remaining_time_in_millis() / 1000 - 10)
    while True:
        try:
            record = store.artifacts.read_json(answers.record_key(event)) or {}
        except ProviderError:
            record = {}
        answer = record.get("answer")
        if record.get("state") in ("answering", "answered") and isinstance(answer, dict) and answers.own(answer, event):
            logger.info("A duplicate delivery of this request: sending the first delivery's answer again")
            response.answer(event, dict(answer), Journal(None, event), dependencies.send)
            return
        if time.monotonic() >= stop:
            logger.warning("A duplicate delivery of this request, and the first has not answered in time: "
                           "nothing built here; its reaper answers if it died")
            return
        time.sleep(DUPLICATE_POLL_SECONDS)


def cloudformations_own(event: dict[str, Any]) -> dict[str, Any]:
    """The event without crhelper's private fields: CloudFormation never sends them, and a handler built on
    crhelper's CfnResource would obey them (CrHelperPoll answers SUCCESS with nothing run). Dropped, and
    logged, so that no record or answer carries them either."""
    dropped = sorted(k for k in event if k.startswith("CrHelper"))
    if dropped:
        logger.warning("Dropping fields CloudFormation never sends: %s", ", ".join(dropped))
    return {k: v for k, v in event.items() if not k.startswith("CrHelper")}


def _reject(event: dict[str, Any], reason: str) -> None:
    physical = str(event.get("PhysicalResourceId") or "malformed-request")
    response.answer(event, response.Answer("FAILED", physical, reason, cause="Malformed"), Journal(None, event),
                    dependencies.send)
