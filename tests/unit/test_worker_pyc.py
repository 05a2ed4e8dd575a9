"""pylayer.worker.pyc: reproducible unchecked-hash bytecode, on this interpreter and on every local 3.9-3.13."""

from __future__ import annotations

import importlib.util
import json
import marshal
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import pylayer.worker
from pylayer.worker import pyc
from tests.support.imports import python_or_skip

HANDLER = str(Path(pylayer.worker.__file__).resolve().parents[2])
PYC_SCRIPT = str(Path(pyc.__file__).resolve())
CHILD_MAIN = f"import sys; sys.path.insert(0, {HANDLER!r}); from pylayer.worker.pyc import main; main()"
VERSIONS = ("3.9", "3.10", "3.11", "3.12", "3.13")
# Many kinds of marshalled objects: big and negative ints, floats, complex, bytes, non-ASCII and long
# ASCII text, tuples over 255 items, a frozenset, singletons, nested code with closures, exception
# tables, comprehensions, async code.
RICH = (
    '"""A module with one of everything marshal writes."""\n'
    "import os\n"
    "BIG = 123456789012345678901234567890\n"
    "NEG = -98765432109876543210\n"
    "SMALL = (0, 1, -1, 255, 256, 2147483647, -2147483648)\n"
    "FLOATS = (1.5, -0.0, 1e300, 2.5e-300)\n"
    "COMPLEX = (1 + 2j, -3.5j)\n"
    'BYTES = b"\\x00\\xffbytes"\n'
    'TEXT = "h\\u00e9llo w\\u00f6rld \\U0001f600"\n'
    f'LONG_ASCII = "{"x" * 300}"\n'
    f"MANY = ({', '.join(str(i) for i in range(300))})\n"
    'NESTED = (("a", ("b", ("c", None))), True, False, ...)\n'
    "\n"
    "def member(x):\n"
    '    return x in {"alpha", "beta", "gamma", "delta", "epsilon", "zeta"}\n'
    "\n"
    "def closure(a, /, b=2, *args, c, d=4, **kwargs):\n"
    "    total = a + b\n"
    "    def inner(y):\n"
    "        nonlocal total\n"
    "        total += y\n"
    "        return [i * total for i in range(y) if i % 2] + list({k: v for k, v in kwargs.items()})\n"
    "    return inner\n"
    "\n"
    "class Thing:\n"
    "    attribute: int = 3\n"
    "    def method(self):\n"
    "        try:\n"
    "            return self.attribute / 0\n"
    "        except ZeroDivisionError as error:\n"
    '            return f"{error!r:>10} {self.attribute}"\n'
    "        finally:\n"
    "            pass\n"
    "    @property\n"
    "    def prop(self):\n"
    '        return lambda z: (z, "alpha", 1.5)\n'
    "\n"
    "async def agen(items):\n"
    "    async for item in items:\n"
    "        yield item\n"
    "    with open(os.devnull) as handle:\n"
    "        await handle\n"
).encode()

# Other modules a compile child handles first: shared names, strings and constants.
OTHERS = (
    b'import os, sys\nalpha = "alpha"\nTEXT = "h\\u00e9llo"\nclass Thing:\n    def member(self):\n'
    b'        return self.attribute + 1.5\n',
    b"def closure(a, b=2):\n    return (a, b, 'beta', 'gamma', 255, 256)\nBIG = 123456789012345678901234567890\n",
)

# Run in a child of each interpreter: the header and the file names of what compile_source makes there.
CHECK = r"""
import importlib.util, json, marshal, sys
sys.path.insert(0, sys.argv[1])
from pylayer.worker import pyc
source = sys.stdin.buffer.read()
dfile = "/opt/python/rich.py"
data = pyc.compile_source(source, dfile)
code = compile(source, dfile, "exec", dont_inherit=True)
print(json.dumps({
    "magic": data[:4] == importlib.util.MAGIC_NUMBER,
    "flags": int.from_bytes(data[4:8], "little"),
    "hash": data[8:16] == importlib.util.source_hash(source),
    "filename": marshal.loads(data[16:]).co_filename,
    "loads_equal": marshal.loads(data[16:]) == code,
}))
"""
# Real modules to compile in different orders and groupings: a stdlib package of the interpreter itself.
REAL = r"""
import json, os, sys
root = os.path.join(os.path.dirname(os.__file__), sys.argv[1])
print(json.dumps(sorted(os.path.join(root, n) for n in os.listdir(root) if n.endswith(".py"))))
"""


def by_version() -> list[object]:
    """The versions to parametrize over."""
    return [pytest.param(v, id=f"python{v}") for v in VERSIONS]


def header_fields(data: bytes) -> tuple[bytes, int, bytes]:
    return data[:4], int.from_bytes(data[4:8], "little"), data[8:16]


def load_code(data: bytes) -> types.CodeType:
    code = marshal.loads(data[pyc.HEADER:])  # noqa: S302 - bytes the test made
    assert isinstance(code, types.CodeType)
    return code


