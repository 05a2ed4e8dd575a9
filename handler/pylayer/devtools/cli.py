"""Developer commands on the provider's own build engine: ``build``, ``lock`` and ``diff``.

Run from the repository root as ``python -m handler COMMAND`` (handler/__main__.py).
A development tool: the devtools package is not part of the Lambda package. The
pure parts live beside it (templates, layerdir, layerdiff, report) and are
unit-tested without a network; this module runs uv and downloads wheels.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import archive, builder, identity, layout, slim, wheels
from ..errors import ProviderError
from ..index import Index
from ..install import find_uv
from ..interpreters import Interpreters
from ..properties import Defaults, LayerSpec, parse
from ..target import ARCHITECTURES, RUNTIMES
from ..verify import verify
from ..workers import LocalWorkers, RuntimeSite
from .layerdiff import Content, content_of, diff_templates, distribution_sizes
from .layerdir import REQUIREMENTS_FILE, layer_files, layer_name_for, merge, read_layer_requirements
from .report import format_diff, format_lock, human, number, size_table, text_table
from .templates import PROVIDER_DEFAULTS, RESOURCE_TYPE, CliError, load_layers

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CACHE = ROOT / ".cache" / "pylayer"

log = logging.getLogger(__name__)


@contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pylayer-cli-") as path:
        yield Path(path)


def _engine(cache: Path) -> builder.Engine:
    return builder.Engine(cache.resolve())


def _no_deadline() -> float:
    return 3600.0


def _defaults(args: argparse.Namespace) -> Defaults:
    return Defaults(args.default_runtime, args.default_architecture)


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
                  "ImportCheck": args.import_check or []}, PROVIDER_DEFAULTS)
    engine = _engine(args.cache)
    with _workdir() as workdir:
        installed: list[archive.Entry] = []
        owners: dict[str, str] = {}
        if requirements is not None:
            made = engine.build(spec, workdir, Index(), _no_deadline,
                                identity.content_key(spec, identity.BuildOptions()))
            installed, owners = made.entries, made.owners
        entries, overridden = merge(installed, local)
        if not entries:
            raise CliError(f"{directory} has no files and no {REQUIREMENTS_FILE}.")
        for arcname in overridden:
            print(f"warning: {arcname} from {directory} replaces the installed file", file=sys.stderr)
        archive.check_size(entries)
        workers = LocalWorkers(Interpreters(), RuntimeSite(engine.cache("runtime"), find_uv))
        verified = verify(spec, entries, owners, workers, workdir, _no_deadline)
        built = archive.write_zip(verified.entries, workdir / "layer.zip")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(built.path, out)
    rows = distribution_sizes(entries, frozenset(e.arcname for e in local))
    print(f"{directory} -> {out} ({spec.describe()}, bytecode {verified.bytecode}: {verified.bytecode_note})")
    print()
    print("\n".join(size_table(rows)))
    print()
    print("\n".join(text_table([
        ("zip size", f"{number(built.size)} bytes ({human(built.size)})"),
        ("unzipped size", f"{number(built.unzipped_size)} bytes ({human(built.unzipped_size)}), "
                          f"{built.file_count} files"),
        ("CodeSha256", built.code_sha256),
        ("sha256", built.sha256),
    ])))
    return 0


def run_lock(args: argparse.Namespace) -> int:
    _, layers = load_layers(args.template, _defaults(args))
    if not layers:
        print(f"{args.template}: no {RESOURCE_TYPE} resources")
        return 0
    engine = _engine(args.cache)
    failed = 0
    blocks = []
    with _workdir() as workdir:
        for index, layer in enumerate(layers):
            resolved, failure = None, ""
            if layer.spec is not None:
                folder = workdir / str(index)
                folder.mkdir()
                try:
                    resolved = engine.resolve_all(layer.spec, folder, Index(), _no_deadline)
                except ProviderError as exc:
                    failure = exc.reason
            failed += bool(layer.invalid or failure)
            blocks.append("\n".join(format_lock(layer, resolved, failure)))
            print(blocks[-1] + "\n", flush=True)
    if failed:
        print(f"{failed} of {len(layers)} layers cannot be built", file=sys.stderr)
    return 1 if failed else 0


class Measurer:
    """Resolve, fetch and size a spec with the engine; each distinct content once per run."""

    def __init__(self, engine: builder.Engine, workdir: Path) -> None:
        self.engine = engine
        self.workdir = workdir
        self.done: dict[tuple[object, ...], Content] = {}

    def __call__(self, spec: LayerSpec) -> Content:
        key = (spec.requirements, spec.targets, spec.slim, spec.exclude_runtime_packages)
        if key not in self.done:
            folder = Path(tempfile.mkdtemp(dir=self.workdir))
            chosen = self.engine.resolve_all(spec, folder, Index(), _no_deadline)
            distinct = {w.sha256: w for ws in chosen.values() for w in ws}
            paths = dict(zip(distinct, self.engine.fetch(list(distinct.values()), Index(), _no_deadline),
                             strict=True))
            placed = [(prefix, e) for prefix, w in layout.place_wheels(chosen)
                      for e in slim.select(wheels.members(paths[w.sha256]), spec.slim, spec.exclude_runtime_packages)]
            self.done[key] = content_of(layout.arrange(placed))
        return self.done[key]


def run_diff(args: argparse.Namespace) -> int:
    defaults = _defaults(args)
    old_source, old_layers = load_layers(args.old, defaults)
    new_source, new_layers = load_layers(args.new, defaults)
    with _workdir() as workdir:
        diffs = diff_templates(old_layers, new_layers, Measurer(_engine(args.cache), workdir))
    print(format_diff(diffs, str(old_source), str(new_source), markdown=args.format == "markdown"), end="")
    if any(d.error for d in diffs):
        print("error: a layer of NEW cannot be built", file=sys.stderr)
        return 2
    return 1 if args.fail_on_change and any(d.differs for d in diffs) else 0


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
        prog="python -m handler",
        description="Build, lock and diff Python layers with the Custom::PythonLayer provider's own engine.")
    main_parser.add_argument("-v", "--verbose", action="store_true", help="log what the engine does")
    commands = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cache: dict[str, Any] = {"type": Path, "default": DEFAULT_CACHE, "metavar": "DIR",
                             "help": "uv and wheel cache (default: .cache/pylayer in the repository)"}

    build = commands.add_parser("build", help="build a layer directory into a zip",
                                description="Zip a layer directory: its files under python/, its "
                                            "requirements.txt installed as the provider installs them.")
    build.add_argument("layer_dir", type=Path, metavar="LAYER_DIR")
    _target_options(build, "")
    build.add_argument("--out", type=Path, help="the zip (default: build/NAME.zip)")
    build.add_argument("--slim", action="store_true", help="as the Slim property (installed packages only)")
    build.add_argument("--exclude-runtime-packages", action="store_true",
                       help="as the ExcludeRuntimePackages property")
    build.add_argument("--compatible-runtime", action="append", choices=list(RUNTIMES), metavar="RUNTIME",
                       help="a runtime the layer serves (repeat it; default: --runtime alone)")
    build.add_argument("--bytecode", choices=("auto", "true", "false"), default="auto",
                       help="as the Bytecode property (default: %(default)s; local interpreters compile)")
    build.add_argument("--import-check", action="append", metavar="MODULE",
                       help="as ImportCheck: import MODULE on a local interpreter of each runtime (repeat it)")
    build.add_argument("--cache", **cache)
    build.set_defaults(run=run_build)

    lock = commands.add_parser("lock", help="resolve every Custom::PythonLayer of a template",
                               description="Print the packages each Custom::PythonLayer of a template "
                                           "resolves to for its target (nothing is downloaded).")
    lock.add_argument("template", metavar="TEMPLATE")
    _target_options(lock, "default-")
    lock.add_argument("--cache", **cache)
    lock.set_defaults(run=run_lock)

    diff = commands.add_parser("diff", help="compare the layers of two templates",
                               description="Packages added, removed, upgraded and downgraded, and the size "
                                           "change, of each Custom::PythonLayer between two templates. "
                                           "OLD and NEW are paths or REV:PATH (read with git show).")
    diff.add_argument("old", metavar="OLD")
    diff.add_argument("new", metavar="NEW")
    _target_options(diff, "default-")
    diff.add_argument("--format", choices=("text", "markdown"), default="text")
    diff.add_argument("--fail-on-change", action="store_true", help="exit 1 when any layer differs")
    diff.add_argument("--cache", **cache)
    diff.set_defaults(run=run_diff)
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
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
