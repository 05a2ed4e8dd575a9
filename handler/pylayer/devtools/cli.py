"""The ``pylayer`` command: build, lock, diff and lint Custom::PythonLayer resources where reviewers are.

Installed from a clone or a git URL (``pip install``/``pipx install``; pyproject.toml), or run in this
repository as ``python -m pylayer``. It uses the provider's own build engine, runtime workers (local
interpreters) and validation, so what it says is what the provider would do. Not part of the Lambda
package. The pure parts live beside it (templates, layerdir, layerdiff, published, report) and are
unit-tested without a network; this module runs uv, downloads wheels and starts cfn-lint.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import archive, builder, identity, imageroot, layerlock
from ..errors import ProviderError
from ..index import Index, validate_url
from ..install import find_uv
from ..interpreters import Interpreters
from ..progress import Progress, Silent
from ..properties import Defaults, LayerSpec, parse
from ..target import ARCHITECTURES, RUNTIMES
from ..verify import verify
from ..workers import LocalWorkers, RuntimeSite
from . import layerinfo, lockwriter, published
from .layerdiff import Content, compare_published, content_of, diff_templates, distribution_sizes
from .layerdir import REQUIREMENTS_FILE, layer_files, layer_name_for, merge, read_layer_requirements
from .report import format_diff, format_lock, human, number, size_table, text_table
from .templates import (
    PROVIDER_DEFAULTS,
    RESOURCE_TYPE,
    CliError,
    TemplateLayer,
    decode_template,
    load_layers,
    parse_source,
    read_layers,
    read_source,
)

log = logging.getLogger(__name__)


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pylayer"


@contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pylayer-cli-") as path:
        yield Path(path)


class TerminalProgress:
    """Each stage of a build as a bar on stderr (tqdm): resolve, download (bytes), compile and import, zip."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self.make = tqdm
        self.bars: dict[str, Any] = {}
        self.lock = threading.Lock()  # downloads advance from several threads

    def start(self, stage: str, total: int = 0, unit: str = "") -> None:
        with self.lock:
            self.bars[stage] = self.make(total=total or None, desc=stage, unit=unit or "it", unit_scale=unit == "B",
                                         file=sys.stderr, leave=True, dynamic_ncols=True)

    def advance(self, stage: str, amount: int) -> None:
        with self.lock:
            if stage in self.bars:
                self.bars[stage].update(amount)

    def finish(self, stage: str, note: str = "") -> None:
        with self.lock:
            bar = self.bars.pop(stage, None)
            if bar is not None:
                if note:
                    bar.set_postfix_str(note[:80], refresh=False)
                bar.close()


def progress_for(quiet: bool, stream: Any = None, environ: Any = None) -> Progress:
    """Bars on a terminal; nothing with --quiet, in CI (CI set), or when stderr is not a terminal."""
    stream = stream if stream is not None else sys.stderr
    environ = environ if environ is not None else os.environ
    if quiet or environ.get("CI") or not stream.isatty():
        return Silent()
    return TerminalProgress()


def _engine(cache: Path, progress: Progress | None = None) -> builder.Engine:
    return builder.Engine(cache.resolve(), progress=progress or Silent())


def _index(args: argparse.Namespace) -> Index:
    """The index to resolve from: --index-url (a mirror, a private index without credentials), else PyPI."""
    url = getattr(args, "index_url", "") or ""
    return Index(validate_url(url)) if url else Index()


def _no_deadline() -> float:
    return 3600.0


def _defaults(args: argparse.Namespace) -> Defaults:
    return Defaults(args.default_runtime, args.default_architecture)


# --------------------------------------------------------------------------- build

