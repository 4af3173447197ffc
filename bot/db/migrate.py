"""Alembic migrations, run in code: ``python -m bot.db.migrate`` or at gateway start."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed number: gateways starting together on PostgreSQL migrate one after the other.
MIGRATION_LOCK = 720_24


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at our migrations, optionally bound to a connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision.

    Processes that start at once migrate one after the other: on PostgreSQL behind a
    transaction-scoped advisory lock, on SQLite behind the database's write lock.
    """

    def _run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), "head")

    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            lock = text("SELECT pg_advisory_xact_lock(:key)")
            await connection.execute(lock, {"key": MIGRATION_LOCK})
        elif connection.dialect.name == "sqlite":
            # the driver opens no transaction for DDL by itself: take the write lock first
            await connection.exec_driver_sql("BEGIN IMMEDIATE")
        await connection.run_sync(_run)


def main() -> None:
    """Migrate the database named by ``DATABASE_URL`` (or .env)."""
    from bot.db.session import create_engine
    from bot.settings import Settings

    async def _main() -> None:
        engine = create_engine(Settings.from_env().database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(_main())


if __name__ == "__main__":
    main()
