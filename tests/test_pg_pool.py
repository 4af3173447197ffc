"""PostgreSQL's pooled connections: one the server dropped while it sat idle is replaced before
anyone uses it; one in steady use is not pinged, and after a drop fails once as unavailable."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from bot.db import session as db_session
from bot.db.session import create_engine, is_unavailable
from tests.helpers.databases import create_pg_database, drop_pg_database

IDLE = 0.2  # seconds: PING_AFTER_IDLE in these tests


@pytest.fixture
async def engine(postgres, monkeypatch):
    monkeypatch.setattr(db_session, "PING_AFTER_IDLE", IDLE)
    name, url = await create_pg_database(postgres)
    engine = create_engine(url)
    yield engine
    await engine.dispose()
    await drop_pg_database(postgres, name)


async def backend_pid(engine) -> int:
    async with engine.connect() as connection:
        return (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()


async def drop(postgres, pid: int) -> None:
    """The server ends the connection, as a restart or an idle timeout would."""
    admin = await asyncpg.connect(
        host="127.0.0.1", port=postgres.port, user="postgres", database="postgres"
    )
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_a_connection_dropped_while_idle_is_replaced_before_it_is_used(engine, postgres):
    first = await backend_pid(engine)
    await drop(postgres, first)
    await asyncio.sleep(IDLE * 2)
    assert await backend_pid(engine) != first  # no error: the ping found it gone


async def test_the_busiest_connection_is_lent_first(engine):
    async with engine.connect() as one, engine.connect() as two:
        pids = [
            (await c.execute(text("SELECT pg_backend_pid()"))).scalar_one() for c in (one, two)
        ]
    assert await backend_pid(engine) == pids[0]  # returned last, lent first: it stays warm


async def test_a_connection_in_steady_use_is_not_pinged_and_fails_once_when_dropped(
    engine, postgres, monkeypatch
):
    monkeypatch.setattr(db_session, "PING_AFTER_IDLE", 3600.0)  # however slow the drop is
    first = await backend_pid(engine)
    assert await backend_pid(engine) == first  # the same connection, lent again at once
    await drop(postgres, first)
    with pytest.raises(Exception) as failed:
        await backend_pid(engine)
    assert is_unavailable(failed.value)  # what the workers retry
    assert await backend_pid(engine) != first
