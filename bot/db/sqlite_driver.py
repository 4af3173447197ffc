"""SQLAlchemy's aiosqlite adapter, with one hand-off to the database thread per statement.

SQLAlchemy's own adapter runs each statement as four awaits on aiosqlite's thread: make a
cursor, execute, fetch the rows, close the cursor. Each is a round trip through the event loop
(a queue, the thread, ``call_soon_threadsafe``, the loop waking), and on a busy loop each waits
its turn: a bot turn is 10 statements, 43 round trips. This cursor runs the four steps as one
function on the same thread, so a statement costs one. Transactions, errors and
results are the adapter's: only where the steps run changes.

It leans on two private names, aiosqlite's ``Connection._execute`` and SQLAlchemy's adapter
cursor's fields; both libraries are pinned (``requirements/project.lock``), and
``tests/test_sqlite_driver.py`` runs the cursor through what the adapter's users rely on.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

Outcome = tuple[Any, list[Any], int, int | None]  # description, rows, rowcount, lastrowid


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


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statements each take one trip to aiosqlite's thread."""

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
        async with self._adapt_connection._execute_mutex:
            aiosqlite_connection = self._connection
            outcome = await aiosqlite_connection._execute(  # type: ignore[attr-defined]
                _execute, aiosqlite_connection._conn, operation, parameters, many
            )
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
    """The adapter's connection, handing out ``OneHopCursor``s."""

    __slots__ = ()
    _cursor_cls = OneHopCursor


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The adapter's DBAPI module, connecting with ``OneHopConnection``."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


def one_hop_dbapi() -> OneHopDbapi:
    """What ``create_async_engine(..., module=...)`` takes for a ``sqlite+aiosqlite`` URL."""
    return OneHopDbapi(aiosqlite, sqlite3)
