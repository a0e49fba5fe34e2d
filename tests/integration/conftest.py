from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from adapters import bootstrap
from adapters.db import migrate
from adapters.settings import Settings
from tests.services import throwaway_postgres, throwaway_redis_namespace


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind the app supports."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'kaquan.db'}"
    else:
        with throwaway_postgres() as url:
            yield url


@pytest.fixture
def migrated_url(database_url: str) -> str:
    migrate.upgrade(database_url)
    return database_url


@pytest.fixture
def redis_namespace() -> Iterator[tuple[str, str]]:
    with throwaway_redis_namespace() as found:
        yield found


@pytest.fixture
def settings(migrated_url: str, tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path / "var", database_url=migrated_url, _env_file=None)


@pytest.fixture
async def container(settings: Settings) -> AsyncIterator[bootstrap.Container]:
    built = bootstrap.build(settings)
    yield built
    await built.aclose()
