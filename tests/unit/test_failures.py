"""summarize_failure: an installer's stderr, turned into the one sentence CloudFormation shows.

tests/data/uv-failures/*.txt are uv's real stderr (written by tests/functional/test_uv_failures.py,
which runs uv against a loopback index); here each is pinned to its sentence without running uv.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pylayer.failures import MAX_REASON, SDIST_HINT, clean, pinned_unusable, summarize_failure, wheel_problems
from pylayer.target import Target

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "uv-failures"
X86 = Target("python3.12", "x86_64")
ARM = Target("python3.12", "arm64")
PY39 = Target("python3.9", "x86_64")
TARGET = ARM  # tests/unit/test_install.py's

_NONE = "source distributions are not allowed (provider parameter AllowSourceDistributions)."
_FIX = "pick a version that has one, or change Runtime/Architecture."

# Every stored uv failure and the sentence it must give, word for word.
STORED: dict[str, tuple[Target, str]] = {
    "sdist-pinned": (X86, f"No wheel of mysqlclient==2.2.4 for python3.12 x86_64; {_NONE}"),
    "sdist-unpinned-one-version": (X86, f"No wheel of mysqlclient==2.2.4 for python3.12 x86_64; {_NONE}"),
    "sdist-unpinned-all-versions": (X86, "No wheel of mysqlclient for python3.12 x86_64; source distributions are "
                                         "not allowed (provider parameter AllowSourceDistributions)."),
    "sdist-range": (X86, f"No wheel of mysqlclient==2.2.4 for python3.12 x86_64; {_NONE}"),
    "sdist-range-below-a-wheel": (X86, f"No wheel of mysqlclient<=2.2.4 for python3.12 x86_64; {_NONE}"),
    "sdist-extra": (X86, f"No wheel of mysqlclient[extra]==2.2.4 for python3.12 x86_64; {_NONE}"),
    "sdist-unnormalized-name": (X86, f"No wheel of my-sql-client==2.2.4 for python3.12 x86_64; {_NONE}"),
    "sdist-several-requirements": (X86, f"No wheel of alpha==1.0 for python3.12 x86_64; {_NONE}"),
    "sdist-several-requirements-pinned": (X86, f"No wheel of alpha==1.0 for python3.12 x86_64; {_NONE}"),
    "sdist-dependency": (X86, f"No wheel of bar==1.0 for python3.12 x86_64; {_NONE}"),
    "sdist-dependency-unpinned": (X86, f"No wheel of bar==1.0 for python3.12 x86_64; {_NONE}"),
    "sdist-dependency-all-versions": (X86, f"No wheel of bar for python3.12 x86_64; {_NONE}"),
    "sdist-several-dependencies": (X86, f"No wheel of bar==1.0, baz==1.0 for python3.12 x86_64; {_NONE}"),
    "platform-pinned": (X86, "No wheel of native==1.0 fits python3.12 x86_64 (the index has wheels only for other "
                             f"platforms: manylinux_2_17_aarch64); {_FIX}"),
    "platform-unpinned": (X86, "No wheel of native==1.0 fits python3.12 x86_64 (the index has wheels only for other "
                               f"platforms: manylinux_2_17_aarch64); {_FIX}"),
    "platform-all-versions": (X86, "No wheel of native fits python3.12 x86_64 (the index has wheels only for other "
                                   f"platforms: macosx_11_0_arm64, win_amd64); {_FIX}"),
    "platform-range": (X86, "No wheel of native==2.0 fits python3.12 x86_64 (the index has wheels only for other "
                            f"platforms: manylinux_2_17_aarch64); {_FIX}"),
    "platform-dependency": (X86, "No wheel of native==1.0 fits python3.12 x86_64 (the index has wheels only for "
                                 f"other platforms: manylinux_2_17_aarch64); {_FIX}"),
    "platform-arm64-target": (ARM, "No wheel of amd==1.0 fits python3.12 arm64 (the index has wheels only for other "
                                   f"platforms: manylinux_2_17_x86_64); {_FIX}"),
    "platform-newer-glibc": (PY39, "No wheel of newglibc==1.0 fits python3.9 x86_64 (the index has wheels only for "
                                   f"other platforms: manylinux_2_34_x86_64); {_FIX}"),
    "python-abi-pinned": (X86, "No wheel of oldpy==1.0 fits python3.12 x86_64 (the index has wheels only for other "
                               f"Python versions: cp39); {_FIX}"),
    "python-abi-unpinned": (X86, "No wheel of oldpy==1.0 fits python3.12 x86_64 (the index has wheels only for "
                                 f"other Python versions: cp39); {_FIX}"),
    "python-implementation": (X86, "No wheel of pypyonly==1.0 fits python3.12 x86_64 (the index has wheels only for "
                                   f"other Python versions: pp310); {_FIX}"),
    "python-newer-abi3": (X86, "No wheel of newabi==1.0 fits python3.12 x86_64 (the index has wheels only for other "
                               f"Python versions: cp313); {_FIX}"),
    "python-2-only": (X86, "No wheel of oldpure==1.0 fits python3.12 x86_64 (the index has wheels only for other "
                           f"Python versions: py2); {_FIX}"),
    "mixed-dependencies": (X86, f"No wheel of bar==1.0 for python3.12 x86_64; {_NONE} "
                                "Wheels of baz==1.0 exist only for other platforms."),
    "mixed-versions": (X86, "No wheel of mysqlclient==2.0 fits python3.12 x86_64 (the index has wheels only for "
                            f"other platforms: manylinux_2_17_aarch64); {_FIX}"),
    "not-found": (X86, "Install failed for python3.12 x86_64: Because nosuch was not found in the package registry "
                       "and you require nosuch, we can conclude that your requirements are unsatisfiable."),
    "no-such-version": (X86, "Install failed for python3.12 x86_64: Because there is no version of six==2.0 and "
                             "you require six==2.0, we can conclude that your requirements are unsatisfiable."),
    "version-conflict": (X86, "Install failed for python3.12 x86_64: Because all versions of foo depend on bar==1.0 "
                              "and you require foo==1.0, we can conclude that you require bar==1.0. And because you "
                              "require bar==2.0, we can conclude that your requirements are unsatisfiable."),
    "private-index-sdist": (X86, f"No wheel of mysqlclient for python3.12 x86_64; {_NONE}"),
    "private-index-refused": (X86, "Install failed for python3.12 x86_64: the package index refused the provider's "
                                   "credentials (401 Unauthorized); check the index secret."),
}


def stored(name: str) -> str:
    return (FIXTURES / f"{name}.txt").read_text()


def test_every_stored_failure_is_pinned() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.txt")) == sorted(STORED)


def test_the_sdist_hint_keeps_its_words() -> None:
    assert SDIST_HINT == "source distributions are not allowed (provider parameter AllowSourceDistributions)"


@pytest.mark.parametrize("name", sorted(STORED))
def test_each_stored_uv_failure_becomes_its_sentence(name: str) -> None:
    target, expected = STORED[name]

    reason = summarize_failure(stored(name), target)

    assert reason == expected
    assert len(reason) <= MAX_REASON


def _coloured(text: str) -> str:
    """The same words as uv writes them to a terminal: bold red "error", cyan names, bold clauses, links."""
    text = re.sub(r"^(error|hint|cause)(?=:)", "\x1b[1m\x1b[31m\\1\x1b[39m\x1b[0m", text, flags=re.MULTILINE)
    text = re.sub(r"`([^`]+)`", "`\x1b[36m\\1\x1b[39m`", text)
    text = re.sub(r"([A-Za-z0-9_.-]+(?:\[[a-z]+\])?(?:[<>=!]=?[0-9.]+)?)(?= (?:has|have|depends?|is) )",
                  "\x1b[1m\\1\x1b[0m", text)
    return re.sub(r"^hint:", "\x1b]8;;https://docs.astral.sh/uv\x07hint\x1b]8;;\x07:", text, flags=re.MULTILINE)


def _fancy(text: str) -> str:
    """The same words in uv's other rendering: "  × error:" and "  ╰─▶ Because ..." with indented lines."""
    text = re.sub(r"^error: (.*)$", r"  × \1:", text, flags=re.MULTILINE)
    text = re.sub(r"^  cause: ", "  ╰─▶ ", text, flags=re.MULTILINE)
    return re.sub(r"^         ", "      ", text, flags=re.MULTILINE)


