"""The Alembic migrations build exactly the schema the models describe, on both databases."""

import asyncio
import sqlite3
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from bot.db.migrate import upgrade
from bot.db.models import Base, FaqEntry
from bot.db.session import create_engine, session_factory, use_wal


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


def test_connections_opening_a_new_file_together_all_switch_it_to_wal(tmp_path):
    # SQLite refuses a concurrent switch to WAL at once ("database is locked"), busy timeout or
    # not; without retrying, about one round in eight had a connection fail here.
    failures: list[BaseException] = []
    for round_ in range(60):
        path = tmp_path / f"{round_}.db"
        start = threading.Barrier(4)

        def switch(path=path, start=start) -> None:
            connection = sqlite3.connect(path, timeout=10)
            try:
                start.wait()
                use_wal(connection)
            except BaseException as exc:  # collected and asserted below
                failures.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=switch) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert failures == []


def test_a_file_that_cannot_take_wal_is_an_error_not_a_silent_fallback(tmp_path):
    # SQLite answers the switch with the old mode, no error, where WAL cannot work; the
    # "unix-dotfile" VFS has no shared memory, like some network file systems.
    connection = sqlite3.connect(f"file:{tmp_path / 'x.db'}?vfs=unix-dotfile", uri=True)
    try:
        with pytest.raises(RuntimeError, match="kept journal mode 'delete'"):
            use_wal(connection)
    finally:
        connection.close()
    memory = sqlite3.connect(":memory:")
    try:
        use_wal(memory)  # nothing to switch
        assert memory.execute("PRAGMA journal_mode").fetchone()[0] == "memory"
    finally:
        memory.close()