def compile_child(python: list[str], items: list[list[str]], seed: str) -> dict[str, object]:
    """pyc.main in a fresh child, as job.py runs it: triples as JSON on stdin, the result on stdout."""
    done = subprocess.run([*python, "-S", "-c", CHILD_MAIN], input=json.dumps(items), capture_output=True,
                          text=True, check=False, timeout=120,
                          env={"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": seed,
                               "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


# --- the running interpreter --------------------------------------------------------------------


def test_compile_source_writes_an_unchecked_hash_pyc_for_this_interpreter() -> None:
    source = b"VALUE = 42\n"
    data = pyc.compile_source(source, "/opt/python/value.py")

    magic, flags, source_hash = header_fields(data)
    assert magic == importlib.util.MAGIC_NUMBER
    assert flags == 1  # hash-based (bit 0), not checked (bit 1 clear)
    assert source_hash == importlib.util.source_hash(source)
    assert source_hash != importlib.util.source_hash(b"VALUE = 43\n")


def test_every_code_object_names_the_dfile() -> None:
    data = pyc.compile_source(b"def f():\n    return lambda: 1\nclass C:\n    def m(self): pass\n",
                              "/opt/python/pkg/mod.py")
    code = load_code(data)

    def walk(c: types.CodeType) -> list[types.CodeType]:
        return [c] + [n for k in c.co_consts if isinstance(k, types.CodeType) for n in walk(k)]

    codes = walk(code)
    assert len(codes) == 5  # module, f, <lambda>, C, m
    assert {c.co_filename for c in codes} == {"/opt/python/pkg/mod.py"}


def test_the_pyc_is_what_gets_imported_even_when_the_source_is_garbage(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    source = site / "garbage_mod.py"
    source.write_bytes(b"VALUE = 41 + 1\n")
    command = [sys.executable, "-S", "-c",
               f"import sys; sys.path.insert(0, {str(site)!r}); import garbage_mod; "
               "print(garbage_mod.VALUE, garbage_mod.__spec__.cached)"]
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}
    target = Path(pyc.cache_path(str(source)))
    target.parent.mkdir()
    target.write_bytes(pyc.compile_source(source.read_bytes(), "/opt/python/garbage_mod.py"))
    source.write_bytes(b"this is not python (\n")

    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["42", str(target)]

    # Without the .pyc the very same import fails: the source really is garbage.
    target.unlink()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=60)
    assert done.returncode != 0
    assert "SyntaxError" in done.stderr


def test_cache_path_is_this_interpreters_pycache_file() -> None:
    assert pyc.cache_path("/x/pkg/mod.py") == f"/x/pkg/__pycache__/mod.{sys.implementation.cache_tag}.pyc"


def test_a_syntax_error_propagates_with_the_dfile() -> None:
    with pytest.raises(SyntaxError) as raised:
        pyc.compile_source(b"def broken(:\n    pass\n", "/opt/python/broken.py")
    assert raised.value.filename == "/opt/python/broken.py"


def test_compile_folder_compiles_in_place_and_reports_what_did_not_compile(tmp_path: Path) -> None:
    root = tmp_path / "root"
    files = {
        "bad.py": b"def broken(:\n",
        "data.txt": b"not a module\n",
        "nul.py": b"x = 1\x00\n",
        "pkg/__init__.py": b"X = 1\n",
        "pkg/mod.py": b"from . import X\n",
        "pkg/sub/deep.py": b"def f():\n    return 1\n",
    }
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)

    result = pyc.compile_folder(str(root), "/opt/python/")

    assert result["compiled"] == 3
    failed = result["failed"]
    assert [dfile for dfile, _ in failed] == ["/opt/python/bad.py", "/opt/python/nul.py"]
    assert failed[0][1].startswith("SyntaxError")
    assert failed[1][1].split(":")[0] in ("SyntaxError", "ValueError")
    for name in ("pkg/__init__.py", "pkg/mod.py", "pkg/sub/deep.py"):
        data = Path(pyc.cache_path(str(root / name))).read_bytes()
        assert header_fields(data)[1] == 1
        assert load_code(data).co_filename == f"/opt/python/{name}"
    for name in ("bad.py", "nul.py"):
        assert not Path(pyc.cache_path(str(root / name))).exists()
    assert not (root / "__pycache__").exists()  # nothing at the top compiled