@pytest.mark.parametrize("name", sorted(STORED))
def test_escape_codes_and_uvs_other_rendering_change_nothing(name: str) -> None:
    target, expected = STORED[name]
    coloured = _coloured(stored(name))
    assert "\x1b[" in coloured

    for variant in (coloured, _fancy(stored(name)), _fancy(coloured), stored(name).replace("\n", "\r\n")):
        reason = summarize_failure(variant, target)
        assert reason == expected
        assert "\x1b" not in reason


# tests/unit/test_install.py's cases, moved here with the function.
UV_NOT_FOUND = """Using CPython 3.11.7 interpreter at: /usr/bin/python3
error: No solution found when resolving dependencies
  cause: Because nosuch was not found in the package registry and you require nosuch, \
we can conclude that your requirements are unsatisfiable.
"""
UV_NO_WHEEL = """  × No solution found when resolving dependencies:
  ╰─▶ Because only pyyaml==5.3 is available and pyyaml==5.3 has no wheels with a matching \
platform tag (e.g., `manylinux_2_34_aarch64`), we can conclude that pyyaml==5.3 cannot be used.
"""
PIP_CONFLICT = """ERROR: Could not find a version that satisfies the requirement nosuch (from versions: none)
ERROR: No matching distribution found for nosuch
"""


