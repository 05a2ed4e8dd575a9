"""The AWS clients of the adapters (artifacts, layers, index secrets, invoker) and their one call helper.

Clients are made on first use, never at import, with boto3's standard retries (backoff with jitter). Every
call goes through ``Clients.call``: an AWS error becomes an ``AwsCallFailed`` whose Reason says what failed
and what to do, except the error codes a caller tolerates, which give that caller's value instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from .errors import AwsCallFailed

THROTTLING = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException", "SlowDown",
                        "RequestLimitExceeded", "503"})
MISSING = ("404", "NoSuchKey", "NotFound")  # S3's ways of saying an object is not there
DEFAULT_MAX_ATTEMPTS = 6


def error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(error).__name__))


def explain(action: str, error: Exception, attempts: int) -> AwsCallFailed:
    code = error_code(error)
    if code in THROTTLING:
        return AwsCallFailed(f"{action} failed: {code} (throttled, still after {attempts} attempts). "
                             "Retry the deployment.", str(error))
    if code in ("AccessDenied", "AccessDeniedException", "403"):
        return AwsCallFailed(f"{action} failed: {code}. Check the provider role's permissions.", str(error))
    return AwsCallFailed(f"{action} failed: {code}.", str(error))


def _attempts(client: Any, default: int) -> int:
    """The attempts this client makes in all (botocore counts max_attempts as retries after the first)."""
    retries = getattr(getattr(getattr(client, "meta", None), "config", None), "retries", None) or {}
    return int(retries.get("total_max_attempts", default))


class Clients:
    """boto3 clients by service, region, read timeout and retries; one session for all of them."""

    def __init__(self, region: str | None = None, session: Any = None,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self.region = region
        self.max_attempts = max_attempts
        self._session = session
        self._clients: dict[tuple[str, str | None, int, int | None], Any] = {}
        # A boto3 session may not make clients in two threads at once; the provider makes them in several
        # (a listing beside a read, a worker's client beside the staging upload).
        self._making = threading.Lock()

    @property
    def attempts(self) -> int:
        """Attempts per call in all: botocore's max_attempts counts the retries after the first."""
        return self.max_attempts + 1

    def client(self, service: str, region: str | None = None, read_timeout: int = 120,
               max_attempts: int | None = None) -> Any:
        key = (service, region or self.region, read_timeout, max_attempts)
        made = self._clients.get(key)
        if made is not None:  # made already: no lock, so a call never waits for another client being made
            return made
        with self._making:
            if key not in self._clients:
                import boto3
                from botocore.config import Config

                if self._session is None:
                    self._session = boto3.session.Session()
                config = Config(retries={"mode": "standard", "max_attempts": max_attempts or self.max_attempts},
                                connect_timeout=10, read_timeout=read_timeout)
                make_client: Any = self._session.client  # boto3's overloads want a literal service name
                self._clients[key] = make_client(service, region_name=key[1], config=config)
            return self._clients[key]

    def call(self, action: str, client: Any, operation: str | Callable[[Any], Any], *,
             tolerate: Mapping[str, Any] | None = None, **request: Any) -> Any:
        """client.operation(**request) (or operation(client)); an error whose code is in tolerate gives that
        value, any other the AwsCallFailed that explains it (action: what was being done, for the Reason)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if callable(operation):
                return operation(client)
            return getattr(client, operation)(**request)
        except (ClientError, BotoCoreError) as exc:
            code = error_code(exc)
            if tolerate is not None and code in tolerate:
                return tolerate[code]
            raise explain(action, exc, _attempts(client, self.attempts)) from None
