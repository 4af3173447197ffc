"""The Alembic migrations build exactly the schema the models describe, on both databases."""

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from bot.db.migrate import upgrade
from bot.db.models import Base, FaqEntry
from bot.db.session import create_engine, session_factory


async def test_migrated_schema_matches_the_models(sessions):
    async with sessions() as session:
        connection = await session.connection()
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert diff == []


async def test_processes_starting_together_on_an_empty_database_all_migrate(database_url):
    engines = [create_engine(database_url) for _ in range(4)]
    try:
        await asyncio.gather(*(upgrade(engine) for engine in engines))
        async with session_factory(engines[0])() as session:
            assert await session.scalar(select(func.count(FaqEntry.slug))) == 0
        async with engines[0].connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
        assert diff == []
    finally:
        for engine in engines:
            await engine.dispose()
