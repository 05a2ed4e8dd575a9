"""The worker's objects, moved through the presigned URLs the provider hands it: the staged archive (and,
first, its modules) in (GET), the bytecode or the built wheel out (PUT). Standard library only: no boto3
to import (a quarter of a second of every cold worker), and a worker role with no access to S3 at all."""

from __future__ import annotations

import os
import shutil
import time
import urllib.error
import urllib.request

ATTEMPTS = 3
TIMEOUT = 60.0  # seconds a connection may stall
# The provider invokes the worker while it still writes and uploads the staged archive (the worker's start
# overlaps it): until it is there, its URL answers 404. Looked for this often, then less often after a
# while (a provider that died would otherwise cost thousands of requests); the provider says how long
# (arrival_seconds); this is the wait when it does not.
ARRIVAL_POLL_SECONDS, ARRIVAL_SLOW_AFTER, ARRIVAL_SLOW_POLL_SECONDS = 0.05, 10.0, 1.0
ARRIVAL_WAIT_SECONDS = 60.0


def is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) < 8192


def get(url: str, path: str, arrival: float = 0.0) -> None:
    """Download url to path, streaming; retried on a connection error or a 5xx. ``arrival``: seconds to wait
    for an object that is not there yet (404)."""
    started = time.monotonic()
    while True:
        try:
            _get(url, path)
            return
        except urllib.error.HTTPError as exc:
            if exc.code != 404 or time.monotonic() >= started + arrival:
                raise
        slow = time.monotonic() - started > ARRIVAL_SLOW_AFTER
        time.sleep(ARRIVAL_SLOW_POLL_SECONDS if slow else ARRIVAL_POLL_SECONDS)


def _get(url: str, path: str) -> None:
    for attempt in range(ATTEMPTS):
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as answer, open(path, "wb") as out:  # noqa: S310 - checked
                shutil.copyfileobj(answer, out, 1 << 20)
            return
        except (urllib.error.URLError, OSError) as exc:
            if not _retryable(exc) or attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.5 * 2**attempt)


def put(path: str, url: str) -> None:
    """Upload the file at path to url (a presigned PUT: the signature covers the host only)."""
    size = os.path.getsize(path)
    for attempt in range(ATTEMPTS):
        try:
            with open(path, "rb") as body:
                request = urllib.request.Request(url, data=body, method="PUT",  # noqa: S310
                                                 headers={"Content-Length": str(size), "Content-Type": ""})
                with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310 - is_url checked
                    answer.read()
            return
        except (urllib.error.URLError, OSError) as exc:
            if not _retryable(exc) or attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.5 * 2**attempt)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500
    return True
