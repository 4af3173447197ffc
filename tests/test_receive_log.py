"""The SQLite receive log commits on the event loop when the file is free, and never makes the
loop wait for another writer's lock."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import threading
import time

import pytest
from sqlalchemy import event, select

from bot.db import receive_log
from bot.db.receive_log import RECEIVED, ReceiveLog, open_receive_log, receive_log_url
from tests.helpers.databases import sqlite_url

T0 = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
async def log(tmp_path):
    url = receive_log_url(sqlite_url(tmp_path))
    assert url is not None
    opened = await open_receive_log(url)
    yield opened
    await opened.close()


async def bodies(log: ReceiveLog) -> list[bytes]:
    async with log.engine.connect() as connection:
        return list((await connection.execute(select(RECEIVED.c.body))).scalars())


async def test_a_write_on_a_free_log_commits_on_the_event_loops_thread(log, monkeypatch):
    threads = []
    real_run = receive_log._run

    def run(connection, statement, values):
        threads.append(threading.get_ident())
        return real_run(connection, statement, values)

    monkeypatch.setattr(receive_log, "_run", run)
    await log.write([receive_log.row("facebook", b"mot", T0), receive_log.row("zalo", b"hai", T0)])
    assert threads == [threading.get_ident()]  # no hand-off to a thread
    assert await bodies(log) == [b"mot", b"hai"]


async def test_a_write_while_another_writer_holds_the_log_waits_off_the_loop(log):
    holder = sqlite3.connect(str(log.engine.url.database), timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another gateway sharing the file, say
        holder.execute(
            "INSERT INTO received (channel, body, received_at) VALUES (?, ?, ?)",
            ("zalo", b"x", "2026-11-22 08:00:00.000000"),
        )
        writing = asyncio.create_task(log.write([receive_log.row("facebook", b"mot", T0)]))
        latest = 0.0
        for _ in range(20):  # the loop keeps turning while the write waits
            before = time.monotonic()
            await asyncio.sleep(0.02)
            latest = max(latest, time.monotonic() - before)
        assert latest < 1.0, f"the event loop stood still for {latest:.1f} s"
        assert not writing.done()  # it waits for the lock, it does not fail
        holder.execute("COMMIT")
    finally:
        holder.close()
    await writing
    assert await bodies(log) == [b"x", b"mot"]  # committed once, after the other writer's row


async def test_a_failure_other_than_a_busy_file_is_raised_and_nothing_is_written(log, monkeypatch):
    calls = []

    def full(connection, statement, values):
        calls.append(statement)
        error = sqlite3.OperationalError("database or disk is full")
        error.sqlite_errorcode = sqlite3.SQLITE_FULL
        raise error

    monkeypatch.setattr(receive_log, "_run", full)
    with pytest.raises(sqlite3.OperationalError):
        await log.write([receive_log.row("facebook", b"mot", T0)])
    assert len(calls) == 1  # not tried again on the thread
    assert await bodies(log) == []


async def test_an_extended_busy_code_also_sends_the_group_to_the_logs_thread(log, monkeypatch):
    threads = []
    real_run = receive_log._run

    def recovering_once(connection, statement, values):
        threads.append(threading.get_ident())
        if len(threads) == 1:
            error = sqlite3.OperationalError("database is locked")
            error.sqlite_errorcode = sqlite3.SQLITE_BUSY_RECOVERY  # 261: BUSY in its low byte
            raise error
        return real_run(connection, statement, values)

    monkeypatch.setattr(receive_log, "_run", recovering_once)
    await log.write([receive_log.row("facebook", b"mot", T0)])
    assert threads[0] == threading.get_ident() != threads[1]
    assert await bodies(log) == [b"mot"]  # written once, by the log's thread


async def test_reads_give_the_rows_as_written_one_on_the_loop_a_batch_on_a_thread(log):
    later = T0 + dt.timedelta(microseconds=1)
    hanoi = T0.astimezone(dt.timezone(dt.timedelta(hours=7)))
    await log.write(
        [receive_log.row("facebook", b"mot", T0), receive_log.row("zalo", b"hai", later)]
    )
    await log.write([receive_log.row("facebook", b"ba", hanoi)])
    with engine_statements(log) as through_engine:
        assert await log.newest_id() == 3
        one = await log.read(1, 1)
        assert through_engine == []  # on the event loop's own connection
        batch = await log.read(0, 100)
        assert len(through_engine) == 1  # through aiosqlite, on its thread
    assert one == [(2, "zalo", b"hai", later)] == batch[1:2]
    assert [row[0] for row in batch] == [1, 2, 3]
    assert batch[2][3] == T0 and batch[2][3].tzinfo == dt.UTC
    assert await log.read(3, 1) == []


def test_a_stamp_with_a_zone_is_converted_to_utc():
    assert receive_log._utc("2026-11-22 15:00:00.000001+07:00") == T0.replace(
        hour=8, microsecond=1
    )
    assert receive_log._utc("2026-11-22 08:00:00.000000") == T0


@contextlib.contextmanager
def engine_statements(log: ReceiveLog):
    """The statements run through the log's engine (aiosqlite's thread) while the block runs."""
    statements: list[str] = []

    def before(_connection, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(log.engine.sync_engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(log.engine.sync_engine, "before_cursor_execute", before)


async def test_reads_see_only_committed_rows_while_a_writer_holds_the_file(log):
    await log.write([receive_log.row("facebook", b"mot", T0)])
    holder = sqlite3.connect(str(log.engine.url.database), timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute(
            "INSERT INTO received (channel, body, received_at) VALUES (?, ?, ?)",
            ("zalo", b"x", "2026-11-22 08:00:00.000000"),
        )
        async with asyncio.timeout(1):
            assert await log.newest_id() == 1
            assert [row[2] for row in await log.read(0, 1)] == [b"mot"]
    finally:
        holder.rollback()
        holder.close()


class FailingConnection:
    """The inline connection, failing with SQLite's ``code`` (BUSY_RECOVERY: another
    connection recovers the file)."""

    def __init__(self, code: int) -> None:
        self.code = code

    def execute(self, *_args):
        error = sqlite3.OperationalError("database is locked")
        error.sqlite_errorcode = self.code
        raise error

    def close(self):
        pass


async def test_a_read_that_finds_the_file_busy_is_made_on_the_engines_thread(log):
    await log.write([receive_log.row("facebook", b"mot", T0)])
    log._inline.close()
    log._inline = FailingConnection(sqlite3.SQLITE_BUSY_RECOVERY)
    assert await log.newest_id() == 1
    assert await log.read(0, 1) == [(1, "facebook", b"mot", T0)]


async def test_a_read_failing_otherwise_is_raised(log):
    log._inline.close()
    log._inline = FailingConnection(sqlite3.SQLITE_IOERR)
    with engine_statements(log) as through_engine:
        with pytest.raises(sqlite3.OperationalError):
            await log.newest_id()
        with pytest.raises(sqlite3.OperationalError):
            await log.read(0, 1)
    assert through_engine == []  # not tried again on the engine's thread
