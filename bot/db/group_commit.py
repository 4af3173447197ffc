"""Group commit: rows handed in by concurrent callers are written together, in one transaction.

While one transaction is being written, the rows that arrive meanwhile wait and then go in the
next one, all at once. Nothing waits on a timer: a lone row is written at once, and under load
a commit carries as many rows as arrived during the previous one. Every caller's ``add``
returns only after the transaction holding its row has committed, or raises what made it fail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy import Table
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

Row = dict[str, Any]
Write = Callable[[list[Row]], Awaitable[None]]  # writes and commits the rows, or raises

TIMEOUT_SECONDS = 10.0


class AsyncpgWriter:
    """Insert rows into a PostgreSQL table with one asyncpg ``executemany``.

    ``executemany`` runs in a transaction of its own and in one round trip, where SQLAlchemy's
    async engine takes five hand-offs (check-out, begin, execute, commit, check-in), each
    waiting its turn on a busy event loop. One connection of its own, opened when first needed
    and again after any failure (a restarting server).
    """

    def __init__(self, database_url: str, table: Table) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._columns = [column.name for column in table.columns if column.name != "id"]
        names = ", ".join(self._columns)
        places = ", ".join(f"${n}" for n in range(1, len(self._columns) + 1))
        self._statement = f"INSERT INTO {table.name} ({names}) VALUES ({places})"
        self._connection: asyncpg.Connection | None = None

    async def __call__(self, rows: list[Row]) -> None:
        """Write and commit ``rows``; reconnects next time if anything failed."""
        values = [tuple(_naive_utc(row[name]) for name in self._columns) for row in rows]
        try:
            if self._connection is None or self._connection.is_closed():
                self._connection = await asyncpg.connect(self._dsn, timeout=TIMEOUT_SECONDS)
            await self._connection.executemany(self._statement, values, timeout=TIMEOUT_SECONDS)
        except asyncpg.InterfaceError as exc:  # "connection is closed": the server went away
            await self.close()
            raise ConnectionError(f"database connection lost: {exc}") from exc
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the connection, if open."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.terminate()


def _naive_utc(value: Any) -> Any:
    """Aware times as the schema stores them: UTC without a zone (``UTCDateTime``)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def table_writer(engine: AsyncEngine, table: Table) -> Write:
    """Insert rows into ``table`` in one transaction (one ``executemany``)."""
    statement = table.insert()

    async def write(rows: list[Row]) -> None:
        async with engine.begin() as connection:
            await connection.execute(statement, rows)

    return write


class GroupCommit:
    """Writes rows with ``write``, batching the callers that arrive while a commit is under way."""

    def __init__(self, write: Write, max_rows: int = 500) -> None:
        self._write = write
        self._max_rows = max_rows
        self._waiting: list[tuple[Row, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, row: Row) -> None:
        """Return once ``row`` is committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        # The writer finishes the batch even if this caller gives up (client gone, shutdown).
        await asyncio.shield(done)

    async def _write_all(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_rows]
            del self._waiting[: self._max_rows]
            try:
                await self._write([row for row, _ in batch])
            except asyncio.CancelledError:  # shutting down: nobody gets an acknowledgement
                for _, done in batch + self._waiting:
                    done.cancel()
                self._waiting.clear()
                raise
            except Exception as exc:  # every caller of the batch hears of it
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
