"""Who may use a published version: the ShareWith property as layer-version permissions.

Pure: the statements to add. AddLayerVersionPermission grants
lambda:GetLayerVersion to an account, to every account of an AWS
Organization (Principal "*" with OrganizationId), or to everyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACCOUNT = re.compile(r"\d{12}")
ORGANIZATION = re.compile(r"o-[a-z0-9]{10,32}")
EVERYONE = "*"
MAX_ENTRIES = 20


@dataclass(frozen=True)
class Statement:
    sid: str
    principal: str
    organization_id: str | None = None


def kind(entry: str) -> str | None:
    """'account', 'organization', 'everyone', or None for anything else."""
    if ACCOUNT.fullmatch(entry):
        return "account"
    if ORGANIZATION.fullmatch(entry):
        return "organization"
    if entry == EVERYONE:
        return "everyone"
    return None


def statements(share_with: tuple[str, ...]) -> list[Statement]:
    found = []
    for entry in share_with:
        match kind(entry):
            case "account":
                found.append(Statement(f"pylayer-account-{entry}", entry))
            case "organization":
                found.append(Statement(f"pylayer-organization-{entry}", EVERYONE, entry))
            case "everyone":
                found.append(Statement("pylayer-everyone", EVERYONE))
    return found
