"""On SQLite, webhook deliveries are first written to a log file of their own.

SQLite lets one transaction at a time write a database file. Sharing the main file, a
webhook's acknowledgement would wait for whichever worker is writing (expanding deliveries,
storing a turn, marking a send), and SQLite's busy handler polls in steps of up to 100 ms.
The log file is written with a plain ``sqlite3`` connection, each group of deliveries in one
transaction, on the event loop's own thread: in WAL mode with ``synchronous=NORMAL`` a commit
is a few writes to the operating system's cache and no ``fsync``, cheaper than a hand-off to
a thread, which also has to win the GIL back from a busy loop (that wait made the
acknowledgements' tail). The inline connection never waits for a lock: when another writer
holds the file (a prune, or another gateway sharing it), the group goes to a thread of the
log's own that waits its turn.

Rows get ids that only grow (``AUTOINCREMENT``), in commit order (one writer at a time), so a
cursor in the main database says which rows are expanded; it moves in the same transaction as
their expansion (``bot.ops.deliveries``). Each log file has an id of its own, so a log file
that is deleted and made anew starts from the beginning, never behind an old cursor.
PostgreSQL needs none of this: deliveries go straight to its ``webhook_deliveries`` table.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.models import UTCDateTime
from bot.db.session import create_engine, use_wal
from bot.db.sqlite_driver import is_busy

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

# Plain SQL on the sqlite3 connections: the reads and writes of every delivery, on the event
# loop, where SQLAlchemy's execution would cost more than the statements (about a millisecond
# per read, a thread hop included).
_INSERT = "INSERT INTO received (channel, body, received_at) VALUES (?, ?, ?)"
_PRUNE = "DELETE FROM received WHERE id <= ?"
_NEWEST = "SELECT max(id) FROM received"
_READ = "SELECT id, channel, body, received_at FROM received WHERE id > ? ORDER BY id LIMIT ?"
READ_BATCH = 500  # rows read at a time by ``rows_after``

Received = tuple[int, str, bytes, dt.datetime]  # id, channel, body, received at


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
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _received(rows: Any) -> list[Received]:
    """Log rows with their stamps read back as aware UTC times."""
    return [(id_, channel, bytes(body), _utc(at)) for id_, channel, body, at in rows]


def _utc(stamp: str) -> dt.datetime:
    """A stamp made by ``_stamp`` (UTC, no zone); one with a zone is converted, not relabelled."""
    at = dt.datetime.fromisoformat(stamp)
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


class ReceiveLog:
    """One open receive log, read and pruned by the expander.

    Written on the event loop with ``inline`` (a connection that never waits for a lock), or
    on the log's thread when another writer holds the file.
    """

    def __init__(self, engine: AsyncEngine, log_id: str, inline: sqlite3.Connection) -> None:
        self.engine = engine
        self.log_id = log_id
        self._path = str(engine.url.database)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="receive-log")
        self._inline = inline
        self._patient: sqlite3.Connection | None = None  # the thread's; waits for the lock
        self._closed = False

    async def write(self, rows: list[dict[str, Any]]) -> None:
        """Append ``rows`` (made by ``row``) in one transaction; returns once committed."""
        values = [(r["channel"], r["body"], _stamp(r["received_at"])) for r in rows]
        try:
            _run(self._inline, _INSERT, values)
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
        await asyncio.get_running_loop().run_in_executor(
            self._thread, self._run_patiently, _INSERT, values
        )

    async def prune(self, up_to: int) -> None:
        """Delete the rows up to ``up_to`` (expanded: the main database's cursor is past them).

        Then copy the write-ahead log into the file as far as readers allow, without waiting
        for the writer (a passive checkpoint, from the expander's connection).
        """
        await asyncio.get_running_loop().run_in_executor(
            self._thread, self._run_patiently, _PRUNE, [(up_to,)]
        )
        async with self.engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    async def newest_id(self) -> int:
        """The id of the newest row (0: none), read without any lock."""
        try:
            return self._inline.execute(_NEWEST).fetchone()[0] or 0
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
        async with self.engine.connect() as connection:
            return (await connection.exec_driver_sql(_NEWEST)).scalar_one_or_none() or 0

    async def read(self, after: int, limit: int) -> list[Received]:
        """Up to ``limit`` rows with ids above ``after``, oldest first.

        One row (at most a webhook's body limit) is read on the event loop; a batch, which
        may be a hundred times that, on the engine's thread.
        """
        if limit == 1:
            try:
                return _received(self._inline.execute(_READ, (after, limit)).fetchall())
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
        async with self.engine.connect() as connection:
            return _received(await connection.exec_driver_sql(_READ, (after, limit)))

    async def close(self) -> None:
        """Close the writers' connections and the engine (again: nothing)."""
        if self._closed:
            return
        self._closed = True
        self._inline.close()
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close_patient)
        self._thread.shutdown()
        await self.engine.dispose()

    def _run_patiently(self, statement: str, values: list[tuple[Any, ...]]) -> None:
        if self._patient is None:
            self._patient = _connect(self._path, timeout=10)
        _run(self._patient, statement, values)

    def _close_patient(self) -> None:
        if self._patient is not None:
            self._patient.close()
            self._patient = None


def _connect(path: str, timeout: float) -> sqlite3.Connection:
    """A writer's connection; ``timeout``: how long a statement waits for another writer."""
    connection = sqlite3.connect(
        path, timeout=timeout, isolation_level=None, check_same_thread=False
    )
    use_wal(connection)
    connection.execute("PRAGMA synchronous=NORMAL")
    # No checkpoint in the middle of a commit (a stall of tens of milliseconds on the
    # acknowledgement path); ``prune`` checkpoints from another connection instead.
    connection.execute("PRAGMA wal_autocheckpoint=0")
    return connection


def _run(connection: sqlite3.Connection, statement: str, values: list[tuple[Any, ...]]) -> None:
    """``statement`` for each of ``values``, in one transaction."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.executemany(statement, values)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def identity(url: str) -> str | None:
    """The log's id, read only; None if there is no log yet."""
    with _read_only(url) as connection:
        if connection is None:
            return None
        found = connection.execute("SELECT log_id FROM log_identity").fetchone()
        return None if found is None else found[0]


def rows_after(url: str, after: int) -> Iterator[Received]:
    """The log's rows after ``after`` (its cursor: not expanded yet), read only.

    For ``make member export``, in a process of its own beside the gateway's. Read only, but
    with the gateway stopped SQLite makes the log's ``-wal`` and ``-shm`` files again, owned by
    whoever runs the export.
    """
    with _read_only(url) as connection:
        if connection is None:
            return
        while batch := _received(connection.execute(_READ, (after, READ_BATCH)).fetchall()):
            yield from batch
            after = batch[-1][0]


@contextlib.contextmanager
def _read_only(url: str) -> Iterator[sqlite3.Connection | None]:
    path = Path(str(make_url(url).database)).resolve()
    if not path.exists():
        yield None
        return
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        yield connection
    finally:
        connection.close()


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
    inline = await asyncio.to_thread(_connect, str(engine.url.database), 0)
    return ReceiveLog(engine, log_id, inline)