@pytest.mark.parametrize(("stderr", "expected"), [
    (UV_NOT_FOUND, "Install failed for python3.12 arm64: Because nosuch was not found in the package"),
    # Was "Install failed for python3.12 arm64: Because only pyyaml==5.3 is available": wheels for other
    # platforms now get their own sentence.
    (UV_NO_WHEEL, "No wheel of pyyaml==5.3 fits python3.12 arm64 (the index has wheels only for other platforms); "
                  "pick a version that has one, or change Runtime/Architecture."),
    (PIP_CONFLICT, "Install failed for python3.12 arm64: No matching distribution found for nosuch"),
    ("\x1b[31mboom\x1b[0m", "Install failed for python3.12 arm64: boom"),
    ("", "Install failed for python3.12 arm64: the installer failed"),
])
def test_installer_failures_become_one_short_sentence(stderr: str, expected: str) -> None:
    reason = summarize_failure(stderr, TARGET)
    assert reason.startswith(expected)
    assert len(reason) <= MAX_REASON


def test_a_network_failure_names_the_root_cause() -> None:
    stderr = """error: Failed to fetch: `http://127.0.0.1:8080/simple/six/`
  cause: error sending request for url (http://127.0.0.1:8080/simple/six/)
  cause: client error (Connect)
  cause: tcp connect error
  cause: Connection refused (os error 111)
"""
    assert summarize_failure(stderr, X86) == ("Install failed for python3.12 x86_64: Failed to fetch: "
                                              "`http://127.0.0.1:8080/simple/six/` (Connection refused (os error 111))")


def test_retries_are_explained_by_the_first_cause() -> None:
    stderr = "error: Request failed after 3 retries\n  cause: Failed to fetch: `https://x/simple/six/`\n" \
             "  cause: dns error\n"
    assert summarize_failure(stderr, X86) == ("Install failed for python3.12 x86_64: Failed to fetch: "
                                              "`https://x/simple/six/` (dns error)")


