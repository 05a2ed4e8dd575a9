"""What a Lambda runtime and architecture mean for the installer.

python3.9-3.11 run on Amazon Linux 2 (glibc 2.26), python3.12 and newer on
Amazon Linux 2023 (glibc 2.34). A wheel built for a newer glibc than the
runtime's imports fine on the builder and fails on Lambda, so the allowed
manylinux tags are part of the target.
"""

from __future__ import annotations

from dataclasses import dataclass

RUNTIMES: dict[str, tuple[int, int]] = {
    f"python3.{minor}": (3, minor) for minor in range(9, 15)
}
# Lambda's architecture name -> the machine name used in wheel tags.
ARCHITECTURES: dict[str, str] = {"x86_64": "x86_64", "arm64": "aarch64"}

_AL2_GLIBC = (2, 26)
_AL2023_GLIBC = (2, 34)


@dataclass(frozen=True)
class Target:
    runtime: str
    architecture: str

    def __post_init__(self) -> None:
        if self.runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime {self.runtime!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r}")

    @property
    def python_version(self) -> str:
        major, minor = RUNTIMES[self.runtime]
        return f"{major}.{minor}"

    @property
    def machine(self) -> str:
        return ARCHITECTURES[self.architecture]

    @property
    def glibc(self) -> tuple[int, int]:
        return _AL2023_GLIBC if RUNTIMES[self.runtime] >= (3, 12) else _AL2_GLIBC

    @property
    def uv_platform(self) -> str:
        """The newest uv platform whose every wheel this target loads.

        uv knows manylinux2014 (glibc 2.17) and manylinux_2_28 upwards but no
        2_24 or 2_26, so Amazon Linux 2 targets get manylinux2014 here; ``fitting``
        widens their resolution to what they really load.
        """
        if self.glibc < (2, 28):
            return f"{self.machine}-manylinux2014"
        return f"{self.machine}-manylinux_{self.glibc[0]}_{self.glibc[1]}"

    @property
    def wide_uv_platform(self) -> str:
        """A uv platform at least as new as the target's glibc (the first pass of ``fitting``)."""
        return f"{self.machine}-manylinux_2_28" if self.glibc < (2, 28) else self.uv_platform

    @property
    def image(self) -> str:
        """The Lambda image the runtime runs on: al2 or al2023."""
        return "al2023" if RUNTIMES[self.runtime] >= (3, 12) else "al2"

    @property
    def site_packages(self) -> str:
        """This runtime's own folder of a layer, first on its sys.path (before python/)."""
        return f"python/lib/{self.runtime}/site-packages"

    @property
    def pip_platforms(self) -> tuple[str, ...]:
        """Every manylinux tag pip should accept, oldest first."""
        tags = [f"manylinux2014_{self.machine}"]
        if self.machine == "x86_64":
            tags[:0] = ["manylinux1_x86_64", "manylinux2010_x86_64"]
        tags += [f"manylinux_2_{minor}_{self.machine}" for minor in range(17, self.glibc[1] + 1)]
        return tuple(tags)

    def describe(self) -> str:
        return f"{self.runtime} {self.architecture}"
