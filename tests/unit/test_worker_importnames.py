"""ImportCheck auto: which modules a distribution gives its users, from its installed RECORD."""

from __future__ import annotations

from pathlib import Path

from pylayer.worker import importnames


def record(*paths: str) -> str:
    return "".join(f"{p},sha256=x,1\n" for p in paths)


def test_a_package_and_a_module_from_record() -> None:
    assert importnames.modules(record("requests/__init__.py", "requests/api.py",
                                      "requests-2.32.3.dist-info/METADATA"), None) == ["requests"]
    assert importnames.modules(record("six.py", "six-1.16.0.dist-info/RECORD"), None) == ["six"]


def test_top_level_txt_decides_where_it_exists() -> None:
    paths = record("PIL/__init__.py", "PIL/Image.py", "pillow.libs/libjpeg.so.62", "pillow-11.dist-info/RECORD")
    assert importnames.modules(paths, "PIL\n") == ["PIL"]


def test_private_helpers_are_left_out_when_a_public_module_exists() -> None:
    paths = record("yaml/__init__.py", "_yaml/__init__.py", "PyYAML-6.0.dist-info/RECORD")
    assert importnames.modules(paths, "_yaml\nyaml\n") == ["yaml"]
    # ... but a distribution with nothing public is still imported.
    assert importnames.modules(record("_cffi_backend.cpython-312-x86_64-linux-gnu.so"), None) == ["_cffi_backend"]


def test_tests_pth_hooks_and_data_are_not_imported() -> None:
    paths = record("tests/__init__.py", "test/x.py", "distutils-precedence.pth", "pkg/__init__.py",
                   "pkg-1.0.data/scripts/run", "pkg-1.0.dist-info/RECORD", "../escape.py", "bin/tool")
    assert importnames.modules(paths, None) == ["pkg"]


def test_a_namespace_package_is_imported_at_its_regular_packages() -> None:
    storage = record("google/cloud/storage/__init__.py", "google/cloud/storage/blob.py",
                     "google/cloud/storage/_helpers.py", "google_cloud_storage-2.0.dist-info/RECORD")
    assert importnames.modules(storage, "google\n") == ["google.cloud.storage"]
    protobuf = record("google/protobuf/__init__.py", "google/_upb/_message.abi3.so", "protobuf-5.dist-info/RECORD")
    assert importnames.modules(protobuf, None) == ["google.protobuf"]


def test_vendored_library_folders_are_not_modules() -> None:
    numpy = record("numpy/__init__.py", "numpy.libs/libgfortran-040039e1.so.5.0.0", "numpy-2.1.3.dist-info/RECORD")
    assert importnames.modules(numpy, None) == ["numpy"]


def test_compiled_top_level_modules_are_named_without_their_suffix() -> None:
    assert importnames.modules(record("_cffi_backend.cpython-312-x86_64-linux-gnu.so", "cffi/__init__.py"),
                               None) == ["cffi"]


def test_at_most_five_modules_per_distribution() -> None:
    many = record(*(f"m{i}.py" for i in range(9)))
    assert importnames.modules(many, None) == ["m0", "m1", "m2", "m3", "m4"]


def test_find_reads_the_installed_layer_and_site_packages_wins(tmp_path: Path) -> None:
    site = tmp_path / "python" / "lib" / "python3.12" / "site-packages"
    shared = tmp_path / "python"
    for base, module in ((site, "newer"), (shared, "older")):
        info = base / "My_Pkg-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "RECORD").write_text(record(f"{module}/__init__.py"))
    other = shared / "other-2.0.dist-info"
    other.mkdir()
    (other / "RECORD").write_text(record("other.py"))
    found = importnames.find(str(tmp_path), ["python/lib/python3.12/site-packages", "python"], ["my.pkg", "absent"])
    assert found == {"my-pkg": ["newer"]}
