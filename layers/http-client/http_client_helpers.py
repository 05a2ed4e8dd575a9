"""Shared HTTP helpers for functions that use the http-client layer (/opt/python in Lambda).

A layer's modules share one namespace with the function's own code and every
other layer, so the module name is specific rather than `helpers`.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

DEFAULT_TIMEOUT = (3.05, 10.0)  # connect, read (seconds): Lambda bills the time a hung call waits


def session(retries: int = 3, backoff: float = 0.5, user_agent: str = "lambda-http-client") -> requests.Session:
    """A session that retries idempotent requests on connection errors and 429/5xx answers."""
    retry = Retry(total=retries, backoff_factor=backoff, status_forcelist=(429, 500, 502, 503, 504),
                  allowed_methods=frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}))
    result = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    result.mount("https://", adapter)
    result.mount("http://", adapter)
    result.headers["User-Agent"] = user_agent
    return result


def get_json(url: str, client: requests.Session | None = None, **kwargs: Any) -> Any:
    """GET a JSON document with a timeout; raises requests.HTTPError on a 4xx/5xx answer."""
    kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
    response = (client or session()).get(url, **kwargs)
    response.raise_for_status()
    return response.json()
