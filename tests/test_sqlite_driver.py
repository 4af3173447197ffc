"""The one-hop SQLite cursor (``bot.db.sqlite_driver``) does what SQLAlchemy's users rely on."""

from __future__ import annotations

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from bot.db.session import create_engine
from tests.helpers.databases import sqlite_url

metadata = MetaData()
ITEMS = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), nullable=False, unique=True),
)


@pytest.fixture
async def engine(tmp_path):
    engine = create_engine(sqlite_url(tmp_path))
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def test_rows_counts_ids_and_returning(engine):
    async with engine.begin() as connection:
        first = await connection.execute(insert(ITEMS).values(name="a"))
        assert first.inserted_primary_key == (1,)  # from the cursor's lastrowid
        await connection.execute(insert(ITEMS), [{"name": "b"}, {"name": "c"}])  # executemany
        renamed = await connection.execute(
            update(ITEMS).where(ITEMS.c.id > 1).values(name=ITEMS.c.name + "!")
        )
        assert renamed.rowcount == 2
        returned = await connection.execute(
            update(ITEMS).where(ITEMS.c.id == 3).values(name="z").returning(ITEMS.c.id)
        )
        assert returned.all() == [(3,)]
        names = await connection.execute(select(ITEMS.c.name).order_by(ITEMS.c.id))
        assert names.scalars().all() == ["a", "b!", "z"]
        assert (await connection.execute(text("SELECT 1 WHERE 0"))).first() is None


async def test_errors_come_through_as_sqlalchemys_and_roll_back(engine):
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(insert(ITEMS).values(name="a"))
            await connection.execute(insert(ITEMS).values(name="a"))
    async with engine.connect() as connection:
        assert (await connection.execute(select(ITEMS.c.id))).all() == []


async def test_a_statement_is_one_trip_to_the_database_thread(engine, monkeypatch):
    trips = 0
    real = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):
        nonlocal trips
        trips += 1
        return await real(self, fn, *args, **kwargs)

    async with engine.connect() as connection:
        await connection.execute(select(1))  # the connection's set-up is done
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        rows = await connection.execute(select(ITEMS.c.id, ITEMS.c.name))
        assert rows.all() == []
        assert trips == 1  # SQLAlchemy's own adapter: cursor, execute, fetch, close
