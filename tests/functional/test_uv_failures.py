"""uv's real words for requirements it cannot resolve, and the one sentence the user gets for each.

Every scenario publishes small synthetic distributions (sdists, wheels tagged for
one platform or Python) on a loopback index, resolves them with the command the
provider runs (``install.plan_uv_lock``: ``uv pip compile --format pylock.toml
--only-binary :all:`` with the target's ``--python-version``/``--python-platform``,
``--no-config``, UV_DEFAULT_INDEX set to the index, UV_PYTHON_DOWNLOADS=never)
and asserts the summary of uv's stderr. No network is needed besides loopback.

uv's stderr for each scenario is stored in tests/data/uv-failures/NAME.txt, which
tests/unit/test_failures.py summarises without running uv. After a uv upgrade,
``PYTHONPATH=handler python -m tests.functional.test_uv_failures`` rewrites those files from uv's
current output (then check what the unit tests say).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from pylayer import install
from pylayer.failures import SDIST_HINT, summarize_failure
from pylayer.index import Index, scrub
from pylayer.target import Target
from tests.support.failing_index import Dist, FailingIndex, sdist, wheel

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "uv-failures"
X86 = Target("python3.12", "x86_64")
ARM = Target("python3.12", "arm64")
PY39 = Target("python3.9", "x86_64")
AARCH64 = "cp312-cp312-manylinux_2_17_aarch64"
USER, PASSWORD = "reader", "s3cr3t-Pa$$w:rd/+"  # characters that need quoting in a URL


def no_wheel(names: str, target: Target = X86) -> str:
    return f"No wheel of {names} for {target.describe()}; {SDIST_HINT}."


def fits(names: str, elsewhere: str, target: Target = X86) -> str:
    return (f"No wheel of {names} fits {target.describe()} (the index has wheels only for {elsewhere}); "
            "pick a version that has one, or change Runtime/Architecture.")


@dataclass(frozen=True)
class Scenario:
    dists: tuple[Dist, ...]
    requirements: tuple[str, ...]
    expected: str
    target: Target = X86
    credentials: tuple[str, str] | None = None  # the index demands these
    sent: tuple[str, str] | None = None  # the provider sends these (default: the right ones)


SCENARIOS: dict[str, Scenario] = {
    # Only an sdist, which --only-binary :all: rules out.
    "sdist-pinned": Scenario((sdist("mysqlclient", "2.2.4"),), ("mysqlclient==2.2.4",),
                             no_wheel("mysqlclient==2.2.4")),
    "sdist-unpinned-one-version": Scenario((sdist("mysqlclient", "2.2.4"),), ("mysqlclient",),
                                           no_wheel("mysqlclient==2.2.4")),
    # The reported bug, word for word the documented sentence.
    "sdist-unpinned-all-versions": Scenario(
        (sdist("mysqlclient", "2.2.4"), sdist("mysqlclient", "2.1.0")), ("mysqlclient",),
        "No wheel of mysqlclient for python3.12 x86_64; source distributions are not allowed "
        "(provider parameter AllowSourceDistributions)."),
    "sdist-range": Scenario((sdist("mysqlclient", "2.2.4"), sdist("mysqlclient", "1.0")), ("mysqlclient>=2",),
                            no_wheel("mysqlclient==2.2.4")),
    "sdist-range-below-a-wheel": Scenario(
        (sdist("mysqlclient", "2.2.4"), sdist("mysqlclient", "1.0"), wheel("mysqlclient", "3.0")),
        ("mysqlclient>=1,<3",), no_wheel("mysqlclient<=2.2.4")),
    "sdist-extra": Scenario((sdist("mysqlclient", "2.2.4"),), ("mysqlclient[extra]==2.2.4",),
                            no_wheel("mysqlclient[extra]==2.2.4")),
    "sdist-unnormalized-name": Scenario((sdist("my-sql.client", "2.2.4"),), ("My_SQL.Client",),
                                        no_wheel("my-sql-client==2.2.4")),
    # uv stops at the first requirement it cannot satisfy: beta is not named.
    "sdist-several-requirements": Scenario((sdist("alpha", "1.0"), sdist("beta", "1.0")), ("alpha", "beta"),
                                           no_wheel("alpha==1.0")),
    "sdist-several-requirements-pinned": Scenario(
        (sdist("alpha", "1.0"), sdist("beta", "1.0")), ("alpha==1.0", "beta==1.0"), no_wheel("alpha==1.0")),
    "sdist-dependency": Scenario((wheel("foo", "1.0", "py3-none-any", "bar"), sdist("bar", "1.0")), ("foo==1.0",),
                                 no_wheel("bar==1.0")),
    "sdist-dependency-unpinned": Scenario((wheel("foo", "1.0", "py3-none-any", "bar"), sdist("bar", "1.0")),
                                          ("foo",), no_wheel("bar==1.0")),
    "sdist-dependency-all-versions": Scenario(
        (wheel("foo", "1.0", "py3-none-any", "bar"), sdist("bar", "1.0"), sdist("bar", "2.0")), ("foo==1.0",),
        no_wheel("bar")),
    "sdist-several-dependencies": Scenario(
        (wheel("foo", "1.0", "py3-none-any", "bar"), wheel("foo", "2.0", "py3-none-any", "baz"),
         sdist("bar", "1.0"), sdist("baz", "1.0")), ("foo",), no_wheel("bar==1.0, baz==1.0")),
    # Wheels, but none for the target.
    "platform-pinned": Scenario((wheel("native", "1.0", AARCH64),), ("native==1.0",),
                                fits("native==1.0", "other platforms: manylinux_2_17_aarch64")),
    "platform-unpinned": Scenario((wheel("native", "1.0", AARCH64),), ("native",),
                                  fits("native==1.0", "other platforms: manylinux_2_17_aarch64")),
    "platform-all-versions": Scenario(
        (wheel("native", "1.0", AARCH64), wheel("native", "2.0", "cp312-cp312-macosx_11_0_arm64"),
         wheel("native", "2.0", "cp312-cp312-win_amd64")), ("native",),
        fits("native", "other platforms: macosx_11_0_arm64, win_amd64")),
    "platform-range": Scenario((wheel("native", "1.0", AARCH64), wheel("native", "2.0", AARCH64)),
                               ("native>=1.5",), fits("native==2.0", "other platforms: manylinux_2_17_aarch64")),
    "platform-dependency": Scenario((wheel("foo", "1.0", "py3-none-any", "native"), wheel("native", "1.0", AARCH64)),
                                    ("foo==1.0",),
                                    fits("native==1.0", "other platforms: manylinux_2_17_aarch64")),
    "platform-arm64-target": Scenario((wheel("amd", "1.0", "cp312-cp312-manylinux_2_17_x86_64"),), ("amd==1.0",),
                                      fits("amd==1.0", "other platforms: manylinux_2_17_x86_64", ARM), ARM),
    "platform-newer-glibc": Scenario((wheel("newglibc", "1.0", "cp39-cp39-manylinux_2_34_x86_64"),),
                                     ("newglibc==1.0",),
                                     fits("newglibc==1.0", "other platforms: manylinux_2_34_x86_64", PY39), PY39),
    "python-abi-pinned": Scenario((wheel("oldpy", "1.0", "cp39-cp39-manylinux2014_x86_64"),), ("oldpy==1.0",),
                                  fits("oldpy==1.0", "other Python versions: cp39")),
    "python-abi-unpinned": Scenario((wheel("oldpy", "1.0", "cp39-cp39-manylinux2014_x86_64"),), ("oldpy",),
                                    fits("oldpy==1.0", "other Python versions: cp39")),
    "python-implementation": Scenario((wheel("pypyonly", "1.0", "pp310-pypy310_pp73-manylinux_2_17_x86_64"),),
                                      ("pypyonly==1.0",), fits("pypyonly==1.0", "other Python versions: pp310")),
    "python-newer-abi3": Scenario((wheel("newabi", "1.0", "cp313-abi3-manylinux_2_17_x86_64"),), ("newabi==1.0",),
                                  fits("newabi==1.0", "other Python versions: cp313")),
    "python-2-only": Scenario((wheel("oldpure", "1.0", "py2-none-any"),), ("oldpure==1.0",),
                              fits("oldpure==1.0", "other Python versions: py2")),
    # Both: an sdist-only dependency of one version, wheels for another target for the other.
    "mixed-dependencies": Scenario(
        (wheel("foo", "1.0", "py3-none-any", "bar"), wheel("foo", "2.0", "py3-none-any", "baz"),
         sdist("bar", "1.0"), wheel("baz", "1.0", AARCH64)), ("foo",),
        f"{no_wheel('bar==1.0')} Wheels of baz==1.0 exist only for other platforms."),
    "mixed-versions": Scenario((sdist("mysqlclient", "1.0"), wheel("mysqlclient", "2.0", AARCH64)), ("mysqlclient",),
                               fits("mysqlclient==2.0", "other platforms: manylinux_2_17_aarch64")),
    # Not about wheels: uv's own explanation.
    "not-found": Scenario((wheel("six", "1.0"),), ("nosuch",),
                          "Install failed for python3.12 x86_64: Because nosuch was not found in the package registry "
                          "and you require nosuch, we can conclude that your requirements are unsatisfiable."),
    "no-such-version": Scenario((wheel("six", "1.0"),), ("six==2.0",),
                                "Install failed for python3.12 x86_64: Because there is no version of six==2.0 and "
                                "you require six==2.0, we can conclude that your requirements are unsatisfiable."),
    "version-conflict": Scenario(
        (wheel("foo", "1.0", "py3-none-any", "bar==1.0"), wheel("bar", "1.0"), wheel("bar", "2.0")),
        ("foo==1.0", "bar==2.0"),
        "Install failed for python3.12 x86_64: Because all versions of foo depend on bar==1.0 and you require "
        "foo==1.0, we can conclude that you require bar==1.0. And because you require bar==2.0, we can conclude "
        "that your requirements are unsatisfiable."),
    # A private index: the credentials are in UV_DEFAULT_INDEX, never in the answer.
    "private-index-sdist": Scenario((sdist("mysqlclient", "2.2.4"), sdist("mysqlclient", "2.1.0")),
                                    ("mysqlclient",), no_wheel("mysqlclient"), credentials=(USER, PASSWORD)),
    "private-index-refused": Scenario(
        (wheel("six", "1.0"),), ("six",),
        "Install failed for python3.12 x86_64: the package index refused the provider's credentials "
        "(401 Unauthorized); check the index secret.", credentials=(USER, PASSWORD), sent=(USER, "not-the-password")),
}


@dataclass(frozen=True)
class Observed:
    returncode: int
    stderr: str  # scrubbed as install.run scrubs it, the loopback port and temporary paths made constant


def observe(scenario: Scenario, work: Path) -> Observed:
    """Publish the scenario's files and resolve its requirements the way the provider does."""
    credentials = scenario.credentials or (None, "")
    with FailingIndex(work / "files", scenario.dists, *credentials) as index:
        user, password = scenario.sent or scenario.credentials or ("", "")
        requirements = work / "requirements.in"
        requirements.write_text("".join(f"{r}\n" for r in scenario.requirements))
        command = install.plan_uv_lock(install.find_uv(), requirements, scenario.target, work / "pylock.toml",
                                       work / "cache", Index(index.url, user, password))
        # No proxy, no user configuration: loopback only.
        env = {"PATH": os.environ.get("PATH", ""), **command.env}
        done = subprocess.run(command.argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    stderr = scrub(done.stderr, command.secrets)  # as install.run does
    stderr = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:8080", stderr).replace(str(work), "/tmp/uv-failures")
    return Observed(done.returncode, stderr)


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Observed]:
    """uv's answer to each scenario, run once for the module."""
    root = tmp_path_factory.mktemp("uv-failures")
    return {name: observe(scenario, root / name) for name, scenario in SCENARIOS.items()}


