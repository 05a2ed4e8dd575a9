"""The worker's wire protocol: what the provider sends a runtime worker and what it answers.

Imported on both sides (the provider's ``workers`` and the worker's ``job``),
so mypy checks the contract. Standard library only and valid on Python 3.9:
it ships to every runtime's worker. Bump ``PROTOCOL`` whenever a field
changes meaning or a required one is added: the provider refuses a report of
another protocol ("redeploy the stack").
"""

from __future__ import annotations

from typing import Literal, TypedDict

# 4: the staged archive may arrive after the invoke (the worker waits for it). 5: the modules to compile may
# come first, in a zip of their own (modules_url); the provider says how long to wait (arrival_seconds).
PROTOCOL = 5
ARRIVAL_CAP_SECONDS = 900.0  # the longest wait for a staged object: a worker function runs 15 minutes at most

# Why an import failed, as the import child classifies it:
# - "import": ImportError (a module or a symbol missing);
# - "library": OSError that names a shared library the loader could not open or use;
# - "other": any other exception (the package wants an environment variable, a file, the network...);
# - "crash": the child died without an answer (a signal, os._exit);
# - "timeout": the import did not finish in time.
ImportCategory = Literal["import", "library", "other", "crash", "timeout"]


class JobRequest(TypedDict, total=False):
    """One job. The transport adds where the archive and the output are."""

    protocol: int
    runtime: str  # pythonX.Y: must be the worker's own
    architecture: str  # x86_64 | arm64
    compile: bool
    skip_dirs: list[str]  # folder names whose modules get no bytecode (test suites)
    imports: list[str]  # modules to import (ImportCheck as a list)
    import_distributions: list[str]  # ImportCheck auto: import these distributions' top-level modules
    paths: list[str]  # the layer's folders on Lambda's sys.path, relative to the archive root
    archive: str  # a local zip of the layer, bytecode-free
    modules: str  # a local zip of only the modules to compile (the worker fetched it before the archive)
    output: str  # where the bytecode zip goes
    python: list[str]  # the command that starts this interpreter, for child processes
    processes: int  # compile children
    libraries: Literal["recorded", "scanned"]  # the image's libraries: recorded lists, or this file system's
    libraries_off: bool  # another call of the same job checks the libraries
    runtime_site: str  # what the runtime itself provides (boto3), appended to sys.path for imports
    scratch_parent: str  # where the job's scratch folder goes (local runs)
    # Lambda transport only: the staged archive and the output, as presigned URLs (GET and PUT) the provider
    # made for this job's objects; the worker's own role has no access to S3.
    source_url: str
    output_url: str
    modules_url: str  # the modules to compile, alone: small, staged first (compile jobs of large layers)
    arrival_seconds: int  # how long to wait for a staged object that is not there yet (the provider's wait)
    # action "build_sdist": build one source distribution into a pure wheel (worker/sdist.py).
    action: Literal["build_sdist"]
    sdist: str  # local runs: the sdist file (Lambda: sdist/<sdist_name> in the staged bundle)
    sdist_name: str
    build_wheels: list[str]  # local runs: the build environment's wheels (Lambda: build/ in the bundle)
    backend: str  # the PEP 517 backend, "module:object"
    backend_path: list[str]  # in-tree backend folders, relative to the source tree
    output_dir: str  # local runs: where the wheel goes


class SourceReport(TypedDict, total=False):
    """What a worker answers to build_sdist."""

    protocol: int
    wheel: str  # the wheel's file name
    sha256: str
    size: int
    seconds: float
    error: str


class ImportOutcome(TypedDict, total=False):
    module: str
    distribution: str  # with ImportCheck auto: the requested distribution the module belongs to
    ok: bool
    seconds: float
    file: str  # the imported module's file, relative to the layer root
    error: str  # the exception's last line
    category: ImportCategory


class LibraryProblem(TypedDict):
    path: str  # the object, relative to the layer root
    what: str  # missing | glibc | machine
    detail: str  # the missing library, the glibc needed, the machine it is built for
    loaded_by: str  # the extension module whose import loads it; "" when no import does


class LibraryReport(TypedDict, total=False):
    objects: int
    extensions: int
    errors: list[LibraryProblem]
    warnings: list[LibraryProblem]
    source: str


class BytecodeReport(TypedDict, total=False):
    files: int
    failed: list[list[str]]
    failed_count: int
    sha256: str
    size: int
    bytes: int
    staged: bool  # Lambda transport: the zip was uploaded to output_url


class JobReport(TypedDict, total=False):
    protocol: int
    runtime: str
    python: str
    machine: str
    timings: dict[str, float]
    bytecode: BytecodeReport
    libraries: LibraryReport
    imports: list[ImportOutcome]
    import_modules: dict[str, list[str]]  # ImportCheck auto: distribution -> the modules found for it
    error: str