def run_build(args: argparse.Namespace) -> int:
    directory: Path = args.layer_dir
    if not directory.is_dir():
        raise CliError(f"{directory}: not a directory.")
    if (directory / "Makefile").is_file():
        raise CliError(f"{directory} has a Makefile: it is built by `sam build` (BuildMethod: makefile), "
                       "not a layer directory of this command.")
    name = layer_name_for(directory)
    out: Path = args.out or Path("build") / f"{name}.zip"
    requirements = read_layer_requirements(directory)
    local = layer_files(directory)
    runtimes = args.compatible_runtime or [args.runtime]
    spec = parse({"LayerName": name, "Requirements": list(requirements or ["placeholder"]),
                  "CompatibleRuntimes": runtimes, "Architecture": args.architecture, "Slim": args.slim,
                  "ExcludeRuntimePackages": args.exclude_runtime_packages, "Bytecode": args.bytecode,
                  "ImportCheck": args.import_check or "auto"}, PROVIDER_DEFAULTS)
    progress = progress_for(args.quiet)
    engine = _engine(args.cache, progress)
    with _workdir() as workdir:
        installed: list[archive.Entry] = []
        owners: dict[str, str] = {}
        if requirements is not None:
            made = engine.build(spec, workdir, _index(args), _no_deadline,
                                identity.content_key(spec, identity.BuildOptions()))
            installed, owners = made.entries, made.owners
        entries, overridden = merge(installed, local)
        if not entries:
            raise CliError(f"{directory} has no files and no {REQUIREMENTS_FILE}.")
        for arcname in overridden:
            print(f"warning: {arcname} from {directory} replaces the installed file", file=sys.stderr)
        archive.check_size(entries)
        workers = LocalWorkers(Interpreters(uv=find_uv()), RuntimeSite(engine.cache_root / "runtime", find_uv),
                               image_root=imageroot.find())
        verified = verify(spec, entries, owners, workers, workdir, _no_deadline, progress=progress)
        progress.start("zip", len(verified.entries), "files")
        built = archive.write_zip(verified.entries, workdir / "layer.zip")
        progress.advance("zip", len(verified.entries))
        progress.finish("zip", human(built.size))
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(built.path, out)
    rows = distribution_sizes(verified.entries, frozenset(e.arcname for e in local))
    print(f"{directory} -> {out} ({spec.describe()})")
    print()
    print("\n".join(size_table(rows)))
    print()
    print("\n".join(text_table([
        ("zip size", f"{number(built.size)} bytes ({human(built.size)})"),
        ("unzipped size", f"{number(built.unzipped_size)} bytes ({human(built.unzipped_size)}), "
                          f"{built.file_count} files"),
        ("bytecode", f"{verified.bytecode} ({verified.bytecode_note})"),
        ("proof", f"{verified.proof} ({'; '.join(r.where for r in verified.reports) or 'no worker'})"),
        ("CodeSha256", built.code_sha256),
        ("sha256", built.sha256),
    ])))
    return 0


# --------------------------------------------------------------------------- lock

def run_lock(args: argparse.Namespace) -> int:
    """Print each layer's resolution; with --write, write the Lock of each layer whose lock is missing or
    stale (every layer's with --all) into the template; with --check, resolve nothing and fail on a stale
    lock."""
    if args.check:
        return max(_check_locks(template, _defaults(args)) for template in args.template)
    if len(args.template) != 1:
        raise CliError("give one TEMPLATE (several only with --check).")
    [template] = args.template
    source, layers = load_layers(template, _defaults(args))
    if not layers:
        print(f"{template}: no {RESOURCE_TYPE} resources")
        return 0
    if args.write and source.revision is not None:
        raise CliError(f"{template}: --write needs a template file, not a git revision.")
    engine = _engine(args.cache, progress_for(args.quiet))
    failed = 0
    written: dict[str, list[str]] = {}
    with _workdir() as workdir:
        for number_, layer in enumerate(layers):
            state = lock_state(layer)
            refresh = args.write and (args.all or state != "up to date")
            spec = layer.unlocked if refresh else layer.spec  # a refresh resolves anew, not held to the old lock
            resolved, failure = None, ""
            if spec is not None:
                folder = workdir / str(number_)
                folder.mkdir()
                try:
                    resolved = engine.resolve_all(spec, folder, _index(args), _no_deadline)
                except ProviderError as exc:
                    failure = exc.reason
            shown = dataclasses.replace(layer, invalid="") if refresh and spec is not None else layer
            failed += bool(shown.invalid or failure)
            if refresh and spec is not None and resolved is not None:
                written[layer.logical_id] = layerlock.make(
                    spec.requirements, spec.architecture, {t.runtime: ws for t, ws in resolved.items()}).lines()
                state = "written"
            said = [f"  Lock: {state}"] if args.write or "Lock" in layer.properties else []
            print("\n".join([*format_lock(shown, resolved, failure), *said]) + "\n", flush=True)
    if written:
        path = Path(source.path)
        text = path.read_text(encoding="utf-8")
        changed = lockwriter.write(text, written)
        if changed != text:
            path.write_text(changed, encoding="utf-8")
        print(f"{path}: Lock written for {', '.join(written)}", file=sys.stderr)
    if failed:
        print(f"{failed} of {len(layers)} layers cannot be built", file=sys.stderr)
    return 1 if failed else 0


