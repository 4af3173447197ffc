"""Engine and session factory for ``DATABASE_URL`` (SQLite file by default, or PostgreSQL)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, InvalidatePoolError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util.concurrency import await_, in_greenlet

from bot.db.sqlite_driver import one_hop_dbapi

SessionFactory = async_sessionmaker[AsyncSession]

PING_AFTER_IDLE = 1.0  # seconds; see create_engine's ping_if_idle

# Failures that mean "the database cannot be reached right now" rather than a bug: refused or
# dropped connections, a server starting up or shutting down, too many connections; a SQLite
# file locked too long or unwritable (the receive log writes with the sqlite3 module itself).
_UNAVAILABLE = (
    OperationalError,
    sqlite3.OperationalError,
    InterfaceError,
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is unreachable or restarting (worth a retry).

    The driver's error may come wrapped by SQLAlchemy's adapters, so its causes count too.
    """
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, _UNAVAILABLE) or (
            isinstance(seen, DBAPIError) and seen.connection_invalidated
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def use_wal(connection: Any, wait: float = 10.0) -> None:
    """Switch a new SQLite connection's file to WAL mode, retrying while it is locked.

    The switch needs the file to itself, and SQLite may refuse it at once with "database is
    locked" (without calling the busy handler) while another process opening the same new file
    does the same. The mode is kept in the file: once one connection has switched, the others
    find it done. SQLite keeps the old mode, without an error, where WAL cannot work (a file
    system without shared memory, such as some network shares): that is an error here, as
    readers would then block the writers. An in-memory database has no file to switch.
    """
    deadline = time.monotonic() + wait
    cursor = connection.cursor()
    try:
        while True:
            try:
                cursor.execute("PRAGMA journal_mode")
                mode = cursor.fetchone()[0]
                if mode not in ("wal", "memory"):
                    cursor.execute("PRAGMA journal_mode=WAL")
                    if (mode := cursor.fetchone()[0]) != "wal":
                        raise RuntimeError(
                            f"SQLite kept journal mode {mode!r} instead of switching to WAL; "
                            "put the database on a local file system"
                        )
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                if in_greenlet():  # opened by the async engine: on the event loop's thread
                    await_(asyncio.sleep(0.01))
                else:
                    time.sleep(0.01)
    finally:
        cursor.close()


def _sqlite_pragmas(busy_timeout_seconds: float) -> Callable[[Any, Any], None]:
    """What a new SQLite connection is set up with; a lock is waited for that long."""

    def set_up(dbapi_connection: Any, _record: Any) -> None:
        use_wal(dbapi_connection)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
        cursor.close()

    return set_up


def _lent(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    dbapi_connection.lent()


def create_engine(database_url: str, *, inline: bool = False) -> AsyncEngine:
    """An async engine; for SQLite the file's folder is created and WAL mode switched on.

    ``inline``: for SQLite, an engine whose statements run on the event loop's thread unless
    the database is locked (``bot.db.sqlite_driver``), for small statements only (the
    workers'): a long one would hold up every request meanwhile. Ignored for PostgreSQL.

    Statement parameters are left out of error messages: they hold members' messages.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # One connection (and aiosqlite thread) per concurrent session: with the default pool
        # of 5, the workers and a few webhook requests overflow it, and every overflow
        # connection is opened (a new thread, the pragmas) and closed again per session.
        # An inline connection's statements never wait for a lock on the event loop: the
        # thread waits for them (``sqlite_driver``).
        busy_timeout = 0 if inline else 10
        engine = create_async_engine(
            url,
            module=one_hop_dbapi(inline=inline),
            connect_args={"timeout": busy_timeout},
            pool_size=20,
            hide_parameters=True,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(busy_timeout))
        if inline:
            event.listen(engine.sync_engine.pool, "checkout", _lent)
        return engine
    # Said, not assumed from the server's default: each statement must see what committed
    # before it started, e.g. an erasure committed while expansion waited for its lock.
    engine = create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_use_lifo=True,  # the busiest connections stay warm; the others idle and get pinged
        hide_parameters=True,
        isolation_level="READ COMMITTED",
    )
    event.listen(engine.sync_engine.pool, "checkin", _note_idle)

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        """Ping a pooled connection idle for ``PING_AFTER_IDLE`` or longer before lending it.

        A connection the server dropped meanwhile (a restart, an idle timeout) is then
        replaced, with every pooled connection older than it, before anyone uses it. A
        connection in steady use is not pinged: a ping on every checkout (``pool_pre_ping``)
        cost a round trip per transaction, about 5 ms of a bot turn's latency. The price:
        after a restart, one statement on a connection used within the last second fails as
        unavailable; the workers retry it, a console request or ``/healthz`` answers 503 once.
        """
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
            return
        try:
            dbapi_connection.ping()
        except engine.dialect.loaded_dbapi.Error as exc:
            if not engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise
            raise InvalidatePoolError("the server dropped an idle connection") from exc

    event.listen(engine.sync_engine.pool, "checkout", ping_if_idle)
    return engine


def create_worker_engine(database_url: str, engine: AsyncEngine) -> AsyncEngine:
    """The background workers' engine: for SQLite an inline one, otherwise ``engine``.

    The console keeps ``engine``: its reports may read for a while, on a thread.
    """
    if make_url(database_url).get_backend_name() != "sqlite":
        return engine
    return create_engine(database_url, inline=True)


def _note_idle(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info["idle_since"] = time.monotonic()


def session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
