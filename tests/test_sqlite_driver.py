"""The one-hop SQLite cursor (``bot.db.sqlite_driver``) does what SQLAlchemy's users rely on.

Both kinds of connection: the console's, whose statements run on aiosqlite's thread, and the
workers' inline one, whose statements run on the event loop unless the database is locked.
"""

from __future__ import annotations

import asyncio
import sqlite3

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.db.session import create_engine, create_worker_engine
from tests.helpers.databases import sqlite_url

metadata = MetaData()
ITEMS = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), nullable=False, unique=True),
)


@pytest.fixture(params=[False, True], ids=["thread", "inline"])
async def engine(request, tmp_path):
    engine = create_engine(sqlite_url(tmp_path), inline=request.param)
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


@pytest.fixture
def trips(monkeypatch):
    """The functions run on aiosqlite's thread, by name, from the time it is asked for."""
    ran: list[str] = []
    real = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):
        ran.append(getattr(fn, "__name__", repr(fn)))
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return ran


@pytest.fixture
async def thread_engine(tmp_path):
    engine = create_engine(sqlite_url(tmp_path))
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def inline_engine(thread_engine, tmp_path):
    engine = create_engine(sqlite_url(tmp_path), inline=True)
    yield engine
    await engine.dispose()


async def test_a_statement_is_one_trip_to_the_database_thread(thread_engine, request):
    async with thread_engine.connect() as connection:
        await connection.execute(select(1))  # the connection's set-up is done
        ran = request.getfixturevalue("trips")
        rows = await connection.execute(select(ITEMS.c.id, ITEMS.c.name))
        assert rows.all() == []
        assert len(ran) == 1  # SQLAlchemy's own adapter: cursor, execute, fetch, close


async def test_inline_statements_take_no_trip_and_the_commit_one(inline_engine, request):
    async with inline_engine.connect() as connection:
        await connection.execute(select(1))
    ran = request.getfixturevalue("trips")
    async with inline_engine.begin() as connection:
        await connection.execute(insert(ITEMS).values(name="a"))
        await connection.execute(update(ITEMS).values(name="b").returning(ITEMS.c.id))
        assert (await connection.execute(select(ITEMS.c.name))).scalars().all() == ["b"]
        assert ran == []
    assert ran == ["commit"]  # on the thread: a commit may checkpoint the WAL
    async with inline_engine.connect() as connection:
        await connection.execute(insert(ITEMS), [{"name": "c"}, {"name": "d"}])
        assert ran == ["commit", "_execute_patiently"]  # executemany stays on the thread
        await connection.rollback()


class Ticker:
    """A task counting how often the event loop lets it run (after ``pause`` seconds each)."""

    def __init__(self, pause: float) -> None:
        self.ticks = 0
        self._pause = pause
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._pause)
            self.ticks += 1


async def test_a_long_inline_transaction_lets_other_tasks_run(inline_engine):
    ticker = Ticker(0)
    async with inline_engine.begin() as connection:
        await connection.execute(select(1))
        ticker.start()
        await asyncio.sleep(0)
        started = ticker.ticks
        for number in range(2000):  # tens of milliseconds of statements, no trip
            await connection.execute(insert(ITEMS).values(name=str(number)))
        during = ticker.ticks - started
        ticker.stop()
    assert during >= 5  # about once every YIELD_AFTER_SECONDS; never without it


async def test_no_trip_to_end_a_transaction_that_wrote_nothing(engine, request):
    async with engine.connect() as connection:
        await connection.execute(select(1))
    ran = request.getfixturevalue("trips")
    async with engine.begin() as connection:  # then returned to the pool, "reset"
        assert (await connection.execute(select(ITEMS.c.id))).all() == []
    async with engine.connect() as connection:
        await connection.execute(select(ITEMS.c.id))
        await connection.rollback()
    assert ran.count("commit") == ran.count("rollback") == 0


