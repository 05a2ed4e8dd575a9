"""One version everywhere a release is named, and no placeholder where a user copies from."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_release_version_is_the_same_in_every_place_that_names_it() -> None:
    semantic = re.search(r"^\s+SemanticVersion: (\S+)$", (ROOT / "template.yaml").read_text(), re.MULTILINE)
    assert semantic is not None
    version = semantic[1]
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"] == version
    newest = re.search(r"^## (\S+) \((\d{4}-\d\d-\d\d)\)\n\nBuild format: ", (ROOT / "CHANGELOG.md").read_text(),
                       re.MULTILINE)
    assert newest is not None and newest[1] == version
    tags = {
        "docs/tools.md": re.findall(r"rev: v(\S+)|custom-python-layer@v(\S+?)\"",
                                    (ROOT / "docs" / "tools.md").read_text()),
        ".pre-commit-hooks.yaml": re.findall(r"rev: v(\S+)()", (ROOT / ".pre-commit-hooks.yaml").read_text()),
        "examples/github-workflow-layer-diff.yml": re.findall(
            r"custom-python-layer@v(\S+)()", (ROOT / "examples" / "github-workflow-layer-diff.yml").read_text()),
    }
    for where, found in tags.items():
        named = {a or b for a, b in found}
        assert named == {version}, f"{where} names {sorted(named)}, the release is {version}"


def test_the_build_format_of_the_newest_release_is_the_providers() -> None:
    from pylayer.identity import BUILD_FORMAT

    text = (ROOT / "CHANGELOG.md").read_text()
    newest = text.split("\n## ", 2)[1]
    said = re.search(r"Build format: (?:unchanged \()?(\d+)", newest)
    assert said is not None and int(said[1]) == BUILD_FORMAT


def test_no_placeholder_is_left_where_users_copy_from() -> None:
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / ".pre-commit-hooks.yaml", ROOT / "pyproject.toml",
             *(ROOT / "docs").glob("*.md"), *(ROOT / "examples").iterdir()]
    for page in pages:
        text = page.read_text()
        for placeholder in ("OWNER/", "TAG_OR_COMMIT", "PLACEHOLDER", "<tag or commit>"):
            assert placeholder not in text, f"{page.relative_to(ROOT)} holds {placeholder}"


def test_every_release_tag_has_its_changelog_entry_and_none_is_ahead_of_the_template() -> None:
    import subprocess

    from packaging.version import Version

    listed = subprocess.run(["git", "tag", "--list", "v*"], cwd=ROOT, capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        return  # not a git checkout (a source archive): nothing to compare
    tags = [t.removeprefix("v") for t in listed.stdout.split()]
    changelog = (ROOT / "CHANGELOG.md").read_text()
    semantic = re.search(r"^\s+SemanticVersion: (\S+)$", (ROOT / "template.yaml").read_text(), re.MULTILINE)
    assert semantic is not None
    for tag in tags:
        assert f"\n## {tag} (" in changelog, f"tag v{tag} has no CHANGELOG.md entry"
        assert Version(tag) <= Version(semantic[1]), f"tag v{tag} is ahead of SemanticVersion {semantic[1]}"
