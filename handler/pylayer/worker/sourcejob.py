"""The build_sdist job: one source distribution in, a pure wheel out (``sdist`` does the building).

A build that fails, or that makes anything but a pure wheel, is answered
``{"refused": reason}``: the package's fault, told to the user as it is. Any
other failure is the worker's (``error``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from . import sdist
from .protocol import PROTOCOL


def run(request: Mapping[str, Any], scratch: str) -> dict[str, Any]:
    if request.get("protocol", PROTOCOL) != PROTOCOL:
        raise ValueError(f"the provider speaks protocol {request.get('protocol')!s:.20}, this worker {PROTOCOL}: "
                         "redeploy the provider stack so both are the same release")
    runtime = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    if request.get("runtime") != runtime:
        raise ValueError(f"this worker runs {runtime}, not {request.get('runtime')}")
    try:
        built = sdist.build({"sdist": str(request["sdist"]), "backend": str(request["backend"]),
                             "build_wheels": list(request.get("build_wheels") or []),
                             "backend_path": list(request.get("backend_path") or []),
                             "python": list(request.get("python") or [sys.executable]),
                             "output_dir": str(request["output_dir"])}, scratch)
    except sdist.SdistRefused as refused:
        return {"protocol": PROTOCOL, "refused": str(refused)[:1000]}
    return {"protocol": PROTOCOL, "wheel": built["wheel"], "path": built["path"], "sha256": built["sha256"],
            "size": built["size"], "seconds": built["seconds"]}