# uv's phrasings seen in its own test suite (and the issue), not produced by the scenarios of
# tests/functional/test_uv_failures.py.
@pytest.mark.parametrize(("explanation", "expected"), [
    ("Because foo==1.0 depends on bar and all versions of bar have no usable wheels, we can conclude that "
     "foo==1.0 cannot be used. And because you require foo==1.0, we can conclude that your requirements are "
     "unsatisfiable.", f"No wheel of bar for python3.12 x86_64; {_NONE}"),
    ("Because source-distribution==0.0.1 has no usable wheels and only source-distribution>=0.0.1 is available, "
     "we can conclude that source-distribution<=0.0.1 cannot be used.",
     f"No wheel of source-distribution==0.0.1 for python3.12 x86_64; {_NONE}"),
    ("Because only numpy==2.3.5 is available and numpy==2.3.5 has no wheels with a matching Python version tag "
     "(e.g., `cp312`), we can conclude that all versions of numpy cannot be used.",
     f"No wheel of numpy==2.3.5 fits python3.12 x86_64 (the index has wheels only for other Python versions); {_FIX}"),
    ("Because a==1.0.0 has no wheels with a free-threading compatible ABI tag and you require a==1.0.0, we can "
     "conclude that your requirements are unsatisfiable.",
     f"No wheel of a==1.0.0 fits python3.12 x86_64 (the index has wheels only for other Python versions); {_FIX}"),
    ("Because all versions of a have no wheels with valid tags and you require a, we can conclude that your "
     "requirements are unsatisfiable.",
     "No wheel of a fits python3.12 x86_64 (the index has wheels only for other platforms or Python versions); "
     f"{_FIX}"),
    ("Because pywin32<=305 has no wheels with a matching Python version tag (e.g., `cp312`) and only the following "
     "versions of pywin32 are available:\n  pywin32<=305\n  pywin32>=306\nwe can conclude that pywin32<306 cannot be "
     "used.\nAnd because pywin32>=306 has no Linux-compatible wheels and your project depends on pywin32, we can "
     "conclude that your project's requirements are unsatisfiable.\n\nhint: Wheels are available for `pywin32` (v305) "
     "with the following Python ABI tags: `cp36m`, `cp37m`, `cp38`",
     "No wheel of pywin32<=305, pywin32>=306 fits python3.12 x86_64 (the index has wheels only for other platforms "
     f"or Python versions: cp36m, cp37m, cp38); {_FIX}"),
    ("Because open3d<=0.15.2 has no wheels with a matching Python ABI tag (e.g., `cp310`) and only the following "
     "versions of open3d are available:\n  open3d<=0.15.2\n  open3d>=0.16.0\nwe can conclude that open3d<0.16.0 "
     "cannot be used.\nAnd because open3d>=0.16.0 has no wheels with a matching platform tag (e.g., "
     "`manylinux_2_17_x86_64`) and you require open3d, we can conclude that your requirements are unsatisfiable."
     "\n\nhint: You require CPython 3.10 (`cp310`), but we only found wheels for `open3d` (v0.15.2) with the "
     "following Python ABI tags: `cp36m`, `cp37m`, `cp38`, `cp39`\nhint: Wheels are available for `open3d` "
     "(v0.18.0) on the following platforms: `manylinux_2_27_aarch64`, `manylinux_2_27_x86_64`, `macosx_11_0_x86_64`",
     "No wheel of open3d<=0.15.2, open3d>=0.16.0 fits python3.12 x86_64 (the index has wheels only for other "
     "platforms or Python versions: cp36m, cp37m, cp38, cp39, manylinux_2_27_aarch64, ...); "
     f"{_FIX}"),
    # Only the hint says it.
    ("Because the requirements are unsatisfiable.\n\nhint: Wheels are required for `lxml` because building from "
     "source is disabled for all packages (i.e., with `--no-build`)",
     f"No wheel of lxml for python3.12 x86_64; {_NONE}"),
])
def test_every_way_uv_says_no_wheel_fits(explanation: str, expected: str) -> None:
    stderr = f"error: No solution found when resolving dependencies\n  cause: {explanation}\n"
    assert summarize_failure(stderr, X86) == expected


