"""Every migration upgrades, downgrades and upgrades again, and the result matches the code's schema."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.pool import NullPool

from adapters.db import migrate
from adapters.db.engine import create_engine
from adapters.db.tables import metadata


def revisions() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config("unused"))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def test_stairway_up_down_up_every_revision(database_url):
    previous = "base"
    for revision in revisions():
        migrate.upgrade(database_url, revision)
        migrate.downgrade(database_url, previous)
        migrate.upgrade(database_url, revision)
        previous = revision


def test_the_migrated_schema_matches_the_tables_in_code(database_url):
    migrate.upgrade(database_url)

    async def differences() -> list:
        engine = create_engine(database_url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
                )
        finally:
            await engine.dispose()

    assert asyncio.run(differences()) == []
