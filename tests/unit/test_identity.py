from __future__ import annotations

from typing import Literal

from pylayer import identity
from pylayer.properties import Defaults, LayerSpec, parse

DEFAULTS = Defaults("python3.12", "arm64")
OPTIONS = identity.BuildOptions()


def spec(**changes: object) -> LayerSpec:
    return parse({"LayerName": "deps", "Requirements": ["six==1.16.0"], **changes}, DEFAULTS)


def test_the_version_key_ignores_what_does_not_change_the_published_version() -> None:
    base = identity.version_key(spec(), OPTIONS)
    assert identity.version_key(spec(Requirements="six == 1.16.0\n# pinned\n"), OPTIONS) == base
    assert identity.version_key(spec(Runtime="python3.12", Architecture="arm64"), OPTIONS) == base
    assert identity.version_key(spec(CompatibleRuntimes=["python3.12"]), OPTIONS) == base
    assert identity.version_key(spec(Bytecode="auto"), OPTIONS) == base
    # The order of CompatibleRuntimes, and which of them Runtime names, change nothing published.
    several = identity.version_key(spec(CompatibleRuntimes=["python3.12", "python3.13"]), OPTIONS)
    assert identity.version_key(spec(CompatibleRuntimes=["python3.13", "python3.12"], Runtime="python3.13"),
                                OPTIONS) == several


def test_the_version_key_follows_content_metadata_and_provider_options() -> None:
    base = identity.version_key(spec(), OPTIONS)
    changed = [
        identity.version_key(spec(Requirements=["six==1.17.0"]), OPTIONS),
        identity.version_key(spec(Architecture="x86_64"), OPTIONS),
        identity.version_key(spec(Runtime="python3.13"), OPTIONS),
        identity.version_key(spec(Description="new"), OPTIONS),
        identity.version_key(spec(LicenseInfo="MIT"), OPTIONS),
        identity.version_key(spec(LayerName="other"), OPTIONS),
        identity.version_key(spec(CompatibleRuntimes=["python3.12", "python3.13"]), OPTIONS),
        identity.version_key(spec(Bytecode="false"), OPTIONS),
        identity.version_key(spec(Bytecode="true"), OPTIONS),
        identity.version_key(spec(ImportCheck=["six"]), OPTIONS),
        identity.version_key(spec(Slim="true"), OPTIONS),
        identity.version_key(spec(ExcludeRuntimePackages="true"), OPTIONS),
        identity.version_key(spec(ShareWith=["111122223333"]), OPTIONS),
        identity.version_key(spec(), identity.BuildOptions(index_url="https://pkgs.example/simple")),
        identity.version_key(spec(), identity.BuildOptions(allow_sdist=True)),
    ]
    assert base not in changed
    assert len(set(changed)) == len(changed)


def test_the_content_key_is_shared_across_names_and_metadata() -> None:
    assert identity.content_key(spec(LayerName="a", Description="x"), OPTIONS) == \
        identity.content_key(spec(LayerName="b", ShareWith=["111122223333"]), OPTIONS)


def test_owner_keys_differ_by_stack_and_logical_id() -> None:
    keys = {identity.owner_key("stack/a/1", "Layer"), identity.owner_key("stack/b/2", "Layer"),
            identity.owner_key("stack/a/1", "Other")}
    assert len(keys) == 3
    assert all(len(k) == 12 for k in keys)


def test_the_marker_round_trips_through_a_description_within_lambdas_limit() -> None:
    states: tuple[identity.BytecodeState | Literal[""], ...] = (*identity.BYTECODE_STATES, "")
    for state in states:
        marker = identity.Marker("0123456789abcdef", "abcdef012345", 262_144_000, state)
        description = identity.describe("d" * 200, marker)
        assert len(description) <= 256
        assert identity.read_marker(description) == marker
    assert identity.read_marker("no marker here") is None
    assert identity.read_marker(None) is None
    marker = identity.Marker("0123456789abcdef", "abcdef012345", 10, "included")
    assert identity.read_marker(marker.render() + " trailing") is None
    assert identity.describe("", marker) == "[pylayer 0123456789abcdef abcdef012345 10 i]"


def test_a_marker_of_the_first_build_format_still_reads_as_ours() -> None:
    # Versions published before bytecode existed: still this provider's (Delete must find their owner).
    assert identity.read_marker("old [pylayer 0123456789abcdef abcdef012345 42]") == \
        identity.Marker("0123456789abcdef", "abcdef012345", 42, "")
