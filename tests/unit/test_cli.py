"""The pure parts of the pylayer command (pylayer/devtools): no uv, no network."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from pylayer import archive
from pylayer.devtools import cli, layerdiff, layerdir, report, templates
from pylayer.errors import InstallFailed, InvalidProperties
from pylayer.properties import Defaults, LayerSpec, parse
from pylayer.target import Target
from pylayer.wheels import Wheel

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = Defaults("python3.13", "arm64")

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Version: {Type: String}
Conditions:
  Big: !Equals [!Ref Version, big]
Resources:
  Plain:
    Type: Custom::PythonLayer
    Properties:
      ServiceToken: !ImportValue python-layer-provider-ServiceToken
      ServiceTimeout: 900
      LayerName: !Sub "${AWS::StackName}-plain"
      Description: !Sub "built for ${AWS::StackName}"
      ShareWith: !Ref Accounts
      Requirements: [six==1.17.0, "idna==3.10"]
      Runtime: python3.12
  Chosen:
    Type: Custom::PythonLayer
    Properties:
      LayerName: chosen
      Requirements: !If [Big, [numpy==2.1.3], [six==1.17.0]]
  Partly:
    Type: Custom::PythonLayer
    Properties:
      LayerName: partly
      Requirements:
        - six==1.17.0
        - !Sub "idna==${Version}"
  Spread:
    Type: Custom::PythonLayer
    Properties:
      LayerName: spread
      Requirements: [six==1.17.0]
      CompatibleRuntimes: !Ref Runtimes
  Targeted:
    Type: Custom::PythonLayer
    Properties:
      LayerName: targeted
      Requirements: [six==1.17.0]
      Architecture: !Ref Architecture
  Refused:
    Type: Custom::PythonLayer
    Properties:
      LayerName: refused
      Requirements: ["-r other.txt"]
  Misspelt:
    Type: Custom::PythonLayer
    Properties:
      LayerName: misspelt
      Requirement: !Ref Version
  Whole:
    Type: Custom::PythonLayer
    Properties: !If [Big, {LayerName: a, Requirements: [x]}, !Ref AWS::NoValue]
  Bucket:
    Type: AWS::S3::Bucket
"""


def layers_of(text: str, defaults: Defaults = DEFAULTS) -> dict[str, templates.TemplateLayer]:
    found = templates.read_layers(templates.decode_template(text, "t.yaml"), defaults)
    return {layer.logical_id: layer for layer in found}


# --------------------------------------------------------------------------- templates

def test_every_python_layer_is_read_in_logical_id_order() -> None:
    template = templates.decode_template(TEMPLATE, "t.yaml")
    ids = [layer.logical_id for layer in templates.read_layers(template, DEFAULTS)]
    assert ids == ["Chosen", "Misspelt", "Partly", "Plain", "Refused", "Spread", "Targeted", "Whole"]


def test_intrinsics_that_only_label_the_version_do_not_stop_resolution() -> None:
    plain = layers_of(TEMPLATE)["Plain"]
    assert plain.spec is not None
    assert plain.spec.requirements == ("idna==3.10", "six==1.17.0")
    assert plain.spec.describe() == "python3.12 arm64"  # Architecture defaulted
    assert plain.spec.runtimes == ("python3.12",)
    assert plain.name == "!Sub ${AWS::StackName}-plain"
    assert plain.label() == "Plain (!Sub ${AWS::StackName}-plain, python3.12 arm64)"
    assert "ServiceToken" not in plain.properties and "ServiceTimeout" not in plain.properties
    assert plain.problem == ""


@pytest.mark.parametrize(("logical_id", "problem"), [
    ("Chosen", "not resolved: Requirements uses Fn::If; it is known only when the stack is deployed."),
    ("Partly", "not resolved: Requirements uses Fn::Sub; it is known only when the stack is deployed."),
    ("Targeted", "not resolved: Architecture uses Ref; it is known only when the stack is deployed."),
    ("Spread", "not resolved: CompatibleRuntimes uses Ref; it is known only when the stack is deployed."),
    ("Whole", "not resolved: Properties is !If ...."),
])
def test_intrinsics_that_decide_the_content_are_reported_not_guessed(logical_id: str, problem: str) -> None:
    layer = layers_of(TEMPLATE)[logical_id]
    assert layer.spec is None
    assert layer.problem == problem
    assert layer.invalid == ""


