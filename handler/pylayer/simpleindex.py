"""A project's files on a package index, from its simple API (PEP 691 JSON, or PEP 503 HTML).

uv resolves; this is only for what uv cannot say: which releases of a project
have a wheel a target can load (``fitting``).
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from .errors import InstallFailed
from .index import Index

PYPI = "https://pypi.org/simple/"
ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"
MAX_PAGE_BYTES = 64 << 20


@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str
    sha256: str = ""
    requires_python: str = ""
    yanked: bool = False


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project_files(index: Index, name: str, timeout: float = 30.0,
                  opener: Callable[..., object] = urllib.request.urlopen) -> list[IndexFile]:
    base = index.url or PYPI
    page = urljoin(base if base.endswith("/") else base + "/", normalize(name) + "/")
    request = urllib.request.Request(page, headers={"Accept": ACCEPT})  # noqa: S310 - the index's own URL
    if index.username or index.password:
        token = base64.b64encode(f"{index.username}:{index.password}".encode()).decode()
        request.add_unredirected_header("Authorization", f"Basic {token}")  # never to where it redirects
    try:
        with opener(request, timeout=timeout) as response:  # type: ignore[attr-defined]
            content_type = response.headers.get("Content-Type", "")
            body = response.read(MAX_PAGE_BYTES)
            final = response.geturl()
        if "json" in content_type:
            return _from_json(json.loads(body), final)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise InstallFailed(f"Listing {name} on the package index failed: {exc}.", str(exc)) from None
    return _from_html(body.decode("utf-8", "replace"), final)


def _from_json(page: object, url: str) -> list[IndexFile]:
    listed = page.get("files") if isinstance(page, dict) else None
    files = []
    for item in listed if isinstance(listed, list) else []:
        if not isinstance(item, dict):
            continue
        hashes = item["hashes"] if isinstance(item.get("hashes"), dict) else {}
        files.append(IndexFile(str(item.get("filename", "")), urljoin(url, str(item.get("url", ""))),
                               str(hashes.get("sha256", "")), str(item.get("requires-python") or ""),
                               bool(item.get("yanked"))))
    return files


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._current: dict[str, str | None] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._current, self._text = dict(attrs), ""

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.anchors.append((self._current, self._text.strip()))
            self._current = None


def _from_html(text: str, url: str) -> list[IndexFile]:
    parser = _Anchors()
    parser.feed(text)
    files = []
    for attrs, label in parser.anchors:
        href = attrs.get("href") or ""
        location = urljoin(url, href)
        fragment = urlsplit(location).fragment
        sha256 = fragment.removeprefix("sha256=") if fragment.startswith("sha256=") else ""
        filename = label or urlsplit(location).path.rsplit("/", 1)[-1]
        files.append(IndexFile(filename, location.split("#", 1)[0], sha256, attrs.get("data-requires-python") or "",
                               "data-yanked" in attrs))
    return files
