"""On SQLite, webhook deliveries are first written to a log file of their own.

SQLite lets one transaction at a time write a database file. Sharing the main file, a
webhook's acknowledgement would wait for whichever worker is writing (expanding deliveries,
storing a turn, marking a send), and SQLite's busy handler polls in steps of up to 100 ms.
The log file has one writer: a thread of its own with a plain ``sqlite3`` connection, which
writes each group of deliveries in one transaction and one hop from the event loop.

Rows get ids that only grow (``AUTOINCREMENT``), in commit order (one writer at a time), so a
cursor in the main database says which rows are expanded; it moves in the same transaction as
their expansion (``bot.ops.deliveries``). Each log file has an id of its own, so a log file
that is deleted and made anew starts from the beginning, never behind an old cursor.
PostgreSQL needs none of this: deliveries go straight to its ``webhook_deliveries`` table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.models import UTCDateTime
from bot.db.session import create_engine, use_wal

metadata = MetaData()

RECEIVED = Table(
    "received",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    sqlite_autoincrement=True,
)

IDENTITY = Table("log_identity", metadata, Column("log_id", String(36), primary_key=True))

_INSERT = "INSERT INTO received (channel, body, received_at) VALUES (?, ?, ?)"
_PRUNE = "DELETE FROM received WHERE id <= ?"
_NEWEST = select(func.max(RECEIVED.c.id))


def row(channel: str, body: bytes, now: dt.datetime) -> dict[str, Any]:
    """The log row of a delivery as it arrived."""
    return {"channel": channel, "body": body, "received_at": now}


def receive_log_url(database_url: str) -> str | None:
    """The log beside a SQLite database file (``bot.db`` -> ``bot.received.db``).

    None for PostgreSQL and for an in-memory SQLite database.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database)
    log_path = path.with_name(f"{path.stem}.received{path.suffix}")
    return url.set(database=str(log_path)).render_as_string(hide_password=False)


def _stamp(value: dt.datetime) -> str:
    """A UTC time as SQLAlchemy stores it in SQLite (read back by ``UTCDateTime``)."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class ReceiveLog:
    """One open receive log: written by its own thread, read and pruned by the expander."""

    def __init__(self, engine: AsyncEngine, log_id: str) -> None:
        self.engine = engine
        self.log_id = log_id
        self._path = str(engine.url.database)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="receive-log")
        self._connection: sqlite3.Connection | None = None
        self._closed = False

    async def write(self, rows: list[dict[str, Any]]) -> None:
        """Append ``rows`` (made by ``row``) in one transaction; returns once committed."""
        values = [(r["channel"], r["body"], _stamp(r["received_at"])) for r in rows]
        await asyncio.get_running_loop().run_in_executor(self._thread, self._run, _INSERT, values)

    async def prune(self, up_to: int) -> None:
        """Delete the rows up to ``up_to`` (expanded: the main database's cursor is past them).

        Then copy the write-ahead log into the file as far as readers allow, without waiting
        for the writer (a passive checkpoint, from the expander's connection).
        """
        await asyncio.get_running_loop().run_in_executor(
            self._thread, self._run, _PRUNE, [(up_to,)]
        )
        async with self.engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    async def newest_id(self) -> int:
        """The id of the newest row (0: none), read without any lock."""
        async with self.engine.connect() as connection:
            return (await connection.execute(_NEWEST)).scalar_one_or_none() or 0

    async def read(self, after: int, limit: int) -> list[Row[Any]]:
        """Up to ``limit`` rows with ids above ``after``, oldest first."""
        query = (
            select(RECEIVED.c.id, RECEIVED.c.channel, RECEIVED.c.body, RECEIVED.c.received_at)
            .where(RECEIVED.c.id > after)
            .order_by(RECEIVED.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            return list(await connection.execute(query))

    async def close(self) -> None:
        """Close the writer's connection and the engine (again: nothing)."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown()
        await self.engine.dispose()

    def _run(self, statement: str, values: list[tuple[Any, ...]]) -> None:
        if self._connection is None:
            self._connection = sqlite3.connect(self._path, timeout=10, isolation_level=None)
            use_wal(self._connection)
            self._connection.execute("PRAGMA synchronous=NORMAL")
            # No checkpoint in the middle of a commit (a stall of tens of milliseconds on the
            # acknowledgement path); ``prune`` checkpoints from another connection instead.
            self._connection.execute("PRAGMA wal_autocheckpoint=0")
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany(statement, values)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


async def open_receive_log(url: str) -> ReceiveLog:
    """The log at ``url``, its tables made if new."""
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.exec_driver_sql("BEGIN IMMEDIATE")  # processes starting together
        await connection.run_sync(metadata.create_all)
        log_id = (await connection.execute(select(IDENTITY.c.log_id))).scalar_one_or_none()
        if log_id is None:
            log_id = str(uuid.uuid4())
            await connection.execute(IDENTITY.insert().values(log_id=log_id))
    return ReceiveLog(engine, log_id)