def test_the_command_is_the_providers_binary_only_resolution_for_the_target(tmp_path: Path) -> None:
    command = install.plan_uv_lock("uv", tmp_path / "r.in", X86, tmp_path / "pylock.toml", tmp_path / "c",
                                   Index("http://127.0.0.1:8080/simple/"))
    argv = list(command.argv)
    assert argv[1:4] == ["pip", "compile", str(tmp_path / "r.in")]
    for option, value in (("--format", "pylock.toml"), ("--python-version", "3.12"),
                          ("--python-platform", "x86_64-manylinux_2_34"), ("--only-binary", ":all:"),
                          ("--color", "never")):
        assert argv[argv.index(option) + 1] == value
    assert {"--no-config", "--no-header", "--quiet", "--no-progress"} <= set(argv)
    assert command.env["UV_DEFAULT_INDEX"] == "http://127.0.0.1:8080/simple/"
    assert command.env["UV_PYTHON_DOWNLOADS"] == "never"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_uv_fails_and_the_user_reads_one_short_sentence(observed: dict[str, Observed], name: str) -> None:
    scenario, seen = SCENARIOS[name], observed[name]

    reason = summarize_failure(seen.stderr, scenario.target)

    assert seen.returncode != 0, seen.stderr
    assert reason == scenario.expected, seen.stderr
    assert len(reason) <= 300
    assert "\x1b" not in reason
    for secret in (PASSWORD, "s3cr3t", "not-the-password"):
        assert secret not in reason
        assert secret not in seen.stderr


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_stored_stderr_is_what_uv_says(observed: dict[str, Observed], name: str) -> None:
    stored = FIXTURES / f"{name}.txt"
    assert stored.is_file(), "missing fixture: run PYTHONPATH=handler python -m tests.functional.test_uv_failures"
    assert observed[name].stderr == stored.read_text(), (
        f"uv words {name} differently now: run PYTHONPATH=handler python -m tests.functional.test_uv_failures, "
        "then check tests/unit/test_failures.py")