def test_invalid_properties_get_the_providers_own_reason() -> None:
    layers = layers_of(TEMPLATE)
    assert layers["Refused"].invalid.startswith("Requirements: -r other.txt is a pip option")
    # An unknown property is refused before its intrinsic could excuse it.
    assert layers["Misspelt"].invalid.startswith(
        "Unknown properties: Requirement. Did you mean Requirements? Allowed: LayerName")
    assert layers["Refused"].problem.startswith("invalid: ")


def test_the_default_target_is_the_one_given() -> None:
    chosen = layers_of(TEMPLATE, Defaults("python3.11", "x86_64"))["Targeted"]
    assert chosen.target == "python3.11 !Ref Architecture"
    spec = layers_of("Resources:\n  L:\n    Type: Custom::PythonLayer\n    Properties: {LayerName: l, "
                     "Requirements: six}\n", Defaults("python3.11", "x86_64"))["L"].spec
    assert spec is not None and spec.describe() == "python3.11 x86_64"


def test_json_templates_are_read_too() -> None:
    template = {"Resources": {
        "Json": {"Type": "Custom::PythonLayer",
                 "Properties": {"ServiceToken": {"Fn::ImportValue": "x"}, "LayerName": "json",
                                "Requirements": ["six==1.17.0"], "Slim": True, "Runtime": "python3.12"}},
        "Cond": {"Type": "Custom::PythonLayer",
                 "Properties": {"LayerName": "c", "Requirements": {"Fn::If": ["C", ["a"], ["b"]]}}},
    }}
    layers = layers_of(json.dumps(template, indent="\t"))  # tabs: not YAML, read as JSON
    spec = layers["Json"].spec
    assert spec is not None and spec.slim and spec.requirements == ("six==1.17.0",)
    assert layers["Cond"].unresolved.startswith("Requirements uses Fn::If")


def test_a_template_that_cannot_be_read_names_the_line() -> None:
    with pytest.raises(templates.CliError, match=r"^t\.yaml: cannot read the template: .*\(line \d+\)$"):
        templates.decode_template("Resources:\n  A:\n    Type: [unclosed\n", "t.yaml")
    with pytest.raises(templates.CliError, match="no Resources section"):
        templates.read_layers(templates.decode_template("AWSTemplateFormatVersion: '2010-09-09'\n", "t.yaml"), DEFAULTS)


def test_render_shows_intrinsics_short() -> None:
    assert templates.render({"Ref": "Stage"}) == "!Ref Stage"
    assert templates.render({"Fn::Sub": "${A}-b"}) == "!Sub ${A}-b"
    assert templates.render({"Fn::Join": ["-", ["a", "b"]]}) == "!Join ..."
    assert templates.render("plain") == "plain"
    assert templates.render(["111122223333", {"Ref": "Partner"}]) == "[111122223333, !Ref Partner]"
    assert templates.find_intrinsic(["a", {"k": [{"Fn::GetAtt": ["R", "Arn"]}]}]) == "Fn::GetAtt"
    assert templates.find_intrinsic({"Key": "a", "Other": "b"}) is None


@pytest.mark.parametrize(("argument", "exists", "expected"), [
    ("template.yaml", True, templates.Source("template.yaml")),
    ("HEAD~1:examples/consumer.yaml", False, templates.Source("examples/consumer.yaml", "HEAD~1")),
    ("origin/main:template.yaml", False, templates.Source("template.yaml", "origin/main")),
    ("odd:name.yaml", True, templates.Source("odd:name.yaml")),  # an existing file wins
    ("missing.yaml", False, templates.Source("missing.yaml")),
])
def test_sources_are_files_or_git_revisions(argument: str, exists: bool, expected: templates.Source) -> None:
    assert templates.parse_source(argument, lambda _: exists) == expected
    assert str(expected) == argument


def test_a_source_with_an_empty_side_is_refused() -> None:
    with pytest.raises(templates.CliError, match="REV:PATH"):
        templates.parse_source(":template.yaml", lambda _: False)


def test_a_missing_file_is_a_short_error(tmp_path: Path) -> None:
    with pytest.raises(templates.CliError, match=r"nope\.yaml: No such file or directory\."):
        templates.read_source(templates.Source(str(tmp_path / "nope.yaml")))


# --------------------------------------------------------------------------- diff

@pytest.mark.parametrize(("old", "new", "kind"), [
    ("1.9", "1.10", "upgraded"),  # not string order
    ("1.10", "1.9", "downgraded"),
    ("1.16.0", "1.17.0", "upgraded"),
    ("2.0rc1", "2.0", "upgraded"),
    ("2.9.0", "2.9.0.post0", "upgraded"),
    ("2024.2.2", "2023.11.17", "downgraded"),
    ("1.0", "1.0.0", None),
    ("3.7", "3.7", None),
    ("not-a-version!", "1.0", "changed"),
])
def test_versions_are_ordered_as_packaging_orders_them(old: str, new: str, kind: str | None) -> None:
    assert layerdiff.version_change(old, new) == kind


