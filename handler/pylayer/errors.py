"""Exceptions whose message is the short Reason CloudFormation shows the user.

The full story (stderr of the installer, AWS error payloads) goes in
``detail``, which is logged but never sent in the response.
"""

from __future__ import annotations

from typing import Literal


class ProviderError(Exception):
    """Base of every failure the provider explains to the user."""

    cause = "Internal"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


# What is wrong with a property, set where it is refused (the lint rules map kinds to rule IDs).
PropertyFault = Literal["unknown", "missing", "type", "value", "requirement", "lock"]


class InvalidProperties(ProviderError):
    """The resource's properties cannot be turned into a layer spec."""

    cause = "InvalidProperties"

    def __init__(self, reason: str, detail: str = "", prop: str = "", kind: PropertyFault = "value") -> None:
        super().__init__(reason, detail)
        self.prop = prop  # the property at fault, where one is ("" for the map as a whole)
        self.kind = kind


class ConfigurationError(ProviderError):
    """The provider itself is misconfigured (environment of the function)."""

    cause = "Configuration"


class InstallFailed(ProviderError):
    """The installer could not produce the requested packages for the target."""

    cause = "Install"


class NotLoadable(ProviderError):
    """The layer would not load on its runtime: a missing library, a failed import, no bytecode when required."""

    cause = "NotLoadable"


class WorkerFailed(ProviderError):
    """A runtime worker could not do its job (crashed, timed out, or answered nonsense)."""

    cause = "Worker"


class LayerTooLarge(ProviderError):
    """The unzipped layer would exceed Lambda's 250 MB limit."""

    cause = "TooLarge"


class ContentMismatch(ProviderError):
    """A version's content is not the archive the provider built (Lambda's CodeSha256 says otherwise)."""

    cause = "Integrity"


class AwsCallFailed(ProviderError):
    """S3 or Lambda refused a call."""

    cause = "Aws"


class StorageFull(ProviderError):
    """/tmp (the function's ephemeral storage) ran out."""

    cause = "StorageFull"


class OutOfTime(ProviderError):
    """Too little of the Lambda's time is left to finish safely."""

    cause = "OutOfTime"


class LockMismatch(ProviderError):
    """What the resolution chose is not what the layer's Lock holds: another version, or other bytes."""

    cause = "Lock"
