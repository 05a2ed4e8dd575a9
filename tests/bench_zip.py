"""`make bench-zip`: the ways to write a layer zip, measured on the same packages.

Takes the pandas set's wheels from `make bench`'s cache (.bench-cache/), and
writes the layer zip from them in each way, timing it and its size:
- zipfile, one thread, at levels 1, 6 and 9 (how most tools do it),
- the provider's writer compressing files in parallel (its path for files on disk),
- the provider's writer copying the wheels' deflated members as they are.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "handler"))

from pylayer import archive, wheels  # noqa: E402
from tests.bench import SETS, download_wheels, report  # noqa: E402


def zipfile_one_thread(entries: list[archive.Entry], dest: Path, level: int) -> None:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for entry in entries:
            assert entry.path is not None
            zf.write(entry.path, entry.arcname)


def timed(write: Callable[[], object], dest: Path) -> tuple[float, int]:
    started = time.perf_counter()
    write()
    return time.perf_counter() - started, dest.stat().st_size


def main() -> int:
    wheel_paths = download_wheels("pandas", SETS["pandas"])
    with tempfile.TemporaryDirectory(prefix="pylayer-zip-") as scratch_dir:
        scratch = Path(scratch_dir)
        tree = scratch / "python"
        subprocess.run([str(Path(sys.executable).parent / "uv"), "pip", "install", "--quiet", "--target", str(tree),
                        "--python-version", "3.12", "--python-platform", "aarch64-manylinux_2_34",
                        "--no-index", "--find-links", str(wheel_paths[0].parent), "--link-mode", "copy",
                        "pandas==2.2.3"], check=True, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
        shutil.rmtree(tree / "bin", ignore_errors=True)
        files = archive.collect(tree)
        members = wheels.entries(wheel_paths)
        unzipped = sum(e.size for e in files)
        dest = scratch / "layer.zip"
        ways: list[tuple[str, Callable[[], object]]] = [
            ("zipfile, 1 thread, level 1", lambda: zipfile_one_thread(files, dest, 1)),
            ("zipfile, 1 thread, level 6", lambda: zipfile_one_thread(files, dest, 6)),
            ("zipfile, 1 thread, level 9", lambda: zipfile_one_thread(files, dest, 9)),
            (f"provider, {os.cpu_count()} threads, level 1", lambda: archive.write_zip(files, dest, level=1)),
            (f"provider, {os.cpu_count()} threads, level 6", lambda: archive.write_zip(files, dest, level=6)),
            ("provider, wheel members copied as they are", lambda: archive.write_zip(members, dest)),
        ]
        lines = [f"pandas==2.2.3 for python3.12 arm64: {len(files)} files, {unzipped / 1e6:.1f} MB unzipped", "",
                 "| way | seconds | zip MB |", "|---|---|---|"]
        for name, write in ways:
            seconds, size = timed(write, dest)
            lines.append(f"| {name} | {seconds:.2f} | {size / 1e6:.1f} |")
    report("zip", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
