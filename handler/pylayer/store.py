"""The thin adapter over AWS, split by what each caller needs, over one set of clients (``aws.Clients``):

- ``artifacts``: the artifact bucket's objects (archives, staging, records), S3;
- ``layers``: layer versions, Lambda;
- ``secrets``: a private index's credentials, Secrets Manager or CodeArtifact;
- ``invoker``: the runtime workers, Lambda Invoke.

Clients are made on first use, never at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .artifacts import Artifacts
from .aws import DEFAULT_MAX_ATTEMPTS, Clients
from .indexsecrets import IndexSecrets
from .invoker import Invoker
from .layers import Layers


@dataclass(frozen=True)
class LayerStore:
    artifacts: Artifacts
    layers: Layers
    secrets: IndexSecrets
    invoker: Invoker

    @classmethod
    def connect(cls, bucket: str, region: str | None = None, session: Any = None,
                max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> LayerStore:
        clients = Clients(region, session, max_attempts)
        return cls(Artifacts(bucket, clients), Layers(bucket, clients), IndexSecrets(clients), Invoker(clients))