def lock_state(layer: TemplateLayer) -> str:
    """What a layer's Lock is: up to date, stale (why), none, or unknown (intrinsics)."""
    if "Lock" not in layer.properties:
        return "none (pylayer lock --write adds one)"
    if layer.spec is not None and layer.spec.lock is not None:
        return "up to date"
    if layer.unlocked is not None:
        return f"stale: {layer.invalid}"
    return f"unknown: {layer.problem}"


def _check_locks(template: str, defaults: Defaults) -> int:
    """--check: every Lock up to date (a layer without one is reported, not failed). Nothing is resolved.
    A file that is not a template (pre-commit passes every YAML file it matched) is skipped."""
    try:
        _, layers = load_layers(template, defaults)
    except CliError as exc:
        print(f"{template}: skipped, not a template ({exc})")
        return 0
    stale = 0
    for layer in layers:
        state = lock_state(layer)
        stale += state.startswith("stale")  # unknown (intrinsics, another invalid property): lint's to report
        print(f"{layer.label()}: Lock {state}")
    if stale:
        print(f"{stale} of {len(layers)} locks are stale: run pylayer lock --write and review the change",
              file=sys.stderr)
    return 1 if stale else 0


# --------------------------------------------------------------------------- diff

class Measurer:
    """Resolve, fetch and size a spec with the engine; each distinct content once per run."""

    def __init__(self, engine: builder.Engine, workdir: Path, index: Index | None = None) -> None:
        self.engine = engine
        self.workdir = workdir
        self.index = index or Index()
        self.done: dict[tuple[object, ...], Content] = {}

    def __call__(self, spec: LayerSpec) -> Content:
        key = (spec.requirements, spec.targets, spec.slim, spec.exclude_runtime_packages, spec.lock)
        if key not in self.done:
            folder = Path(tempfile.mkdtemp(dir=self.workdir))
            built = self.engine.layer_entries(spec, folder, self.index, _no_deadline)
            per_runtime = {t.runtime: {w.name: w.version for w in ws} for t, ws in built.chosen.items()}
            self.done[key] = content_of(built.entries, per_runtime)
        return self.done[key]


def run_diff(args: argparse.Namespace) -> int:
    defaults = _defaults(args)
    new_source, new_layers = load_layers(args.new, defaults)
    with _workdir() as workdir:
        measure = Measurer(_engine(args.cache, progress_for(args.quiet)), workdir, _index(args))
        if published.is_published(args.old):
            diffs = [_diff_published(args, new_layers, measure, workdir)]
        else:
            _, old_layers = load_layers(args.old, defaults)
            diffs = diff_templates(old_layers, new_layers, measure)
    print(format_diff(diffs, args.old, str(new_source), markdown=args.format == "markdown"), end="")
    if any(d.error for d in diffs):
        print("error: a layer of NEW cannot be built", file=sys.stderr)
        return 2
    return 1 if args.fail_on_change and any(d.differs for d in diffs) else 0


def _diff_published(args: argparse.Namespace, layers: Sequence[Any], measure: Measurer, workdir: Path) -> Any:
    """OLD is what is deployed (a version's archive); NEW one layer of a template (--layer, or its only one)."""
    chosen = [layer for layer in layers if args.layer in (None, layer.logical_id)]
    if len(chosen) != 1:
        names = ", ".join(layer.logical_id for layer in layers) or "none"
        raise CliError(f"{args.new}: name the layer to compare with --layer (its layers: {names}).")
    source = Path(args.old)
    if not args.old.endswith(".zip"):
        source = published.fetch(args.old, workdir / "published.zip")
    content, runtimes = published.content_of_archive(source)
    return compare_published(chosen[0], args.old, content, runtimes, measure)


# --------------------------------------------------------------------------- inspect

def inspect_source(source: str, workdir: Path, lambda_client: Any = None,
                   fetch_url: published.Download = published.download) -> layerinfo.LayerInfo:
    """A .zip file, or a layer version ARN (GetLayerVersion, then its archive)."""
    if source.endswith(".zip") or not published.is_published(source):
        return layerinfo.read(layerinfo.check_zip(Path(source)), source)
    path, version = published.fetch_version(source, workdir / "published.zip", lambda_client, fetch_url)
    return layerinfo.read(path, source, version)


