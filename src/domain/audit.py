"""Who did what, when, from where: the audit trail every sensitive action writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.errors import ValidationFailed

REASON_MAX = 200


class ActorKind(StrEnum):
    STAFF = "staff"
    CLI = "cli"
    SYSTEM = "system"
    ANONYMOUS = "anonymous"
    API = "api"


@dataclass(frozen=True, slots=True)
class Actor:
    """The one responsible for an action: a signed-in member, an operator at the CLI, an API key, or the system."""

    kind: ActorKind
    name: str
    id: int | None = None
    ip: str | None = None

    @classmethod
    def staff(cls, staff_id: int | None, username: str, ip: str | None) -> Actor:
        return cls(ActorKind.STAFF, username, staff_id, ip)

    @classmethod
    def cli(cls) -> Actor:
        return cls(ActorKind.CLI, "cli")

    @classmethod
    def system(cls) -> Actor:
        """Work the platform does by itself, e.g. a queue worker finishing an import."""
        return cls(ActorKind.SYSTEM, "system")

    @classmethod
    def api(cls, key_id: str, ip: str | None) -> Actor:
        """A reseller's system calling the Open API with one of its keys."""
        return cls(ActorKind.API, key_id, None, ip)

    @classmethod
    def upstream(cls, name: str) -> Actor:
        """An upstream supplier delivering units of an order (named in the units it delivered)."""
        return cls(ActorKind.SYSTEM, f"upstream:{name}"[:64])

    @classmethod
    def anonymous(cls, ip: str | None) -> Actor:
        return cls(ActorKind.ANONYMOUS, "anonymous", None, ip)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log. `details` never holds a secret (no passwords, no codes)."""

    at: datetime
    actor: Actor
    action: str
    target: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


def staff_reason(text: str) -> str:
    """The reason staff give for an action on an order (cancel, refund, abandon an upstream order …), kept on its
    timeline and in the audit log: required, and at most REASON_MAX characters."""
    reason = (text or "").strip()
    if not reason:
        raise ValidationFailed({"reason": "required"})
    if len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": "too_long"})
    return reason
