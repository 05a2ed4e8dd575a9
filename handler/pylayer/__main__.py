"""``python -m pylayer``: the same as the ``pylayer`` command (pylayer/devtools/cli.py)."""

import sys

from pylayer.devtools.cli import main

sys.exit(main())
