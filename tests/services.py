"""Real PostgreSQL and Redis for tests: each test gets a throwaway database or key namespace.

Without KAQUAN_TEST_POSTGRES_URL / KAQUAN_TEST_REDIS_URL those tests skip and say why; with
KAQUAN_REQUIRE_SERVICES=1 (CI) a missing or unreachable service fails them instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url


def unavailable(reason: str) -> None:
    if os.environ.get("KAQUAN_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (required: KAQUAN_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def postgres_admin_url() -> str:
    url = os.environ.get("KAQUAN_TEST_POSTGRES_URL")
    if not url:
        unavailable("PostgreSQL test skipped: set KAQUAN_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1/test)")
    return url  # type: ignore[return-value]


def redis_url() -> str:
    url = os.environ.get("KAQUAN_TEST_REDIS_URL")
    if not url:
        unavailable("Redis test skipped: set KAQUAN_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        unavailable(f"Redis at {url} is unreachable: {error}")
    return url  # type: ignore[return-value]


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A fresh database on the test server, dropped afterwards; yields its SQLAlchemy URL."""
    admin = make_url(postgres_admin_url())
    name = f"kaquan_test_{secrets.token_hex(6)}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        unavailable(f"PostgreSQL at {admin.render_as_string()} is unreachable: {error}")
    try:
        yield admin.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway_redis_namespace() -> Iterator[tuple[str, str]]:
    """A unique key prefix on the test Redis, its keys deleted afterwards; yields (url, namespace)."""
    url = redis_url()
    namespace = f"kaquan-test-{secrets.token_hex(6)}"
    try:
        yield url, namespace
    finally:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
        if keys:
            client.delete(*keys)
