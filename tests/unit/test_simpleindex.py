"""A project's files from a simple-index page (PEP 691 JSON or PEP 503 HTML), through a fake opener."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from email.message import Message
from types import TracebackType
from typing import Any

import pytest

from pylayer import simpleindex
from pylayer.errors import InstallFailed
from pylayer.index import Index
from pylayer.simpleindex import IndexFile

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
PAGE = "https://pypi.example/simple/my-pkg/"
SHA_NEW = "a" * 64
SHA_OLD = "b" * 64

JSON_PAGE = {
    "meta": {"api-version": "1.1"},
    "name": "my-pkg",
    "files": [
        {"filename": "my_pkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
         "url": "../../packages/ab/my_pkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
         "hashes": {"sha256": SHA_NEW}, "requires-python": ">=3.9,<4", "yanked": False},
        {"filename": "my_pkg-1.0-py3-none-any.whl",
         "url": "https://files.example/my_pkg-1.0-py3-none-any.whl",
         "hashes": {"sha256": SHA_OLD}, "requires-python": None, "yanked": "broken metadata"},
        {"filename": "my_pkg-1.0.tar.gz", "url": "my_pkg-1.0.tar.gz", "hashes": {}},
    ],
}

HTML_PAGE = f"""<!DOCTYPE html>
<html><head><meta name="pypi:repository-version" content="1.1"><title>Links for my-pkg</title></head>
<body><h1>Links for my-pkg</h1>
<a href="../../packages/ab/my_pkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl#sha256={SHA_NEW}"
   data-requires-python="&gt;=3.9,&lt;4">my_pkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl</a><br/>
<a href="https://files.example/my_pkg-1.0-py3-none-any.whl#sha256={SHA_OLD}" data-yanked="broken metadata">
  my_pkg-1.0-py3-none-any.whl
