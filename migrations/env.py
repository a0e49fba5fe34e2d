"""Alembic environment: async engine from our own factory, so SQLite gets the same tuning as the app."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from adapters.db.engine import create_engine
from adapters.db.tables import metadata
from adapters.db.types import UTCDateTime
from adapters.settings import Settings

config = context.config


def _render_item(kind: str, obj: Any, _context: Any) -> str | bool:
    # Migrations must not depend on app code that may change later: render our types as plain SQLAlchemy.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    url = config.attributes.get("database_url") or Settings().effective_database_url
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `kaquan db upgrade` against a database")
asyncio.run(_run_online())
