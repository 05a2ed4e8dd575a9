from __future__ import annotations

import os
import sys
from pathlib import Path

HANDLER = Path(__file__).resolve().parent.parent / "handler"
if str(HANDLER) not in sys.path:
    sys.path.insert(0, str(HANDLER))

# Tests must never reach real AWS, whatever the developer's shell holds.
for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(variable, None)
