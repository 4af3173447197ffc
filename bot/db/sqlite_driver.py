"""SQLAlchemy's aiosqlite adapter, with one hand-off to the database thread per statement.

SQLAlchemy's own adapter runs each statement as four awaits on aiosqlite's thread: make a
cursor, execute, fetch the rows, close the cursor. Each is a round trip through the event loop
(a queue, the thread, ``call_soon_threadsafe``, the loop waking), and on a busy loop each waits
its turn: a bot turn is 10 statements, 43 round trips. This cursor runs the four steps as one
function on the same thread, so a statement costs one. Transactions, errors and
results are the adapter's: only where the steps run changes.

An *inline* connection (``one_hop_dbapi(inline=True)``, for the workers' small statements)
takes no trip at all: it runs each statement on the event loop's thread with SQLite's busy
timeout at zero, and only a statement that finds the database locked by another connection
goes to the thread, which waits for the lock there (``executemany`` always does). Such a
statement never lets other tasks in, so a connection that has held the loop for
``YIELD_AFTER_SECONDS`` gives it up for one turn before its next statement: a long
transaction (a batch of a hundred deliveries) does not hold webhooks' acknowledgements up
for its whole length. The commit still goes to the thread (it may checkpoint the WAL, which
writes and syncs the file). A commit or rollback with no transaction open is skipped on every
connection: it would be a trip that does nothing.

It leans on two private names, aiosqlite's ``Connection._execute`` and SQLAlchemy's adapter
cursor's fields; both libraries are pinned (``requirements/project.lock``), and
``tests/test_sqlite_driver.py`` runs the cursor through what the adapter's users rely on.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

Outcome = tuple[Any, list[Any], int, int | None]  # description, rows, rowcount, lastrowid

PATIENT_MS = 10_000  # how long a statement sent to the thread waits for the lock
YIELD_AFTER_SECONDS = 0.002  # an inline connection's longest hold on the event loop


def _execute(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> Outcome:
    """On the database thread: the whole statement, rows included."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _execute_patiently(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> Outcome:
    """On the database thread: ``_execute`` for an inline connection, waiting for the lock."""
    connection.execute(f"PRAGMA busy_timeout={PATIENT_MS}")
    try:
        return _execute(connection, operation, parameters, many)
    finally:
        connection.execute("PRAGMA busy_timeout=0")


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLite's BUSY, in any of its extended codes: another connection holds the file."""
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statements each take one trip to aiosqlite's thread.

    On an inline connection, none, unless the database is locked (see the module).
    """

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No aiosqlite cursor is made (that alone is a round trip): each statement makes and
        # closes its own sqlite3 cursor on the thread.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        """Ignored: all rows are fetched on the thread; SQLAlchemy never sets it for SQLite."""

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._run(operation, seq_of_parameters, many=True)

    async def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        adapt_connection = self._adapt_connection
        async with adapt_connection._execute_mutex:
            aiosqlite_connection = self._connection
            raw = aiosqlite_connection._conn
            on_thread = _execute
            if adapt_connection.inline:  # type: ignore[attr-defined]
                on_thread = _execute_patiently
                if not many:
                    if time.perf_counter() - adapt_connection.yielded_at > YIELD_AFTER_SECONDS:
                        await asyncio.sleep(0)
                        adapt_connection.yielded_at = time.perf_counter()
                    try:
                        self._keep(_execute(raw, operation, parameters, many))
                        return
                    except sqlite3.OperationalError as exc:
                        if not is_busy(exc):
                            raise
            outcome = await aiosqlite_connection._execute(  # type: ignore[attr-defined]
                on_thread, raw, operation, parameters, many
            )
            adapt_connection.yielded_at = time.perf_counter()
        self._keep(outcome)

    def _keep(self, outcome: Outcome) -> None:
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    async def _async_soft_close(self) -> None:
        """Nothing to close: the sqlite3 cursor was closed on the thread."""

    def close(self) -> None:
        self._rows.clear()

    def nextset(self) -> None:
        raise NotImplementedError("SQLite has one result set per statement")

    def setinputsizes(self, *inputsizes: Any) -> None:
        raise NotImplementedError("SQLite takes no input sizes")


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """The adapter's connection, handing out ``OneHopCursor``s; ``inline``: see the module."""

    __slots__ = ("inline", "yielded_at")
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any, *, inline: bool) -> None:
        super().__init__(dbapi, connection)
        self.inline = inline
        self.yielded_at = 0.0  # when it last let other tasks run, or was lent (inline)

    def lent(self) -> None:
        """The pool lends it to a session: its hold on the event loop counts from now.

        Not from its last use, which may be long past: every transaction would then begin by
        giving the loop up.
        """
        self.yielded_at = time.perf_counter()

    def commit(self) -> None:
        if self._in_transaction():
            super().commit()
            self.yielded_at = time.perf_counter()

    def rollback(self) -> None:
        if self._in_transaction():
            super().rollback()

    def _in_transaction(self) -> bool:
        raw = self._connection._connection  # None once closed
        return raw is not None and raw.in_transaction


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The adapter's DBAPI module, connecting with ``OneHopConnection``."""

    def __init__(self, *, inline: bool) -> None:
        super().__init__(aiosqlite, sqlite3)
        self.inline = inline

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        if self.inline:  # used on the event loop's thread too, never by two at once
            kw["check_same_thread"] = False
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection, inline=self.inline)


def one_hop_dbapi(*, inline: bool = False) -> OneHopDbapi:
    """What ``create_async_engine(..., module=...)`` takes for a ``sqlite+aiosqlite`` URL.

    ``inline``: statements run on the event loop's thread (see the module); the engine must
    set the connections' busy timeout to zero (``bot.db.session``).
    """
    return OneHopDbapi(inline=inline)
