"""Webhook deliveries stored as received: taken in arrival order, expanded, deleted at once.

A delivery is written by ``bot.db.group_insert`` before the platform gets its 200, and
``bot.workers.deliveries`` expands it into messages and events in the same transaction that
deletes it, so a crash in between leaves it to be expanded again, never lost or doubled.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningDelete

from bot.db.models import ReceiveLogCursor, WebhookDelivery
from bot.ops import erasures

# Any fixed number: on PostgreSQL one gateway at a time expands, so messages keep arrival order.
EXPANSION_LOCK = 720_25

TABLE = WebhookDelivery.__table__


@dataclass(frozen=True)
class Taken:
    """A delivery taken for expansion (already deleted in the open transaction)."""

    id: int
    channel: str
    body: bytes
    received_at: dt.datetime
    attempts: int
    # the newest erasure, read after taking the expansion lock (``bot.ops.erasures``)
    latest_erasure: dt.datetime | None = None

    def may_hold_erased(self) -> bool:
        """Whether a member was erased since this delivery arrived."""
        return self.latest_erasure is not None and self.latest_erasure >= self.received_at


def received(channel: str, body: bytes, now: dt.datetime) -> dict[str, Any]:
    """The row that stores a delivery as it arrived."""
    return {
        "channel": channel,
        "body": body,
        "received_at": now,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
    }


async def lock_expansion(session: AsyncSession) -> None:
    """Wait until no other process is expanding; released when the transaction ends.

    PostgreSQL: an advisory lock. SQLite: its write lock, taken now by an update that changes
    nothing (so that what the transaction reads cannot change before it writes).
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_ADVISORY_LOCK, {"key": EXPANSION_LOCK})
    else:
        await session.execute(_TAKE_WRITE_LOCK)


async def take_due(
    session: AsyncSession, now: dt.datetime, limit: int, only_id: int | None = None
) -> list[Taken]:
    """Delete and return up to ``limit`` due deliveries (or just ``only_id``), oldest first."""
    taken = await session.execute(
        _take(only_id is not None), {"b_now": now, "b_limit": limit, "b_id": only_id}
    )
    return sorted((Taken(*row) for row in taken), key=lambda t: t.id)


async def any_due(session: AsyncSession, now: dt.datetime) -> bool:
    """Whether a delivery in the table is due, looked up without taking any lock."""
    return (await session.execute(_ANY_DUE, {"b_now": now})).first() is not None


async def do_defer(
    session: AsyncSession, delivery: Taken, error: str, retry_at: dt.datetime
) -> None:
    """Keep a delivery that failed to expand, with its error, for another try at ``retry_at``."""
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id)
        .values(attempts=delivery.attempts + 1, last_error=error[:2000], next_attempt_at=retry_at)
    )


async def any_received_before(session: AsyncSession, cutoff: dt.datetime) -> bool:
    """Whether a delivery received before ``cutoff`` is still in the table, without a lock."""
    found = select(TABLE.c.id).where(TABLE.c.received_at < cutoff).limit(1)
    return (await session.execute(found)).first() is not None


async def count_received_before(session: AsyncSession, cutoff: dt.datetime) -> int:
    """How many deliveries received before ``cutoff`` are still in the table."""
    found = select(func.count()).select_from(TABLE).where(TABLE.c.received_at < cutoff)
    return (await session.execute(found)).scalar_one()


async def do_drop_received_before(session: AsyncSession, cutoff: dt.datetime) -> int:
    """Delete the deliveries received before ``cutoff`` and still not expanded; how many.

    For the retention period: such a delivery has failed to expand ever since (a bug, kept
    for another try) or waited behind a backlog that long, and holds a member's words.
    """
    dropped = await session.execute(delete(TABLE).where(TABLE.c.received_at < cutoff))
    return int(dropped.rowcount or 0)


async def lock_log_cursor(session: AsyncSession, log_id: str) -> tuple[int, dt.datetime | None]:
    """``lock_expansion`` for SQLite's receive log, its cursor and the newest erasure.

    The cursor is the id of the last row of receive log ``log_id`` that is expanded (0: none
    yet). The update changes nothing; like ``lock_expansion`` it takes the write lock, also
    when the cursor has no row yet, and so reads the erasures committed before it.
    """
    found = (await session.execute(_LOCK_CURSOR, {"b_log": log_id})).first()
    if found is None:  # the log's first expansion
        return 0, (await session.execute(select(erasures.LATEST))).scalar_one()
    return found[0], found[1]


async def log_cursor(session: AsyncSession, log_id: str) -> int:
    """The receive log's cursor, read without a lock (0: nothing expanded yet)."""
    found = select(_CURSORS.c.last_id).where(_CURSORS.c.log_id == log_id)
    return (await session.execute(found)).scalar_one_or_none() or 0


async def waiting_after(
    session: AsyncSession, after: int, limit: int
) -> list[tuple[int, str, bytes, dt.datetime]]:
    """Up to ``limit`` deliveries in the table after id ``after``: id, channel, body, time."""
    column = TABLE.c
    found = (
        select(column.id, column.channel, column.body, column.received_at)
        .where(column.id > after)
        .order_by(column.id)
        .limit(limit)
    )
    return [(id_, channel, body, at) for id_, channel, body, at in await session.execute(found)]


async def do_advance_log(session: AsyncSession, log_id: str, last_id: int) -> None:
    """Mark the receive log's rows up to ``last_id`` as expanded."""
    postgres = session.get_bind().dialect.name == "postgresql"
    await session.execute(_advance(postgres), {"log_id": log_id, "last_id": last_id})


async def do_keep(
    session: AsyncSession, delivery: Taken, error: str, retry_at: dt.datetime
) -> None:
    """Keep a receive log row that failed to expand in ``webhook_deliveries``, to try again."""
    row = received(delivery.channel, delivery.body, delivery.received_at)
    row.update(attempts=delivery.attempts + 1, last_error=error[:2000], next_attempt_at=retry_at)
    await session.execute(insert(TABLE), row)


# Built once: statement construction costs more CPU than running these small statements.
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_CURSORS = ReceiveLogCursor.__table__
_TAKE_WRITE_LOCK = update(_CURSORS).where(_CURSORS.c.log_id == "").values(last_id=0)
_ANY_DUE = select(TABLE.c.id).where(TABLE.c.next_attempt_at <= bindparam("b_now")).limit(1)
_LOCK_CURSOR = (
    update(_CURSORS)
    .where(_CURSORS.c.log_id == bindparam("b_log"))
    .values(last_id=_CURSORS.c.last_id)
    .returning(_CURSORS.c.last_id, erasures.LATEST)
)


@functools.cache
def _take(
    one: bool,
) -> ReturningDelete[tuple[int, str, bytes, dt.datetime, int, dt.datetime | None]]:
    column = TABLE.c
    due = select(column.id).where(column.next_attempt_at <= bindparam("b_now"))
    if one:
        due = due.where(column.id == bindparam("b_id"))
    due = due.order_by(column.id).limit(bindparam("b_limit"))
    taken = (column.id, column.channel, column.body, column.received_at, column.attempts)
    # read after ``lock_expansion``: PostgreSQL's statement snapshot sees a committed erasure
    return delete(TABLE).where(column.id.in_(due)).returning(*taken, erasures.LATEST)


@functools.cache
def _advance(postgres: bool) -> Insert:
    dialect_insert = postgresql.insert if postgres else sqlite.insert
    upsert = dialect_insert(_CURSORS)
    return upsert.on_conflict_do_update(
        index_elements=["log_id"], set_={"last_id": upsert.excluded.last_id}
    )