def test_pyc_as_a_script_compiles_a_folder_and_says_what_it_did(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_bytes(b"A = 1\n")
    (tmp_path / "bad.py").write_bytes(b"def broken(:\n")
    done = subprocess.run([sys.executable, "-S", PYC_SCRIPT, str(tmp_path), "/var/task"], capture_output=True,
                          text=True, check=False, timeout=60,
                          env={"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"})

    assert done.returncode == 0, done.stderr
    tag = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    assert f"bytecode for {tag}: 1 modules" in done.stderr
    assert "not compiled: /var/task/bad.py: SyntaxError" in done.stderr
    assert load_code(Path(pyc.cache_path(str(tmp_path / "app.py"))).read_bytes()).co_filename == "/var/task/app.py"


def test_the_child_protocol_reports_counts_and_failures(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_bytes(b"A = 1\n")
    bad.write_bytes(b"def broken(:\n")
    items = [[str(bad), "/opt/python/bad.py", str(tmp_path / "bad.pyc")],
             [str(good), "/opt/python/good.py", str(tmp_path / "out" / "good.pyc")]]

    result = compile_child([sys.executable], items, "0")

    assert result["compiled"] == 1
    failed = result["failed"]
    assert isinstance(failed, list)
    assert [entry[0] for entry in failed] == ["/opt/python/bad.py"]
    assert not (tmp_path / "bad.pyc").exists()
    assert (tmp_path / "out" / "good.pyc").read_bytes() == pyc.compile_source(b"A = 1\n", "/opt/python/good.py")


# --- every local interpreter ----------------------------------------------------------------------


def _determinism(tmp_path: Path, version: str, seeds: tuple[str, str]) -> tuple[bytes, bytes]:
    python = python_or_skip(version)
    source = tmp_path / "rich.py"
    source.write_bytes(RICH)
    others = []
    for index, text in enumerate(OTHERS):
        other = tmp_path / f"other{index}.py"
        other.write_bytes(text)
        others.append([str(other), f"/opt/python/other{index}.py", str(tmp_path / f"other{index}.pyc")])
    first, second = tmp_path / "first.pyc", tmp_path / "second.pyc"
    compile_child(python, [[str(source), "/opt/python/rich.py", str(first)]], seeds[0])
    compile_child(python, [*others, [str(source), "/opt/python/rich.py", str(second)]], seeds[1])
    return first.read_bytes(), second.read_bytes()


@pytest.mark.parametrize("version", by_version())
def test_bytes_do_not_depend_on_what_the_child_compiled_before(tmp_path: Path, version: str) -> None:
    """The job's setting (PYTHONHASHSEED=0): other modules first must not change a module's bytes."""
    first, second = _determinism(tmp_path, version, ("0", "0"))
    assert first == second


@pytest.mark.parametrize("version", [v for v in VERSIONS if v not in ("3.9", "3.10")])
def test_bytes_do_not_depend_on_the_hash_seed(tmp_path: Path, version: str) -> None:
    first, second = _determinism(tmp_path, version, ("1", "2"))
    assert first == second


@pytest.mark.parametrize("version", [v for v in VERSIONS if v in ("3.9", "3.10")])
def test_before_311_a_compile_without_the_fixed_seed_is_refused(tmp_path: Path, version: str) -> None:
    # marshal writes a frozenset constant in hash order before 3.11: only PYTHONHASHSEED=0 makes it reproducible.
    with pytest.raises(AssertionError, match="needs PYTHONHASHSEED=0"):
        _determinism(tmp_path, version, ("1", "1"))


@pytest.mark.parametrize("version", by_version())
def test_the_pyc_is_a_hash_pyc_of_this_interpreter_naming_the_dfile(version: str) -> None:
    python = python_or_skip(version)
    done = subprocess.run([*python, "-S", "-c", CHECK, HANDLER], input=RICH, capture_output=True, check=False,
                          timeout=120, env={"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    found = json.loads(done.stdout)

    assert found["magic"] is True
    assert found["flags"] == 1
    assert found["hash"] is True
    assert found["filename"] == "/opt/python/rich.py"
    assert found["loads_equal"] is True


@pytest.mark.parametrize("version", by_version())
def test_real_modules_give_the_same_bytes_in_any_order_and_grouping(tmp_path: Path, version: str) -> None:
    """What the job does: modules split among children, largest first. A module's bytes must not depend on
    which child got it or what that child compiled before (marshal's FLAG_REF follows reference counts)."""
    python = python_or_skip(version)
    sources: list[str] = []
    for package in ("json", "email", "asyncio", "concurrent/futures"):
        listed = subprocess.run([*python, "-S", "-c", REAL, package], capture_output=True, text=True, check=True,
                                timeout=60)
        sources += json.loads(listed.stdout)
    assert len(sources) > 40

    def items(folder: str, chosen: list[str]) -> list[list[str]]:
        return [[path, "/opt/python/" + "/".join(Path(path).parts[-2:]),
                 str(tmp_path / folder / f"{sources.index(path)}-{Path(path).name}c")] for path in chosen]

    compile_child(python, items("alone", sources[:1]), "0")  # the first module alone
    compile_child(python, items("forward", sources), "0")  # all, in order
    compile_child(python, items("backward", sources[::-1]), "0")  # all, the other way
    compile_child(python, items("odd", sources[1::2]), "0")  # every other one
    compile_child(python, items("even", sources[::2]), "0")

    def made(folder: str) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in (tmp_path / folder).iterdir()}

    forward = made("forward")
    assert len(forward) == len(sources)
    assert made("backward") == forward
    assert {**made("odd"), **made("even")} == forward
    assert made("alone").items() <= forward.items()
