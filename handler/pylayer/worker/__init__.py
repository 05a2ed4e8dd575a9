"""The runtime worker: what only the target runtime's own interpreter can do for a layer.

It compiles the layer's modules into bytecode for its Python version, checks
that every ELF object's libraries resolve on its Lambda image, and imports the
modules a template asks for. It runs as a Lambda function per runtime and
architecture (``lambda_function``) and, locally, as ``python -S -m
pylayer.worker`` under an interpreter of the target version (``__main__``).

Standard library only, and Python 3.9+: it runs on every supported runtime,
with nothing installed but what the runtime has.
"""

from .protocol import PROTOCOL as PROTOCOL
