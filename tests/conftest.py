"""Shared fixtures: databases on both backends, migrated and ready."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.db.migrate import upgrade
from bot.db.session import SessionFactory, create_engine, session_factory
from tests.helpers.databases import create_pg_database, drop_pg_database, sqlite_url
from tests.helpers.postgres import PostgresServer

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    server = request.getfixturevalue("postgres")
    name, url = await create_pg_database(server)
    yield url
    await drop_pg_database(server, name)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """A session factory over a migrated database; on SQLite, the workers' inline engine."""
    engine = create_engine(database_url, inline=True)
    await upgrade(engine)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client for talking to local servers."""
    async with aiohttp.ClientSession() as session:
        yield session
