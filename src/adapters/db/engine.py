"""Engines for both databases, tuned so their transactions behave the way the domain assumes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

READ_ONLY = "kaquan_read_only"
# Writers wait this long for the lock; a million-code import holds it for ~10 s at its final step.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# A pooled PostgreSQL connection idle at least this long is pinged before use (see _ping_when_idle).
PING_AFTER_IDLE_SECONDS = 0.5
_IDLE_SINCE = "kaquan_idle_since"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite: WAL, a busy timeout, foreign keys, and BEGIN IMMEDIATE for writes."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        _tune_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_async_engine(parsed, **kwargs)
    _ping_when_idle(engine)
    return engine


def insert_for(connection: AsyncConnection, table: Table) -> Insert:
    """An INSERT with the dialect's ON CONFLICT support (PostgreSQL and SQLite spell it alike)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def inserts_by_dialect(table: Table) -> dict[str, Insert]:
    """`insert_for` ahead of time, per database (by dialect name): for statements built once, at import."""
    return {"postgresql": postgresql.insert(table), "sqlite": sqlite.insert(table)}  # type: ignore[dict-item]


def _ping_when_idle(engine: AsyncEngine) -> None:
    """A pooled connection left idle a while is pinged before it is used (the server may have restarted, or a
    firewall dropped it), and replaced if the ping fails: SQLAlchemy's pool_pre_ping, but not for a connection handed
    back moments ago — under load that would cost every unit of work a round trip (HikariCP skips it likewise)."""
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)  # None: opened just now
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as failed:
            raise DisconnectionError(f"pooled connection failed its ping: {failed}") from failed  # the pool reconnects


def _tune_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so the "begin" hook below decides how to begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # 32 MiB of page cache (default 2 MiB): big imports insert into large indexes in random order.
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write transaction takes the write lock up front: no deadlock-prone upgrade from a read lock.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