</a><br/>
<a href="my_pkg-1.0.tar.gz">my_pkg-1.0.tar.gz</a>
</body></html>
"""

EXPECTED = [
    IndexFile("my_pkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
              "https://pypi.example/packages/ab/my_pkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
              SHA_NEW, ">=3.9,<4", False),
    IndexFile("my_pkg-1.0-py3-none-any.whl", "https://files.example/my_pkg-1.0-py3-none-any.whl",
              SHA_OLD, "", True),
    IndexFile("my_pkg-1.0.tar.gz", "https://pypi.example/simple/my-pkg/my_pkg-1.0.tar.gz", "", "", False),
]


class FakeResponse:
    def __init__(self, body: bytes, content_type: str, url: str) -> None:
        self.headers = Message()
        self.headers["Content-Type"] = content_type
        self.body = body
        self.url = url

    def read(self, limit: int = -1) -> bytes:
        return self.body if limit < 0 else self.body[:limit]

    def geturl(self) -> str:
        return self.url

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        return None


class FakeOpener:
    """Answers every request with one page; remembers the requests."""

    def __init__(self, body: bytes, content_type: str, final_url: str | None = None) -> None:
        self.body = body
        self.content_type = content_type
        self.final_url = final_url
        self.requests: list[urllib.request.Request] = []
        self.timeouts: list[float] = []

    def __call__(self, request: urllib.request.Request, timeout: float) -> FakeResponse:
        self.requests.append(request)
        self.timeouts.append(timeout)
        return FakeResponse(self.body, self.content_type, self.final_url or request.full_url)


def json_opener(page: Any = JSON_PAGE, **kwargs: Any) -> FakeOpener:
    return FakeOpener(json.dumps(page).encode(), JSON_TYPE, **kwargs)


def html_opener(**kwargs: Any) -> FakeOpener:
    return FakeOpener(HTML_PAGE.encode(), "text/html; charset=utf-8", **kwargs)


INDEX = Index("https://pypi.example/simple/")


def test_a_json_page_gives_the_files() -> None:
    assert simpleindex.project_files(INDEX, "My_Pkg", opener=json_opener()) == EXPECTED


def test_an_html_page_gives_the_same_files() -> None:
    assert simpleindex.project_files(INDEX, "My_Pkg", opener=html_opener()) == EXPECTED


def test_an_html_data_yanked_without_a_value_is_yanked() -> None:
    page = '<a href="p-1.0-py3-none-any.whl" data-yanked>p-1.0-py3-none-any.whl</a>'
    opener = FakeOpener(page.encode(), "text/html")

    (found,) = simpleindex.project_files(INDEX, "p", opener=opener)

    assert found.yanked
    assert found.filename == "p-1.0-py3-none-any.whl"


def test_an_html_anchor_without_text_is_named_by_its_url() -> None:
    page = '<a href="/files/p-1.0-py3-none-any.whl#md5=00"></a>'
    opener = FakeOpener(page.encode(), "text/html")

    (found,) = simpleindex.project_files(INDEX, "p", opener=opener)

    assert found == IndexFile("p-1.0-py3-none-any.whl", "https://pypi.example/files/p-1.0-py3-none-any.whl")


def test_relative_urls_follow_the_page_a_redirect_ended_on() -> None:
    final = "https://mirror.example/pypi/simple/my-pkg/"
    for opener in (json_opener(final_url=final), html_opener(final_url=final)):
        files = simpleindex.project_files(INDEX, "my-pkg", opener=opener)
        assert files[0].url == "https://mirror.example/pypi/packages/ab/" \
            "my_pkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl"
        assert files[2].url == "https://mirror.example/pypi/simple/my-pkg/my_pkg-1.0.tar.gz"


def test_a_json_page_without_files_is_empty() -> None:
    assert simpleindex.project_files(INDEX, "p", opener=json_opener({"meta": {}})) == []
    assert simpleindex.project_files(INDEX, "p", opener=json_opener({"files": "nonsense"})) == []
    assert simpleindex.project_files(INDEX, "p", opener=json_opener({"files": ["x", 1]})) == []


def test_the_request_asks_for_json_first_at_the_normalized_name() -> None:
    opener = json_opener()

    simpleindex.project_files(INDEX, "My_Pkg", timeout=12.5, opener=opener)

    (request,) = opener.requests
    assert request.full_url == PAGE
    accept = request.get_header("Accept") or ""
    assert accept == simpleindex.ACCEPT
    assert accept.split(",")[0].strip() == JSON_TYPE
    assert "text/html" in accept
    assert opener.timeouts == [12.5]


@pytest.mark.parametrize(("index", "page"), [
    (Index(), "https://pypi.org/simple/my-pkg/"),
    (Index("https://pypi.example/simple"), PAGE),
    (Index("https://pypi.example/root/simple/"), "https://pypi.example/root/simple/my-pkg/"),
])
def test_the_page_url_of_each_index(index: Index, page: str) -> None:
    opener = json_opener()

    simpleindex.project_files(index, "my.pkg", opener=opener)

    assert opener.requests[0].full_url == page


def test_no_credentials_means_no_authorization_header() -> None:
    opener = json_opener()

    simpleindex.project_files(INDEX, "my-pkg", opener=opener)

    assert not opener.requests[0].has_header("Authorization")


def test_an_index_with_credentials_gets_basic_auth() -> None:
    opener = json_opener()

    simpleindex.project_files(Index("https://pypi.example/simple/", "alice", "s3:cret"), "my-pkg", opener=opener)

    request = opener.requests[0]
    header = request.get_header("Authorization") or ""
    assert header.startswith("Basic ")
    assert base64.b64decode(header.removeprefix("Basic ")) == b"alice:s3:cret"
    assert "alice" not in request.full_url


def test_a_failing_opener_becomes_install_failed_naming_the_project() -> None:
    def failing(request: urllib.request.Request, timeout: float) -> FakeResponse:
        raise OSError("connection refused")

    with pytest.raises(InstallFailed) as raised:
        simpleindex.project_files(INDEX, "my-pkg", opener=failing)

    assert "my-pkg" in raised.value.reason
    assert "connection refused" in raised.value.reason


def test_an_http_error_becomes_install_failed() -> None:
    def not_found(request: urllib.request.Request, timeout: float) -> FakeResponse:
        raise urllib.error.HTTPError(request.full_url, 404, "Not Found", Message(), None)

    with pytest.raises(InstallFailed, match=r"Listing nope on the package index failed: HTTP Error 404"):
        simpleindex.project_files(INDEX, "nope", opener=not_found)


def test_a_page_that_is_not_the_json_it_claims_becomes_install_failed() -> None:
    opener = FakeOpener(b"<html>Service Unavailable</html>", JSON_TYPE)

    with pytest.raises(InstallFailed, match="my-pkg"):
        simpleindex.project_files(INDEX, "my-pkg", opener=opener)


@pytest.mark.parametrize(("name", "normal"), [
    ("My_Pkg", "my-pkg"), ("zope.interface", "zope-interface"), ("a__b--c..d", "a-b-c-d"), ("numpy", "numpy"),
])
def test_normalize(name: str, normal: str) -> None:
    assert simpleindex.normalize(name) == normal