def test_package_changes_are_classified_and_grouped() -> None:
    old = {"six": "1.16.0", "idna": "3.10", "markupsafe": "3.0.2", "attrs": "24.2.0", "certifi": "2024.8.30"}
    new = {"six": "1.17.0", "idna": "3.7", "attrs": "24.2.0", "certifi": "2024.8.30", "zipp": "3.20.0",
           "annotated-types": "0.7.0"}
    changes = layerdiff.diff_packages(old, new, {"six": 100, "idna": 500, "markupsafe": 70},
                                {"six": 110, "idna": 450, "zipp": 30, "annotated-types": 20})
    assert [(c.kind, c.name, c.old, c.new, c.size_change) for c in changes] == [
        ("upgraded", "six", "1.16.0", "1.17.0", 10),
        ("downgraded", "idna", "3.10", "3.7", -50),
        ("added", "annotated-types", None, "0.7.0", 20),
        ("added", "zipp", None, "3.20.0", 30),
        ("removed", "markupsafe", "3.0.2", None, -70),
    ]
    assert layerdiff.diff_packages(old, old) == []


def spec(requirements: tuple[str, ...] = ("six==1.17.0",), **props: object) -> LayerSpec:
    return parse({"LayerName": "deps", "Requirements": list(requirements), **props}, DEFAULTS)


def layer(logical_id: str = "Deps", properties: dict[str, object] | None = None) -> templates.TemplateLayer:
    props = properties if properties is not None else {"LayerName": "deps", "Requirements": ["six==1.17.0"]}
    return templates.layer_from_properties(logical_id, props, DEFAULTS)


class FakeMeasure:
    """Content per requirement set: each requirement is name==version of a package of 1,000 bytes."""

    def __init__(self, fail: frozenset[str] = frozenset()) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.fail = fail

    def __call__(self, layer_spec: LayerSpec) -> layerdiff.Content:
        self.calls.append(layer_spec.requirements)
        failing = set(layer_spec.requirements) & self.fail
        if failing:
            raise InstallFailed(f"Install failed for {layer_spec.describe()}: {sorted(failing)[0]}")
        packages = dict(r.split("==") for r in layer_spec.requirements)
        return layerdiff.Content(packages, dict.fromkeys(packages, 1_000), 1_000 * len(packages), 400 * len(packages))


def test_a_layer_whose_spec_is_the_same_is_unchanged_without_resolving() -> None:
    measure = FakeMeasure()
    old = layer(properties={"LayerName": "deps", "Requirements": ["six==1.17.0", "idna==3.10"]})
    new = layer(properties={"LayerName": "deps", "Requirements": "idna==3.10\nsix==1.17.0\n",
                            "Runtime": "python3.13"})  # reordered, a string, the default spelt out
    diff = layerdiff.compare("Deps", old, new, measure)
    assert diff.status == "unchanged" and not diff.differs
    assert measure.calls == []


def test_upgrades_downgrades_additions_and_removals_with_sizes() -> None:
    old = layer(properties={"LayerName": "deps", "Requirements": ["six==1.16.0", "idna==3.10", "markupsafe==3.0.2"]})
    new = layer(properties={"LayerName": "deps", "Requirements": ["six==1.17.0", "idna==3.7", "attrs==24.2.0"]})
    diff = layerdiff.compare("Deps", old, new, FakeMeasure())
    assert diff.status == "changed" and not diff.error
    assert [(c.kind, c.name) for c in diff.packages] == [
        ("upgraded", "six"), ("downgraded", "idna"), ("added", "attrs"), ("removed", "markupsafe")]
    assert diff.old_content is not None and diff.new_content is not None
    assert diff.properties == ()


def test_requirements_that_resolve_to_the_same_packages_say_so() -> None:
    class Transitive(FakeMeasure):
        def __call__(self, layer_spec: LayerSpec) -> layerdiff.Content:
            return super().__call__(spec(("requests==2.32.3", "idna==3.10")))

    new = layer(properties={"LayerName": "deps", "Requirements": ["six==1.17.0", "idna==3.10"]})
    diff = layerdiff.compare("Deps", layer(), new, Transitive())
    assert (diff.status, diff.packages, diff.properties) == ("changed", (), ())
    assert diff.notes == ("the requirements changed, the resolved packages did not",)


