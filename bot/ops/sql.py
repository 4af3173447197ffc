"""Portable SQL helpers for SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    FromClause,
    Select,
    Table,
    Update,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Conversation, Message

# Written into the SQL, not bound: partial indexes on pending rows apply only then (SQLite
# matches an index's WHERE against the query's text, PostgreSQL's generic plans likewise).
PENDING = literal_column("'pending'")


async def insert_ignore(
    session: AsyncSession, model: Any, values: dict[str, Any], conflict: list[str]
) -> int | None:
    """Insert a row unless it conflicts on ``conflict``; return its id, or None if it existed.

    For a model without an ``id`` column the result is always None.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(model).values(**values).on_conflict_do_nothing(index_elements=conflict)
    if not hasattr(model, "id"):
        await session.execute(stmt)
        return None
    return (await session.execute(stmt.returning(model.id))).scalar_one_or_none()


async def claim_head_of_line(
    session: AsyncSession, model: Any, worker: str, now: dt.datetime, lease: dt.timedelta
) -> int | None:
    """Lease the oldest due item of any conversation whose earlier items are all finished.

    ``model`` has ``conversation_id``, ``status``, ``next_attempt_at``, ``lease_owner`` and
    ``lease_until``. One conditional UPDATE makes the claim safe between processes: when two
    workers race for one row, only one UPDATE matches (the other finds nothing this time).
    Items of one conversation are handled strictly in id order, one at a time.

    Each conversation's first pending item is found without comparing pending items with each
    other, so the cost grows with the pending items, whatever the planner's statistics say
    (with a burst that stale statistics did not foresee, PostgreSQL once compared every pending
    item with every other: 260 ms per claim with 1,600 waiting).
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    claimed = await session.execute(
        _claim(model.__table__, postgres), {"now": now, "worker": worker, "until": now + lease}
    )
    return claimed.scalar_one_or_none()


async def claim_with_context(
    session: AsyncSession, model: Any, worker: str, now: dt.datetime, lease: dt.timedelta
) -> tuple[Any, Message, Conversation] | None:
    """Claim as ``claim_head_of_line``; the item with its message and conversation.

    ``model`` also has ``message_id``. Two statements: the claim, then one joined query.
    """
    item_id = await claim_head_of_line(session, model, worker, now, lease)
    if item_id is None:
        return None
    row = (await session.execute(_with_context(model), {"item": item_id})).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


# The statements below are built once: building and keying them again for every claim cost
# more CPU than running them. Parameters are named unlike any column: a parameter named after
# one would be SET as well.


@functools.cache
def _claim(table: Table, postgres: bool) -> Update:
    """The claim's UPDATE; parameters ``now``, ``worker`` and ``until``."""
    now = bindparam("now", type_=table.c.lease_until.type)
    chosen = (_next_item_postgresql if postgres else _next_item)(table, now)
    return (
        update(table)
        .where(table.c.id == chosen.scalar_subquery(), table.c.status == PENDING)
        .where(_free(table, now))
        .values(
            lease_owner=bindparam("worker", type_=table.c.lease_owner.type),
            lease_until=bindparam("until", type_=table.c.lease_until.type),
        )
        .returning(table.c.id)
    )


def _next_item(table: Table, now: BindParameter[dt.datetime]) -> Select[tuple[int]]:
    """The oldest due, free item that is its conversation's first pending one (SQLite).

    Each conversation's first pending id is grouped from the pending rows, then joined back:
    several times faster on SQLite than numbering the rows as ``_next_item_postgresql`` does.
    """
    first = (
        select(func.min(table.c.id).label("id"))
        .where(table.c.status == PENDING)
        .group_by(table.c.conversation_id)
        .subquery()
    )
    item = table.alias()
    return (
        select(item.c.id)
        .join(first, first.c.id == item.c.id)
        .where(item.c.next_attempt_at <= now, _free(item, now))
        .order_by(item.c.id)
        .limit(1)
    )


def _next_item_postgresql(table: Table, now: BindParameter[dt.datetime]) -> Select[tuple[int]]:
    """The same as ``_next_item``, numbering each conversation's pending rows in one pass.

    No join: with stale statistics PostgreSQL may join ``_next_item``'s two halves by nested
    loops, over rows it believes to be few; a single pass leaves it nothing to misjudge.
    """
    ranked = (
        select(
            table.c.id,
            table.c.next_attempt_at,
            table.c.lease_until,
            func.row_number()
            .over(partition_by=table.c.conversation_id, order_by=table.c.id)
            .label("place"),
        )
        .where(table.c.status == PENDING)
        .subquery()
    )
    return (
        select(ranked.c.id)
        .where(ranked.c.place == 1, ranked.c.next_attempt_at <= now, _free(ranked, now))
        .order_by(ranked.c.id)
        .limit(1)
    )


def _free(rows: FromClause, now: BindParameter[dt.datetime]) -> ColumnElement[bool]:
    """Rows nobody holds a lease on."""
    return or_(rows.c.lease_until.is_(None), rows.c.lease_until < now)


@functools.cache
def _with_context(model: Any) -> Select[tuple[Any, Message, Conversation]]:
    """An item with its message and conversation, in one query; parameter ``item``."""
    return (
        select(model, Message, Conversation)
        .join(Message, Message.id == model.message_id)
        .join(Conversation, Conversation.id == model.conversation_id)
        .where(model.id == bindparam("item"))
    )


async def finish_leased(
    session: AsyncSession, model: Any, item_id: int, worker: str, values: dict[str, Any]
) -> bool:
    """Update a leased item only if ``worker`` still holds its lease; False if it was lost."""
    parameters = {f"new_{name}": value for name, value in values.items()}
    result = await session.execute(
        _finish(model, tuple(values)), {"item": item_id, "worker": worker, **parameters}
    )
    return result.rowcount == 1


@functools.cache
def _finish(model: Any, columns: tuple[str, ...]) -> Update:
    """``finish_leased``'s UPDATE of ``columns``: parameters ``item``, ``worker``, ``new_*``.

    On the table, not the mapped class: an ORM-enabled UPDATE's cache key is built again at
    every execution (``bot.ops.ledger``).
    """
    table = model.__table__
    new = {name: bindparam(f"new_{name}") for name in columns}
    return (
        update(table)
        .where(table.c.id == bindparam("item"), table.c.lease_owner == bindparam("worker"))
        .where(table.c.status == "pending")
        .values(lease_owner=None, lease_until=None, **new)
    )


def failed_attempt(attempts: int, reason: str, retry_at: dt.datetime | None) -> dict[str, Any]:
    """The columns of a delivery that failed: retried at ``retry_at``, or failed for good."""
    values: dict[str, Any] = {"attempts": attempts + 1, "last_error": reason[:2000]}
    if retry_at is None:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = retry_at
    return values