def run_inspect(args: argparse.Namespace) -> int:
    """What a layer zip or a published version holds, per runtime."""
    with _workdir() as workdir:
        info = inspect_source(args.source, workdir)
    if args.format == "json":
        print(json.dumps(info.as_json(), indent=2, sort_keys=True))
    else:
        print("\n".join(layerinfo.format_text(info)))
    return 0


# --------------------------------------------------------------------------- lint

UNBUILDABLE = "E9107"  # pylayer lint --resolve: the provider would refuse the layer when it resolves it
_TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json", ".template")


def run_lint(args: argparse.Namespace) -> int:
    """cfn-lint with the provider's own rules (pylayer.lint); its exit code is cfn-lint's. With --resolve,
    each layer is also resolved for each of its runtimes, as the provider would (E9107 when it cannot be)."""
    from cfnlint.runner import main as cfn_lint

    given = [a for a in args.cfn_lint_args if a != "--resolve"]
    resolve = len(given) != len(args.cfn_lint_args)
    # "=": argparse then takes this one value, and reads the user's templates as templates, not rules.
    sys.argv = ["cfn-lint", "--append-rules=pylayer.lint", *given]
    code = 0
    try:
        cfn_lint()
    except SystemExit as exit_:
        code = int(exit_.code or 0) if not isinstance(exit_.code, str) else 1
    if resolve:
        templates = [a for a in given if a.endswith(_TEMPLATE_SUFFIXES) and os.path.isfile(a)]
        if any(_unbuildable(template) for template in templates):
            code |= 2  # cfn-lint's bit for errors
    return code


def _unbuildable(template: str) -> int:
    """Resolve every valid layer of a template as `pylayer lock` does (the cache makes reruns fast); print each
    one the provider would refuse as cfn-lint prints a finding. How many."""
    try:
        decoded: Any = decode_template(read_source(parse_source(template)), template)
        layers = read_layers(decoded, PROVIDER_DEFAULTS)
    except CliError:
        return 0  # cfn-lint has reported what is wrong with the file
    engine = _engine(default_cache())
    found = 0
    with _workdir() as workdir:
        for number_, layer in enumerate(layers):
            if layer.spec is None:
                continue  # invalid (the rules said so) or known only at deploy time
            folder = workdir / str(number_)
            folder.mkdir()
            try:
                engine.resolve_all(layer.spec, folder, Index(), _no_deadline)
            except ProviderError as exc:
                found += 1
                mark = getattr(decoded["Resources"][layer.logical_id], "start_mark", None)
                where = f"{template}:{mark.line + 1}:{mark.column + 1}" if mark is not None else template
                print(f"{UNBUILDABLE} {layer.logical_id}: {exc.reason}\n{where}\n", flush=True)
    return found


# --------------------------------------------------------------------------- arguments

