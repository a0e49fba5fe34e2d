"""Demo data for `make run`: one account per staff role, so a newcomer can see what each role sees."""

from __future__ import annotations

from adapters.bootstrap import Container
from domain.audit import Actor
from domain.errors import NotFound
from domain.staff import Role

DEMO_PASSWORD = "demo-password"  # noqa: S105 — dev mode only; `kaquan setup` refuses demo data in production
DEMO_STAFF = [
    ("operator", "运营 Olivia", Role.OPERATOR),
    ("finance", "财务 Frank", Role.FINANCE),
    ("support", "客服 Sara", Role.SUPPORT),
    ("clerk", "店员 Chen", Role.CLERK),
]


async def load(container: Container) -> list[str]:
    """Create what is missing and say what was created."""
    created = []
    for username, name, role in DEMO_STAFF:
        try:
            await container.staff_admin.by_username(username)
        except NotFound:
            await container.staff_admin.create(username, name, role, DEMO_PASSWORD, Actor.cli())
            created.append(f"staff {username} ({role}) password {DEMO_PASSWORD}")
    return created