def test_target_changes_are_reported_as_property_changes() -> None:
    old = layer(properties={"LayerName": "deps", "Requirements": ["six==1.17.0"], "Runtime": "python3.12"})
    new = layer(properties={"LayerName": "deps", "Requirements": ["six==1.17.0"], "Architecture": "x86_64"})
    diff = layerdiff.compare("Deps", old, new, FakeMeasure())
    assert [(p.name, p.old, p.new) for p in diff.properties] == [
        ("CompatibleRuntimes", "python3.12", "python3.13"), ("Architecture", "arm64", "x86_64")]
    assert diff.packages == ()  # same versions; the sizes are measured for each target


def test_a_change_of_labels_only_is_not_resolved() -> None:
    measure = FakeMeasure()
    new = layer(properties={"LayerName": "deps", "Requirements": ["six==1.17.0"], "Description": "now"})
    diff = layerdiff.compare("Deps", layer(), new, measure)
    assert diff.status == "changed"
    assert [(p.name, p.old, p.new) for p in diff.properties] == [("Description", "-", "now")]
    assert measure.calls == []
    assert diff.notes == ("the same packages and files; deploying publishes a new layer version",)


def test_a_changed_intrinsic_label_is_a_change_not_sameness() -> None:
    measure = FakeMeasure()
    old = layer(properties={"LayerName": {"Fn::Sub": "${AWS::StackName}-a"}, "Requirements": ["six==1.17.0"],
                            "ShareWith": [{"Ref": "AWS::AccountId"}]})
    new = layer(properties={"LayerName": {"Fn::Sub": "${AWS::StackName}-b"}, "Requirements": ["six==1.17.0"],
                            "ShareWith": [{"Ref": "AWS::AccountId"}]})
    assert old.spec is not None and old.spec == new.spec  # the stand-ins read the same ...
    assert old.stood_in == (("LayerName", "!Sub ${AWS::StackName}-a"), ("ShareWith", "[!Ref AWS::AccountId]"))
    diff = layerdiff.compare("Deps", old, new, measure)
    assert diff.status == "changed"  # ... but the layer's name is not the same
    assert [(p.name, p.old, p.new) for p in diff.properties] == [
        ("LayerName", "!Sub ${AWS::StackName}-a", "!Sub ${AWS::StackName}-b")]
    assert measure.calls == []


def test_layers_added_and_removed_as_a_whole() -> None:
    diffs = layerdiff.diff_templates([layer("Gone")], [layer("Fresh")], FakeMeasure())
    assert [(d.logical_id, d.status) for d in diffs] == [("Fresh", "added"), ("Gone", "removed")]
    fresh, gone = diffs
    assert [(c.kind, c.name, c.new) for c in fresh.packages] == [("added", "six", "1.17.0")]
    assert fresh.old_content is None and fresh.new_content is not None
    assert [(c.kind, c.name, c.old) for c in gone.packages] == [("removed", "six", "1.17.0")]
    assert gone.new_content is None


def test_intrinsics_make_a_layer_unknown_but_not_an_error() -> None:
    old = layer(properties={"LayerName": "deps", "Requirements": {"Fn::If": ["C", ["a"], ["b"]]}})
    new = layer(properties={"LayerName": "deps", "Requirements": {"Fn::If": ["C", ["a"], ["c"]]}})
    diff = layerdiff.compare("Deps", old, new, FakeMeasure())
    assert (diff.status, diff.error, diff.differs) == ("unknown", False, True)
    assert diff.notes[1].startswith("NEW: not resolved: Requirements uses Fn::If")
    # The same intrinsic on both sides: nothing changed.
    assert layerdiff.compare("Deps", old, old, FakeMeasure()).status == "unchanged"


def test_a_new_side_that_cannot_be_built_is_an_error_an_old_one_is_not() -> None:
    broken = layer(properties={"LayerName": "deps", "Requirements": ["six==1.17.0", "bad==1"]})
    to_broken = layerdiff.compare("Deps", layer(), broken, FakeMeasure(fail=frozenset({"bad==1"})))
    assert (to_broken.status, to_broken.error) == ("failed", True)
    assert to_broken.notes == ("NEW: Install failed for python3.13 arm64: bad==1",)
    from_broken = layerdiff.compare("Deps", broken, layer(), FakeMeasure(fail=frozenset({"bad==1"})))
    assert (from_broken.status, from_broken.error) == ("failed", False)
    removed = layerdiff.compare("Deps", broken, None, FakeMeasure(fail=frozenset({"bad==1"})))
    assert (removed.status, removed.error, removed.notes) == (
        "removed", False, ("OLD: Install failed for python3.13 arm64: bad==1",))
    invalid = layer(properties={"LayerName": "deps", "Requirements": ["six; rm -rf /"]})
    assert layerdiff.compare("Deps", layer(), invalid, FakeMeasure()).error


