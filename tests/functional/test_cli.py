"""The `pylayer` command (build, lock, diff, lint), run as a reviewer runs it: real uv resolution and
real downloads from PyPI (small packages only), one wheel cache for the module."""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pylayer import archive, builder, identity
from pylayer.index import Index
from pylayer.install import find_uv
from pylayer.interpreters import Interpreters
from pylayer.properties import Defaults, parse
from pylayer.verify import verify
from pylayer.workers import LocalWorkers, RuntimeSite

ROOT = Path(__file__).resolve().parents[2]
# This interpreter's own target, so a built layer can be imported here.
HERE = ("--runtime", f"python{sys.version_info.major}.{sys.version_info.minor}", "--architecture", "x86_64")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-cache")


pytestmark = pytest.mark.network


def handler(*args: str | Path, cache: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The installed command (`make venv` installs this checkout), from any folder."""
    return subprocess.run([sys.executable, "-m", "pylayer", *map(str, args), "--cache", str(cache)], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)


def columns(text: str) -> list[str]:
    """Lines with runs of spaces squeezed, to assert on table rows."""
    return [" ".join(line.split()) for line in text.splitlines()]


def test_build_zips_the_directory_and_the_requirements_reproducibly(tmp_path: Path, cache: Path) -> None:
    if platform.machine() != "x86_64":
        pytest.skip("the built layer is imported here: x86_64 only")
    layer = tmp_path / "small-layer"
    (layer / "pkg" / "__pycache__").mkdir(parents=True)
    (layer / ".git").mkdir()
    (layer / "requirements.txt").write_text("# as strict as the Requirements property\n"
                                            "six==1.17.0\nmarkupsafe==3.0.2\n")
    (layer / "layer_helpers.py").write_text("import markupsafe\nimport six\n\n\ndef shout(text):\n"
                                            "    return six.text_type(markupsafe.escape(text)).upper()\n")
    (layer / "pkg" / "__init__.py").write_text("VALUE = 42\n")
    (layer / "pkg" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"stale")
    (layer / ".env").write_text("SECRET=1\n")
    (layer / ".git" / "config").write_text("[core]\n")

    first, second = tmp_path / "first.zip", tmp_path / "second.zip"
    done = handler("build", layer, *HERE, "--out", first, cache=cache)
    assert done.returncode == 0, done.stderr
    again = handler("build", layer, *HERE, "--out", second, cache=cache)
    assert again.returncode == 0, again.stderr

    assert first.read_bytes() == second.read_bytes()
    assert done.stdout == again.stdout.replace(str(second), str(first))
    lines = columns(done.stdout)
    assert any(line.startswith("markupsafe 3.0.2 ") for line in lines)
    assert any(line.startswith("six 1.17.0 ") for line in lines)
    assert any(line.startswith("layer_helpers.py (layer dir) ") for line in lines)
    assert f"sha256 {hashlib.sha256(first.read_bytes()).hexdigest()}" in lines
    assert f"zip size {first.stat().st_size:,} bytes" in " ".join(lines)

    with zipfile.ZipFile(first) as zf:
        names = zf.namelist()
        zf.extractall(tmp_path / "extracted")
    # The files sorted, then the bytecode sorted (the layer's zip is the staged zip with the bytecode appended).
    files = [n for n in names if not n.endswith(".pyc")]
    assert names == files + sorted(n for n in names if n.endswith(".pyc"))
    assert files == sorted(files)
    assert {"python/layer_helpers.py", "python/pkg/__init__.py", "python/six.py"} <= set(names)
    assert "python/requirements.txt" not in names
    assert any(n.startswith("python/markupsafe/_speedups.") and n.endswith(".so") for n in names)
    assert not [n for n in names if "/." in n]
    # The stale .pyc of the directory is gone; the bytecode is this runtime's, made by the build.
    assert "python/pkg/__pycache__/__init__.cpython-311.pyc" not in names or \
        zipfile.ZipFile(first).read("python/pkg/__pycache__/__init__.cpython-311.pyc") != b"stale"
    assert any(line.startswith("bytecode included") for line in lines)

    site = tmp_path / "extracted" / "python"
    script = ("import layer_helpers, markupsafe, pkg; print(layer_helpers.shout('<a>'), pkg.VALUE, "
              f"markupsafe.__file__.startswith({str(site)!r}))")
    imported = subprocess.run([sys.executable, "-S", "-c", script], env={"PATH": os.environ["PATH"],
                              "PYTHONPATH": str(site)}, capture_output=True, text=True, timeout=60, check=False)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.split() == ["&LT;A&GT;", "42", "True"]


def test_a_requirements_only_build_is_the_zip_the_provider_builds(tmp_path: Path, cache: Path) -> None:
    layer = tmp_path / "reqs"
    layer.mkdir()
    (layer / "requirements.txt").write_text("six==1.17.0\n")
    out = tmp_path / "cli.zip"
    done = handler("build", layer, "--runtime", "python3.12", "--out", out, cache=cache)
    assert done.returncode == 0, done.stderr

    # What the provider's build does with the same Requirements, Runtime and Architecture.
    spec = parse({"LayerName": "reqs", "Requirements": ["six==1.17.0"], "Runtime": "python3.12"},
                 Defaults("python3.13", "arm64"))
    work = tmp_path / "work"
    work.mkdir()
    engine = builder.Engine(cache)
    built = engine.build(spec, work, Index(), lambda: 900.0, identity.content_key(spec, identity.BuildOptions()))
    workers = LocalWorkers(Interpreters(), RuntimeSite(cache / "runtime", find_uv))
    verified = verify(spec, built.entries, built.owners, workers, work, lambda: 900.0)
    provider = archive.write_zip(verified.entries, tmp_path / "provider.zip")
    assert out.read_bytes() == provider.path.read_bytes()
    assert f"CodeSha256 {provider.code_sha256}" in columns(done.stdout)


LOCK_TEMPLATE = """\
Parameters:
  Big: {Type: String}
Conditions:
  IsBig: !Equals [!Ref Big, "yes"]
Resources:
  Pinned:
    Type: Custom::PythonLayer
    Properties:
      ServiceToken: !ImportValue python-layer-provider-ServiceToken
      LayerName: !Sub "${AWS::StackName}-pinned"
      Requirements: [six==1.16.0, idna==3.7]
      Runtime: python3.12
  Chosen:
    Type: Custom::PythonLayer
    Properties:
      LayerName: chosen
      Requirements: !If [IsBig, [attrs==24.2.0], [six==1.17.0]]
  Conflict:
    Type: Custom::PythonLayer
    Properties:
      LayerName: conflict
      Requirements: [six==1.16.0, six==1.17.0]
      Architecture: x86_64
"""


def test_lock_resolves_each_layer_for_its_target(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(LOCK_TEMPLATE)
    cache = tmp_path / "cache"
    done = handler("lock", template, cache=cache)

    assert done.returncode == 1, done.stderr  # Conflict cannot be built
    blocks = done.stdout.strip().split("\n\n")
    assert blocks[0].splitlines() == [
        "Chosen (chosen, python3.13 arm64)",
        "  not resolved: Requirements uses Fn::If; it is known only when the stack is deployed."]
    assert blocks[1].startswith("Conflict (conflict, python3.13 x86_64)\n"
                                "  FAILED: Install failed for python3.13 x86_64: Because you require six==1.16.0 "
                                "and six==1.17.0")
    assert blocks[2].splitlines() == ["Pinned (!Sub ${AWS::StackName}-pinned, python3.12 arm64)",
                                      "  idna==3.7", "  six==1.16.0"]
    assert "1 of 3 layers cannot be built" in done.stderr
    assert not (cache / "wheels").exists()  # resolved, nothing downloaded


OLD_TEMPLATE = """\
Resources:
  Deps:
    Type: Custom::PythonLayer
    Properties:
      LayerName: deps
      Requirements: [six==1.16.0, idna==3.10, markupsafe==3.0.2]
      Runtime: python3.11
      Architecture: x86_64
  Gone:
    Type: Custom::PythonLayer
    Properties:
      LayerName: gone
      Requirements: [six==1.17.0]
      Runtime: python3.12
  Same:
    Type: Custom::PythonLayer
    Properties:
      LayerName: same
      Requirements: [six==1.17.0]
"""

NEW_TEMPLATE = """\
Resources:
  Deps:
    Type: Custom::PythonLayer
    Properties:
      ServiceTimeout: 900
      LayerName: deps
      Requirements: [six==1.17.0, idna==3.7, attrs==24.2.0]
      Runtime: python3.11
      Architecture: x86_64
  Fresh:
    Type: Custom::PythonLayer
    Properties:
      LayerName: fresh
      Requirements: [six==1.17.0]
      Runtime: python3.12
  Same:
    Type: Custom::PythonLayer
    Properties:
      LayerName: same
      Requirements: "six==1.17.0"
      Runtime: python3.13
"""


def test_diff_of_two_templates(tmp_path: Path, cache: Path) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(OLD_TEMPLATE)
    new.write_text(NEW_TEMPLATE)
    done = handler("diff", old, new, cache=cache)

    assert done.returncode == 0, done.stderr
    lines = columns(done.stdout)
    assert lines[:2] == [f"Custom::PythonLayer changes: {old} -> {new}", "1 changed, 1 added, 1 removed, 1 unchanged"]
    assert "~ Deps (deps, python3.11 x86_64): changed, deploying publishes a new layer version" in lines
    kinds = [line.split()[:5] for line in lines if line.split()[:1] in (["upgraded"], ["downgraded"])]
    assert kinds == [["upgraded", "six", "1.16.0", "1.17.0", "+16"], ["downgraded", "idna", "3.10", "3.7", "-33.6"]]
    assert any(line.startswith("added attrs 24.2.0 +") for line in lines)
    assert any(line.startswith("removed markupsafe 3.0.2 -") for line in lines)
    assert "+ Fresh (fresh, python3.12 arm64): added" in lines
    assert "- Gone (gone, python3.12 arm64): removed" in lines
    assert lines[-1] == "Unchanged: Same"
    unzipped = next(line for line in lines if line.startswith("size unzipped"))
    before, after = (int(n.replace(",", "")) for n in unzipped.split()[2:4])
    assert after > before  # attrs outweighs markupsafe

    markdown = handler("diff", old, new, "--format", "markdown", "--fail-on-change", cache=cache)
    assert markdown.returncode == 1, markdown.stderr
    assert markdown.stdout.startswith("### Custom::PythonLayer changes\n")
    assert "| downgraded | idna | 3.10 | 3.7 | -33.6 kB |" in markdown.stdout
    assert "#### - `Gone` (gone, python3.12 arm64): removed" in markdown.stdout


def test_diff_against_a_git_revision(tmp_path: Path, cache: Path) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "stacks"
    repo.mkdir()
    template = repo / "template.yaml"
    template.write_text(OLD_TEMPLATE)
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    for command in (["init", "-q"], ["add", "template.yaml"], ["commit", "-q", "-m", "layers"]):
        subprocess.run([git, *identity, *command], cwd=repo, check=True, capture_output=True, timeout=60)

    unchanged = handler("diff", "HEAD:template.yaml", "template.yaml", "--fail-on-change", cache=cache, cwd=repo)
    assert unchanged.returncode == 0, unchanged.stderr
    assert columns(unchanged.stdout)[1] == "3 unchanged"

    template.write_text(OLD_TEMPLATE.replace("six==1.16.0, idna==3.10", "six==1.17.0, idna==3.10"))
    done = handler("diff", "HEAD:template.yaml", "template.yaml", "--fail-on-change", cache=cache, cwd=repo)
    assert done.returncode == 1, done.stderr
    lines = columns(done.stdout)
    assert lines[:2] == ["Custom::PythonLayer changes: HEAD:template.yaml -> template.yaml", "1 changed, 2 unchanged"]
    assert [line.split()[:4] for line in lines if line.startswith("upgraded")] == [
        ["upgraded", "six", "1.16.0", "1.17.0"]]

    missing = handler("diff", "HEAD:nope.yaml", "template.yaml", cache=cache, cwd=repo)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: HEAD:nope.yaml: path 'nope.yaml' does not exist in 'HEAD'")


def test_diff_against_what_is_deployed_reads_the_published_archive(tmp_path: Path, cache: Path) -> None:
    """OLD is the published zip (its locks), not what the old template would resolve today."""
    layer = tmp_path / "deps"
    layer.mkdir()
    (layer / "requirements.txt").write_text("six==1.16.0\nidna==3.10\n")
    deployed = tmp_path / "deployed.zip"
    built = handler("build", layer, "--runtime", "python3.12", "--architecture", "x86_64", "--out", deployed,
                    cache=cache)
    assert built.returncode == 0, built.stderr
    template = tmp_path / "template.yaml"
    template.write_text(NEW_TEMPLATE)

    done = handler("diff", deployed, template, "--layer", "Deps", cache=cache)

    assert done.returncode == 0, done.stderr
    lines = columns(done.stdout)
    assert f"OLD: the published {deployed} (python3.12)" in lines
    assert [line.split()[:4] for line in lines if line.split()[:1] in (["upgraded"], ["downgraded"])] == [
        ["upgraded", "six", "1.16.0", "1.17.0"], ["downgraded", "idna", "3.10", "3.7"]]
    assert any(line.startswith("added attrs 24.2.0") for line in lines)
    ambiguous = handler("diff", deployed, template, cache=cache)
    assert ambiguous.returncode == 2
    assert "name the layer to compare with --layer (its layers: Deps, Fresh, Same)" in ambiguous.stderr


UNBUILDABLE_TEMPLATE = """\
Resources:
  Missing:
    Type: Custom::PythonLayer
    Properties:
      ServiceToken: arn:aws:lambda:us-east-1:123456789012:function:provider
      ServiceTimeout: 900
      LayerName: missing
      Requirements: [no-such-package-pylayer-test==1.0]
      Runtime: python3.12
      Architecture: x86_64
  Fine:
    Type: Custom::PythonLayer
    Properties:
      ServiceToken: arn:aws:lambda:us-east-1:123456789012:function:provider
      ServiceTimeout: 900
      LayerName: fine
      Requirements: [six==1.16.0]
      Runtime: python3.12
      Architecture: x86_64
"""


def test_lint_resolve_refuses_what_the_provider_would_and_plain_lint_does_not(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(UNBUILDABLE_TEMPLATE)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    plain = subprocess.run([sys.executable, "-m", "pylayer", "lint", str(template)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300, check=False)
    resolved = subprocess.run([sys.executable, "-m", "pylayer", "lint", "--resolve", str(template)], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=300, check=False)

    assert plain.returncode == 0, plain.stdout  # the properties are valid
    assert resolved.returncode & 2, resolved.stdout + resolved.stderr
    assert resolved.stdout.startswith("E9107 Missing: Install failed for python3.12 x86_64: Because "
                                      "no-such-package-pylayer-test was not found")
    assert f"{template}:3:5" in resolved.stdout and "Fine" not in resolved.stdout
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "- id: pylayer-lint\n" in hooks and "entry: pylayer lint --resolve\n" in hooks  # what pre-commit runs