@pytest.mark.parametrize(("text", "names"), [
    ("Because mysqlclient==2.2.4 has no usable wheels", ["mysqlclient==2.2.4"]),
    ("(`mysqlclient==2.2.4` has no usable wheels)", []),  # uv never quotes the subject
    ("x,mysqlclient==2.2.4 has no usable wheels", ["mysqlclient==2.2.4"]),
    ("because\n   a>=1.0,<2.0\n   has no usable wheels", ["a>=1.0,<2.0"]),
    ("all versions of My_SQL.Client[x] have no usable wheels", ["My_SQL.Client[x]"]),
    ("foo==1.0 depends on bar==1.0 has", []),
    ("the package has no usable wheels", ["package"]),  # the nearest name: what uv would mean
])
def test_the_name_is_what_uv_wrote_before_has(text: str, names: list[str]) -> None:
    assert [p.name for p in wheel_problems(text)] == names


def test_a_package_is_named_once_per_reason() -> None:
    problems = wheel_problems("Because a==1 has no usable wheels. And because a==1 has no usable wheels and "
                              "all versions of A have no wheels with a matching platform tag")
    assert [(p.name, p.package, p.kind) for p in problems] == [("a==1", "a", "none"), ("A", "a", "platform")]


# Nothing leaks: credentials, escape codes, or more than MAX_REASON characters.
@pytest.mark.parametrize("stderr", [
    "error: Failed to fetch: `https://reader:s3cr3t-pw@pypi.example.com/simple/six/`\n"
    "  cause: error sending request for url (https://reader:s3cr3t-pw@pypi.example.com/simple/six/)\n"
    "  cause: Connection refused (os error 111)\n",
    "ERROR: Could not install packages: 403 Forbidden for url https://reader:s3cr3t-pw@pypi.example.com/simple/six/\n",
    "ERROR: HTTP error 500 while getting http://reader:s3cr3t@pw@pypi.example.com:8443/six.whl\n",
    "error: No solution found when resolving dependencies\n  cause: Because six was not found in the package "
    "registry and you require six, we can conclude that your requirements are unsatisfiable.\n\nhint: An index URL "
    "(https://reader:s3cr3t-pw@pypi.example.com/simple/) could not be queried due to a lack of valid authentication "
    "credentials (401 Unauthorized)\n",
    "error: Failed to download `six==1.0`\n  cause: Request failed for https://reader:s3cr3t-pw@127.0.0.1:8080/x\n",
])
def test_credentials_in_an_index_url_never_reach_the_reason(stderr: str) -> None:
    reason = summarize_failure(stderr, X86)

    assert "s3cr3t" not in reason
    assert "reader" not in reason
    assert len(reason) <= MAX_REASON


def test_credentials_are_removed_and_the_url_kept() -> None:
    assert clean("from https://user:p%40ss@host.example/simple/ and `http://u:p@h:1/`") == (
        "from https://host.example/simple/ and `http://h:1/`")


def test_escape_sequences_and_control_characters_are_removed() -> None:
    assert clean("\x1b[1;31merror\x1b[0m: \x1b]8;;https://x\x07link\x1b]8;;\x07 \x1b(Bbell\x07\x00") == (
        "error: link bell")


def test_many_packages_without_wheels_stay_within_the_limit() -> None:
    names = [f"package-number-{i}==1.0" for i in range(200)]
    stderr = "error: No solution found\n  cause: " + " And because ".join(
        f"Because {name} has no usable wheels and you require {name}, we can conclude that it cannot be used."
        for name in names)

    reason = summarize_failure(stderr, X86)

    assert reason == (f"No wheel of package-number-0==1.0, package-number-1==1.0 and 198 more for python3.12 x86_64; "
                      f"{_NONE}")


def test_many_tags_and_long_names_stay_within_the_limit() -> None:
    tags = ", ".join(f"`manylinux_2_{i}_aarch64`" for i in range(17, 60))
    name = "a-" + "very-" * 40 + "long-name==1.0"
    stderr = (f"error: No solution\n  cause: Because {name} has no wheels with a matching platform tag and you "
              f"require it.\n\nhint: Wheels are available for `{name.split('==')[0]}` (v1.0) on the following "
              f"platforms: {tags}\n")

    reason = summarize_failure(stderr, X86)

    assert reason == (f"No wheel of {name[:67]}... fits python3.12 x86_64 (the index has wheels only for other "
                      f"platforms: manylinux_2_17_aarch64, manylinux_2_18_aarch64, ...); {_FIX}")
    assert len(reason) <= MAX_REASON


