"""`python -m handler COMMAND`: the developer commands of pylayer/devtools/cli.py (build, lock, diff).

handler/ is the Lambda package root (app.py and pylayer/ are top-level there),
so its own folder goes on sys.path first. Not shipped: handler/Makefile copies
only app.py and pylayer/.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pylayer.devtools.cli import main

sys.exit(main())