# --------------------------------------------------------------------------- layer directory

def write(path: Path, text: str = "x = 1\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_layer_files_skip_dot_names_bytecode_and_the_top_requirements(tmp_path: Path) -> None:
    root = tmp_path / "layer"
    for name in ("helpers.py", "pkg/__init__.py", "pkg/data/table.csv", "pkg/requirements.txt",
                 "requirements.txt", ".env", ".git/config", "pkg/.hidden.py", "pkg/.cache/x.py",
                 "pkg/__pycache__/__init__.cpython-311.pyc", "stale.pyc", "pkg/old.pyo"):
        write(root / name)
    tool = write(root / "bin/tool.py")
    tool.chmod(0o755)
    (root / "linked.py").symlink_to(root / "helpers.py")
    files = layerdir.layer_files(root)
    assert [e.arcname for e in files] == [
        "python/bin/tool.py", "python/helpers.py", "python/linked.py", "python/pkg/__init__.py",
        "python/pkg/data/table.csv", "python/pkg/requirements.txt"]
    assert [e.executable for e in files] == [True, False, False, False, False, False]
    assert all(e.path is not None and e.member is None and e.size == 6 for e in files)


@pytest.mark.parametrize("relative", [".env", "a/.b/c.py", "a/__pycache__/m.pyc", "m.pyc", "a/.git"])
def test_ignored_paths(relative: str) -> None:
    assert layerdir.ignored(relative)


def test_requirements_are_read_as_strictly_as_the_property(tmp_path: Path) -> None:
    assert layerdir.read_layer_requirements(tmp_path) is None
    write(tmp_path / "requirements.txt", "# pinned\nsix==1.17.0  # inline\n\nIDNA==3.10\n")
    assert layerdir.read_layer_requirements(tmp_path) == ("IDNA==3.10", "six==1.17.0")
    write(tmp_path / "requirements.txt", "-r other.txt\n")
    with pytest.raises(InvalidProperties, match=r"requirements\.txt: Requirements: -r other\.txt is a pip option"):
        layerdir.read_layer_requirements(tmp_path)
    write(tmp_path / "requirements.txt", "six @ https://example.com/six.whl\n")
    with pytest.raises(InvalidProperties, match="direct URL reference"):
        layerdir.read_layer_requirements(tmp_path)


def member_entry(arcname: str, size: int, wheel: str, compressed: int | None = None) -> archive.Entry:
    member = archive.WheelMember(Path(f"/cache/{wheel}.whl"), 0, archive.DEFLATED, 0,
                                 compressed if compressed is not None else size // 2)
    return archive.Entry(arcname, size, False, member=member)


def test_the_layer_directory_wins_over_an_installed_file_and_says_so() -> None:
    installed = [member_entry("python/six.py", 100, "a"), member_entry("python/six-1.17.0.dist-info/METADATA", 10, "a")]
    local = [archive.Entry("python/six.py", 5, False, path=Path("/layer/six.py")),
             archive.Entry("python/helpers.py", 7, False, path=Path("/layer/helpers.py"))]
    merged, overridden = layerdir.merge(installed, local)
    assert [e.arcname for e in merged] == ["python/helpers.py", "python/six-1.17.0.dist-info/METADATA",
                                           "python/six.py"]
    assert merged[2].path == Path("/layer/six.py")
    assert overridden == ["python/six.py"]


def test_sizes_are_attributed_to_distributions_and_local_names() -> None:
    entries = [
        member_entry("python/dateutil/parser.py", 600, "d"),
        member_entry("python/python_dateutil-2.9.0.post0.dist-info/METADATA", 50, "d"),
        member_entry("python/six.py", 300, "s"),
        member_entry("python/six-1.17.0.dist-info/METADATA", 20, "s"),
        archive.Entry("python/helpers.py", 30, False, path=Path("/l/helpers.py")),
        archive.Entry("python/models/__init__.py", 10, False, path=Path("/l/models/__init__.py")),
        archive.Entry("python/models/order.py", 15, False, path=Path("/l/models/order.py")),
    ]
    local = frozenset(e.arcname for e in entries if e.path is not None)
    rows = layerdiff.distribution_sizes(entries, local)
    assert [(r.name, r.version, r.size) for r in rows] == [
        ("python-dateutil", "2.9.0.post0", 650), ("six", "1.17.0", 320), ("helpers.py", "(layer dir)", 30),
        ("models", "(layer dir)", 25)]
    content = layerdiff.content_of(entries[:4])
    assert content.packages == {"python-dateutil": "2.9.0.post0", "six": "1.17.0"}
    assert content.sizes == {"python-dateutil": 650, "six": 320}
    assert (content.unzipped, content.zipped) == (970, 485)


@pytest.mark.parametrize(("folder", "name"), [("http-client", "http-client"), ("my layer!", "my-layer"),
                                              ("...", "layer")])
def test_layer_names_come_from_the_folder(tmp_path: Path, folder: str, name: str) -> None:
    assert layerdir.layer_name_for(tmp_path / folder) == name


# --------------------------------------------------------------------------- formatting

def test_text_tables_pad_and_align() -> None:
    assert report.text_table([("a", "1"), ("long", "1,000")], right=frozenset({1}), indent="  ") == [
        "  a         1", "  long  1,000"]
    assert report.text_table([]) == []


def test_markdown_tables_escape_pipes_and_align_right() -> None:
    assert report.markdown_table(("a", "b"), [("x|y", "")], right=frozenset({1})) == [
        "| a | b |", "| --- | ---: |", "| x\\|y |   |"]


def test_the_size_table_gives_each_package_its_share() -> None:
    rows = [layerdiff.PackageSize("pydantic-core", "2.27.2", 750), layerdiff.PackageSize("pydantic", "2.10.4", 240),
            layerdiff.PackageSize("models.py", "(layer dir)", 10)]
    assert report.size_table(rows) == [
        "package        version      unzipped  share",
        "pydantic-core  2.27.2            750  75.0%",
        "pydantic       2.10.4            240  24.0%",
        "models.py      (layer dir)        10   1.0%",
    ]


@pytest.mark.parametrize(("size", "text"), [(0, "0 B"), (999, "999 B"), (1_500, "1.5 kB"),
                                            (262_144_000, "262.1 MB"), (-2_000_000, "-2.0 MB")])
def test_human_sizes(size: int, text: str) -> None:
    assert report.human(size) == text


def test_size_changes() -> None:
    assert report.change(1_000, 1_250) == "+250 B (+25.0%)"
    assert report.change(2_000_000, 1_000_000) == "-1.0 MB (-50.0%)"
    assert report.change(0, 5_000) == "+5.0 kB"
    assert report.change(7, 7) == "no change"


def sample_diffs() -> list[layerdiff.LayerDiff]:
    old = layer(properties={"LayerName": "deps", "Requirements": ["six==1.16.0", "idna==3.10", "markupsafe==3.0.2"]})
    new = layer(properties={"LayerName": "deps", "Requirements": ["six==1.17.0", "idna==3.7", "attrs==24.2.0"],
                            "Runtime": "python3.12"})
    return layerdiff.diff_templates([old, layer("Same"), layer("Gone")], [new, layer("Same")], FakeMeasure())


def test_the_text_diff_reads_as_a_report() -> None:
    text = report.format_diff(sample_diffs(), "HEAD:t.yaml", "t.yaml")
    assert text.splitlines()[:3] == ["Custom::PythonLayer changes: HEAD:t.yaml -> t.yaml",
                                     "1 changed, 1 removed, 1 unchanged", ""]
    assert "~ Deps (deps, python3.12 arm64): changed, deploying publishes a new layer version" in text
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "property CompatibleRuntimes python3.13 python3.12" in lines
    assert "upgraded six 1.16.0 1.17.0 0 B" in lines
    assert "downgraded idna 3.10 3.7 0 B" in lines
    assert "added attrs 24.2.0 +1.0 kB" in lines
    assert "removed markupsafe 3.0.2 -1.0 kB" in lines
    assert "size unzipped 3,000 3,000 no change" in lines
    assert "- Gone (deps, python3.13 arm64): removed" in lines
    assert text.endswith("Unchanged: Same\n")


def test_the_markdown_diff_is_a_pull_request_comment() -> None:
    text = report.format_diff(sample_diffs(), "origin/main:t.yaml", "t.yaml", markdown=True)
    assert text.startswith("### Custom::PythonLayer changes\n\n`origin/main:t.yaml` → `t.yaml`: 1 changed")
    assert "#### ~ `Deps` (deps, python3.12 arm64): changed, deploying publishes a new layer version" in text
    assert "| change | name | old | new | size change |" in text
    assert "| downgraded | idna | 3.10 | 3.7 | 0 B |" in text
    assert "| added | attrs |   | 24.2.0 | +1.0 kB |" in text
    assert text.endswith("Unchanged: `Same`\n")


def test_no_layers_on_either_side() -> None:
    assert report.format_diff([], "a", "b") == (
        "Custom::PythonLayer changes: a -> b\nno Custom::PythonLayer resources on either side\n")


def test_the_lock_lists_name_equals_version_and_marks_excluded_packages() -> None:
    excluded = layer(properties={"LayerName": "aws", "Requirements": ["boto3"], "ExcludeRuntimePackages": "true"})
    resolved = [Wheel("boto3", "1.35.0", "https://x/boto3.whl", "a"), Wheel("six", "1.17.0", "https://x/six.whl", "b")]
    assert report.format_lock(excluded, {Target("python3.13", "arm64"): resolved}) == [
        "Deps (aws, python3.13 arm64)", "  boto3==1.35.0  (excluded: ExcludeRuntimePackages)", "  six==1.17.0"]
    assert report.format_lock(layer(), None, "Install failed for python3.13 arm64: Because ...") == [
        "Deps (deps, python3.13 arm64)", "  FAILED: Install failed for python3.13 arm64: Because ..."]
    unresolved = layer(properties={"LayerName": "c", "Requirements": {"Ref": "Reqs"}})
    assert report.format_lock(unresolved, None)[1] == \
        "  not resolved: Requirements uses Ref; it is known only when the stack is deployed."


# --------------------------------------------------------------------------- the build command without requirements

def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_layer_directory_without_requirements_builds_offline_and_reproducibly(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "only-code"
    write(root / "helpers.py", "def greet() -> str:\n    return 'hi'\n")
    write(root / ".secret", "token")
    outs = [tmp_path / "a.zip", tmp_path / "b.zip"]
    for out in outs:
        code, stdout, _ = run_main(["build", str(root), "--out", str(out), "--cache", str(tmp_path / "c"),
                                    "--bytecode", "false"], capsys)
        assert code == 0
        assert "helpers.py  (layer dir)" in stdout and "CodeSha256" in stdout
    assert outs[0].read_bytes() == outs[1].read_bytes()
    with zipfile.ZipFile(outs[0]) as zf:
        assert zf.namelist() == ["python/helpers.py"]
    assert not (tmp_path / "c").exists()  # nothing to install: the engine was never asked


@pytest.mark.parametrize(("make", "message"), [
    (lambda root: None, "not a directory"),
    (lambda root: write(root / ".only-hidden"), "has no files and no requirements.txt"),
    (lambda root: write(root / "Makefile", "build:\n"), "has a Makefile: it is built by `sam build`"),
])
def test_what_is_not_a_layer_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  make: Callable[[Path], object], message: str) -> None:
    root = tmp_path / "layer"
    make(root)
    code, _, stderr = run_main(["build", str(root), "--out", str(tmp_path / "x.zip")], capsys)
    assert code == 2
    assert message in stderr
    assert not (tmp_path / "x.zip").exists()


def test_the_provider_dependency_layer_is_not_a_layer_directory(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = run_main(["build", str(ROOT / "layers" / "provider")], capsys)
    assert code == 2 and "sam build" in stderr


def test_bad_requirements_fail_before_anything_is_installed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "layer" / "requirements.txt", "six==1.17.0; rm -rf /\n")
    code, _, stderr = run_main(["build", str(tmp_path / "layer"), "--cache", str(tmp_path / "c")], capsys)
    assert code == 1
    assert "is not a valid PEP 508 requirement" in stderr
    assert not (tmp_path / "c").exists()


def test_the_examples_are_layer_directories() -> None:
    for name in ("http-client", "pydantic-models"):
        root = ROOT / "layers" / name
        requirements = layerdir.read_layer_requirements(root)
        assert requirements is not None and len(requirements) == 1
        assert [e.arcname for e in layerdir.layer_files(root)] == [
            f"python/{p.name}" for p in sorted(root.glob("*.py"))]
        assert not (root / "Makefile").exists()



# --------------------------------------------------------------------------- a published version as OLD

def published_zip(path: Path) -> Path:
    """A layer archive as the provider writes it: a lock per runtime, dist-info RECORDs, bytecode."""
    lock = ('lock-version = "1.0"\ncreated-by = "pylayer"\n\n[[packages]]\nname = "six"\nversion = "1.16.0"\n'
            'wheels = [{ name = "six-1.16.0-py2.py3-none-any.whl", url = "https://x/six.whl", '
            'hashes = { sha256 = "ab" } }]\n')
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pylayer/0123456789abcdef/pylock.python312.toml", lock)
        zf.writestr("pylayer/0123456789abcdef/pylock.python313.toml", lock)
        zf.writestr("python/six.py", "x" * 100)
        zf.writestr("python/__pycache__/six.cpython-312.pyc", "y" * 40)
        zf.writestr("python/six-1.16.0.dist-info/RECORD", "six.py,sha256=x,100\nsix-1.16.0.dist-info/RECORD,,\n")
    return path


def test_a_published_archive_is_read_from_its_locks(tmp_path: Path) -> None:
    from pylayer.devtools import published

    content, runtimes = published.content_of_archive(published_zip(tmp_path / "v3.zip"))
    assert runtimes == ["python3.12", "python3.13"]
    assert content.packages == {"six": "1.16.0"}  # the same version for both runtimes: one row
    assert content.sizes == {"six": 100 + 40 + len("six.py,sha256=x,100\nsix-1.16.0.dist-info/RECORD,,\n")}
    assert published.is_published("arn:aws:lambda:eu-west-1:123456789012:layer:deps:3")
    assert published.is_published("v3.zip") and not published.is_published("template.yaml")


def test_a_layer_version_arn_is_fetched_through_get_layer_version(tmp_path: Path) -> None:
    from pylayer.devtools import published

    source = published_zip(tmp_path / "source.zip")
    asked: list[dict[str, object]] = []

    class Lambda:
        def get_layer_version(self, **request: object) -> dict[str, object]:
            asked.append(request)
            return {"Content": {"Location": "https://awslambda-eu-west-1-layers.s3.amazonaws.com/x?sig"}}

    def fetch_url(url: str, dest: Path) -> None:
        assert url.startswith("https://awslambda-eu-west-1-layers.")
        dest.write_bytes(source.read_bytes())

    arn = "arn:aws:lambda:eu-west-1:123456789012:layer:deps:3"
    path = published.fetch(arn, tmp_path / "fetched.zip", Lambda(), fetch_url)

    assert asked == [{"LayerName": arn.rsplit(":", 1)[0], "VersionNumber": 3}]
    assert published.content_of_archive(path)[0].packages == {"six": "1.16.0"}
    with pytest.raises(templates.CliError, match="not an https URL"):
        published.download("http://example.com/x.zip", tmp_path / "x.zip")


def test_the_build_table_names_each_runtimes_copy_and_labels_the_locks() -> None:
    entries = [
        member_entry("python/lib/python3.12/site-packages/core/_speed.so", 700, "c312"),
        member_entry("python/lib/python3.12/site-packages/core-2.0.dist-info/METADATA", 10, "c312"),
        member_entry("python/lib/python3.13/site-packages/core/_speed.so", 600, "c313"),
        member_entry("python/lib/python3.13/site-packages/core-2.0.dist-info/METADATA", 10, "c313"),
        archive.Entry("pylayer/0123456789abcdef/pylock.python312.toml", 40, False, data=b"x" * 40),
    ]
    table = report.size_table(layerdiff.distribution_sizes(entries))
    assert [line.split()[:2] for line in table[1:]] == [["core", "[python3.12]"], ["core", "[python3.13]"],
                                                       ["pylayer/", "(PEP"]]
    assert table[3].split()[4] == "-"  # the locks have no version, and say so
    assert layerdiff.content_of(entries).sizes == {"core": 1320}  # a package's size counts every copy


def test_lock_check_fails_only_on_a_stale_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pylayer.devtools import cli
    from tests.support.locks import lock_lines

    lines = "".join(f"        - '{line}'\n" for line in lock_lines(["python3.12"], "x86_64", ("six==1.16.0",)))
    layer = ("  {name}:\n    Type: Custom::PythonLayer\n    Properties:\n      LayerName: l\n"
             "      Requirements: [{requirement}]\n      Runtime: python3.12\n      Architecture: x86_64\n"
             "      Slim: {slim}\n      Lock:\n" + lines)
    fresh = tmp_path / "fresh.yaml"
    fresh.write_text("Resources:\n" + layer.format(name="A", requirement="six==1.16.0", slim="!Ref Slim"))
    assert cli.main(["lock", str(fresh), "--check"]) == 0  # known only at deploy time: not stale
    stale = tmp_path / "stale.yaml"
    stale.write_text("Resources:\n" + layer.format(name="B", requirement="six==1.17.0", slim="false"))
    assert cli.main(["lock", str(stale), "--check"]) == 1
    assert "Lock stale: Lock holds six 1.16.0 for python3.12" in capsys.readouterr().out