@pytest.mark.parametrize("stderr", [
    "error: " + "x" * 5000,
    "error: No solution\n  cause: Because " + "and because y " * 1000,
    "ERROR: " + "z" * 400 + "\n",
    "error: lack of valid authentication credentials (401 " + "u" * 1000 + ")",
])
def test_long_output_is_clipped(stderr: str) -> None:
    reason = summarize_failure(stderr, X86)
    assert len(reason) <= MAX_REASON


_SECRET = "Zq9-secret-Zq9"
_TEXTS = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="Zq9"), max_size=400)
_NOISE = st.sampled_from(["\x1b[31m", "\x1b[0m", "\x1b[1;36m", "\x1b]8;;https://x\x07", "\x1b", "\r", "\x00", "\t"])
_PIECES = st.one_of(
    _TEXTS, _NOISE,
    st.sampled_from(["error: ", "\n  cause: ", "Because ", " has no usable wheels", " have no usable wheels",
                     " has no wheels with a matching platform tag", "all versions of ", "ERROR: ", "\nhint: ",
                     "Wheels are available for `x` (v1) on the following platform: `y`", "\n", "==1.0", "mysqlclient",
                     f"https://reader:{_SECRET}@pypi.example.com/simple/", f"http://u:{_SECRET}@127.0.0.1:8080/",
                     "lack of valid authentication credentials (401 Unauthorized)"]),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_any_output_gives_a_short_clean_sentence(stderr: str) -> None:
    for target in (X86, ARM):
        reason = summarize_failure(stderr, target)
        assert 0 < len(reason) <= MAX_REASON
        assert not re.search(r"[\x00-\x08\x0a-\x1f\x7f]", reason), reason
        assert _SECRET not in reason
        assert "\x1b" not in reason


NUMPY_ON_39 = """error: No solution found when resolving dependencies
  cause: Because numpy==2.1.3 has no usable wheels and you require numpy==2.1.3, we can conclude that your
  requirements are unsatisfiable.

hint: Wheels are required for `numpy` because building from source is disabled for all packages
"""


def test_a_pinned_release_uv_calls_unusable_is_named_for_the_caller_to_look_up() -> None:
    assert pinned_unusable(NUMPY_ON_39) == [("numpy", "2.1.3")]
    assert pinned_unusable("error: Because all versions of numpy have no usable wheels ...") == []  # unpinned


def test_a_release_with_wheels_for_other_pythons_only_is_not_called_source_only() -> None:
    wheels = [f"numpy-2.1.3-cp3{m}-cp3{m}-manylinux_2_17_x86_64.manylinux2014_x86_64.whl" for m in (10, 11, 12)]
    assert summarize_failure(NUMPY_ON_39, PY39, {"numpy": wheels}) == (
        "No wheel of numpy==2.1.3 fits python3.9 x86_64 (the index has wheels only for other Python versions: "
        f"cp310, cp311, cp312); {_FIX}")


def test_a_release_with_wheels_for_other_machines_only_names_their_platforms() -> None:
    wheels = ["numpy-2.1.3-cp39-cp39-macosx_14_0_arm64.whl", "numpy-2.1.3-cp39-cp39-win_amd64.whl"]
    assert summarize_failure(NUMPY_ON_39, PY39, {"numpy": wheels}) == (
        "No wheel of numpy==2.1.3 fits python3.9 x86_64 (the index has wheels only for other platforms: "
        f"macosx_14_0_arm64, win_amd64); {_FIX}")


def test_a_release_without_wheels_is_source_only() -> None:
    expected = f"No wheel of numpy==2.1.3 for python3.9 x86_64; {_NONE}"
    assert summarize_failure(NUMPY_ON_39, PY39, {"numpy": []}) == expected