def _hold_write_lock(path: str) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


async def test_a_transaction_does_not_begin_by_giving_the_loop_up(inline_engine):
    async with inline_engine.connect() as connection:
        await connection.execute(select(1))
    await asyncio.sleep(0.01)  # the connection idles in the pool, longer than 2 ms
    ticker = Ticker(0)
    ticker.start()
    await asyncio.sleep(0)  # the ticker waits for its next turn
    async with inline_engine.begin() as connection:
        await connection.execute(insert(ITEMS).values(name="a"))
        await connection.execute(select(ITEMS.c.id))
        assert ticker.ticks == 0  # counted from the checkout, not from its last use
    ticker.stop()


async def test_a_locked_database_is_waited_for_on_the_thread_not_the_loop(
    inline_engine, tmp_path, request
):
    async with inline_engine.connect() as connection:
        await connection.execute(select(1))
    ran = request.getfixturevalue("trips")
    holder = _hold_write_lock(str(tmp_path / "bot.db"))
    ticker = Ticker(0.01)
    timeout_after = None

    async def write() -> None:
        nonlocal timeout_after
        async with inline_engine.begin() as connection:
            await connection.execute(insert(ITEMS).values(name="a"))  # waits for the lock
            await connection.execute(insert(ITEMS).values(name="b"))  # inline: it is ours
            timeout = await connection.exec_driver_sql("PRAGMA busy_timeout")
            timeout_after = timeout.scalar_one()

    ticker.start()
    writer = asyncio.create_task(write())
    await asyncio.sleep(0.3)
    assert not writer.done()
    assert ticker.ticks >= 3  # the loop ran on while the statement waited
    holder.rollback()
    await asyncio.wait_for(writer, 5)
    ticker.stop()
    holder.close()
    assert ran == ["_execute_patiently", "commit"]
    assert timeout_after == 0  # back to no waiting on the loop
    async with inline_engine.connect() as connection:
        names = await connection.execute(select(ITEMS.c.name).order_by(ITEMS.c.id))
        assert names.scalars().all() == ["a", "b"]


async def test_a_lock_held_too_long_fails_the_statement(inline_engine, tmp_path, monkeypatch):
    monkeypatch.setattr("bot.db.sqlite_driver.PATIENT_MS", 100)
    holder = _hold_write_lock(str(tmp_path / "bot.db"))
    async with inline_engine.connect() as connection:
        try:
            with pytest.raises(OperationalError, match="locked"):
                await connection.execute(insert(ITEMS).values(name="a"))
        finally:
            holder.close()
        await connection.rollback()
        timeout = await connection.exec_driver_sql("PRAGMA busy_timeout")
        assert timeout.scalar_one() == 0
        await connection.execute(insert(ITEMS).values(name="a"))
        await connection.commit()


async def test_executemany_waits_for_a_lock_on_the_thread(inline_engine, tmp_path):
    holder = _hold_write_lock(str(tmp_path / "bot.db"))
    writer = asyncio.create_task(_insert_many(inline_engine, ["a", "b"]))
    await asyncio.sleep(0.2)
    assert not writer.done()
    holder.rollback()
    holder.close()
    await asyncio.wait_for(writer, 5)
    async with inline_engine.connect() as connection:
        names = await connection.execute(select(ITEMS.c.name).order_by(ITEMS.c.id))
        assert names.scalars().all() == ["a", "b"]


async def _insert_many(engine, names: list[str]) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(ITEMS), [{"name": name} for name in names])


async def test_the_workers_get_an_inline_engine_on_sqlite(tmp_path):
    url = sqlite_url(tmp_path)
    console = create_engine(url)
    workers = create_worker_engine(url, console)
    try:
        assert workers is not console
        assert workers.dialect.loaded_dbapi.inline
        assert not console.dialect.loaded_dbapi.inline
    finally:
        await workers.dispose()
        await console.dispose()