def test_every_stored_stderr_has_a_scenario() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.txt")) == sorted(SCENARIOS)


@pytest.mark.parametrize(("dists", "requirement", "target"), [
    ((wheel("native", "1.0", AARCH64),), "native", ARM),
    ((wheel("amd", "1.0", "cp312-cp312-manylinux_2_17_x86_64"),), "amd", X86),
    ((wheel("oldpy", "1.0", "cp39-cp39-manylinux2014_x86_64"),), "oldpy", PY39),
    ((sdist("mysqlclient", "2.1.0"), wheel("mysqlclient", "2.2.4", "py3-none-any", "bar"), wheel("bar", "1.0")),
     "mysqlclient", X86),
])
def test_the_same_files_resolve_for_a_target_they_fit(tmp_path: Path, dists: tuple[Dist, ...], requirement: str,
                                                      target: Target) -> None:
    """The control: the index and its files are sound, only the target decides."""
    seen = observe(Scenario(dists, (requirement,), "", target), tmp_path)

    assert seen.returncode == 0, seen.stderr
    assert f'name = "{requirement}"' in (tmp_path / "pylock.toml").read_text()


def main() -> None:
    """Rewrite tests/data/uv-failures from uv's current output."""
    FIXTURES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as root:
        for name, scenario in SCENARIOS.items():
            seen = observe(scenario, Path(root) / name)
            (FIXTURES / f"{name}.txt").write_text(seen.stderr)
            print(f"{name}: exit {seen.returncode}: {summarize_failure(seen.stderr, scenario.target)}",
                  file=sys.stderr)


if __name__ == "__main__":
    main()