def _target_options(parser: argparse.ArgumentParser, prefix: str) -> None:
    parser.add_argument(f"--{prefix}runtime", choices=list(RUNTIMES), default=PROVIDER_DEFAULTS.runtime,
                        help="runtime of a layer that does not name one (default: %(default)s, the provider's)"
                        if prefix else "target runtime (default: %(default)s)")
    parser.add_argument(f"--{prefix}architecture", choices=list(ARCHITECTURES),
                        default=PROVIDER_DEFAULTS.architecture,
                        help="architecture of a layer that does not name one (default: %(default)s)"
                        if prefix else "target architecture (default: %(default)s)")


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(
        prog="pylayer", description="Build, lock, diff and lint Custom::PythonLayer layers with the provider's "
                                    "own engine and validation.")
    main_parser.add_argument("-v", "--verbose", action="store_true", help="log what the engine does")
    main_parser.add_argument("-q", "--quiet", action="store_true",
                             help="no progress on stderr (it is shown only on a terminal, and never when CI is set)")
    commands = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cache: dict[str, Any] = {"type": Path, "default": default_cache(), "metavar": "DIR",
                             "help": "uv and wheel cache (default: %(default)s)"}

    build = commands.add_parser("build", help="build a layer directory into a zip",
                                description="Zip a layer directory: its files under python/, its "
                                            "requirements.txt installed, verified and compiled as the "
                                            "provider does it (local interpreters are its runtime workers).")
    build.add_argument("layer_dir", type=Path, metavar="LAYER_DIR")
    _target_options(build, "")
    build.add_argument("--compatible-runtime", action="append", choices=list(RUNTIMES), metavar="RUNTIME",
                       help="a runtime the layer serves (repeat it; default: --runtime alone)")
    build.add_argument("--out", type=Path, help="the zip (default: build/NAME.zip)")
    build.add_argument("--slim", action="store_true", help="as the Slim property (installed packages only)")
    build.add_argument("--exclude-runtime-packages", action="store_true",
                       help="as the ExcludeRuntimePackages property")
    build.add_argument("--bytecode", choices=("auto", "true", "false"), default="auto",
                       help="as the Bytecode property (default: %(default)s)")
    build.add_argument("--import-check", action="append", metavar="MODULE",
                       help="as ImportCheck: import MODULE on a local interpreter of each runtime (repeat it), "
                            "or none (default: auto, the requested packages' own modules)")
    build.add_argument("--index-url", metavar="URL", default="",
                       help="the simple index to install from, as the provider's PACKAGE_INDEX_URL (default: PyPI)")
    build.add_argument("--cache", **cache)
    build.set_defaults(run=run_build)

    lock = commands.add_parser("lock", help="resolve every Custom::PythonLayer of a template, and lock it",
                               description="Print the packages each Custom::PythonLayer of a template "
                                           "resolves to, per runtime (nothing is downloaded). --write puts "
                                           "the result in the template as each layer's Lock, which the "
                                           "provider then installs exactly, hashes checked.")
    lock.add_argument("template", metavar="TEMPLATE", nargs="+", help="one template (several with --check)")
    mode = lock.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true",
                      help="write the Lock of every layer whose lock is missing or stale, in place")
    mode.add_argument("--check", action="store_true",
                      help="resolve nothing; exit 1 if a layer's Lock is stale (for pre-commit and CI)")
    lock.add_argument("--all", action="store_true", help="with --write: refresh every layer's Lock")
    lock.add_argument("--index-url", metavar="URL", default="",
                      help="the simple index to resolve from, as the provider's PACKAGE_INDEX_URL (default: PyPI)")
    _target_options(lock, "default-")
    lock.add_argument("--cache", **cache)
    lock.set_defaults(run=run_lock)

    diff = commands.add_parser("diff", help="compare layers: two templates, or a published version and a template",
                               description="Packages added, removed, upgraded and downgraded, and the size "
                                           "change. OLD is a template (a path or REV:PATH, read with git show), "
                                           "or what is deployed: a layer version ARN or its zip file; NEW is "
                                           "a template.")
    diff.add_argument("old", metavar="OLD")
    diff.add_argument("new", metavar="NEW")
    diff.add_argument("--layer", metavar="LOGICAL_ID", help="with a published OLD: the layer of NEW to compare")
    _target_options(diff, "default-")
    diff.add_argument("--format", choices=("text", "markdown"), default="text")
    diff.add_argument("--fail-on-change", action="store_true", help="exit 1 when any layer differs")
    diff.add_argument("--index-url", metavar="URL", default="",
                      help="the simple index to resolve from, as the provider's PACKAGE_INDEX_URL (default: PyPI)")
    diff.add_argument("--cache", **cache)
    diff.set_defaults(run=run_diff)

    inspect = commands.add_parser("inspect", help="what a layer zip or a published layer version holds",
                                  description="The packages per runtime (from the archive's locks, else its "
                                              "dist-info), their sizes, the bytecode per runtime, what Lambda "
                                              "puts on sys.path, and for a published version its marker "
                                              "(bytecode and proof). SOURCE is a .zip file or a layer version "
                                              "ARN (read with GetLayerVersion and boto3's credentials).")
    inspect.add_argument("source", metavar="SOURCE")
    inspect.add_argument("--format", choices=("text", "json"), default="text")
    inspect.set_defaults(run=run_inspect)

    lint = commands.add_parser("lint", help="cfn-lint with the provider's own rules",
                               description="Run cfn-lint with --append-rules pylayer.lint; every other "
                                           "argument goes to cfn-lint (templates, --format ...). --resolve "
                                           "also resolves each layer for each of its runtimes, as the "
                                           "provider would: a layer it would refuse is an error (E9107).")
    lint.add_argument("cfn_lint_args", nargs=argparse.REMAINDER, metavar="ARGS")
    lint.set_defaults(run=run_lint)
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["lint"] and not {"-h", "--help"} & set(given[1:2]):
        return run_lint(argparse.Namespace(cfn_lint_args=given[1:]))  # every option is cfn-lint's
    args = parser().parse_args(given)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s",
                        stream=sys.stderr)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ProviderError as exc:
        print(f"error: {exc.reason}", file=sys.stderr)
        return 1
