"""Portable SQL helpers for SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased


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
    ``lease_until``. The conditional UPDATE makes the claim safe between processes: when two
    workers race for one row, only one UPDATE matches. Items of one conversation are handled
    strictly in id order, one at a time.
    """
    earlier = aliased(model)
    free = or_(model.lease_until.is_(None), model.lease_until < now)
    candidates = (
        select(model.id)
        .where(model.status == "pending", model.next_attempt_at <= now, free)
        .where(
            ~exists().where(
                earlier.conversation_id == model.conversation_id,
                earlier.status == "pending",
                earlier.id < model.id,
            )
        )
        .order_by(model.id)
        .limit(8)
    )
    for item_id in (await session.execute(candidates)).scalars().all():
        claimed = await session.execute(
            update(model)
            .where(model.id == item_id, model.status == "pending", free)
            .values(lease_owner=worker, lease_until=now + lease)
        )
        if claimed.rowcount == 1:
            return item_id
    return None


async def finish_leased(
    session: AsyncSession, model: Any, item_id: int, worker: str, values: dict[str, Any]
) -> bool:
    """Update a leased item only if ``worker`` still holds its lease; False if it was lost."""
    result = await session.execute(
        update(model)
        .where(model.id == item_id, model.lease_owner == worker, model.status == "pending")
        .values(lease_owner=None, lease_until=None, **values)
    )
    return result.rowcount == 1


def failed_attempt(attempts: int, reason: str, retry_at: dt.datetime | None) -> dict[str, Any]:
    """The columns of a delivery that failed: retried at ``retry_at``, or failed for good."""
    values: dict[str, Any] = {"attempts": attempts + 1, "last_error": reason[:2000]}
    if retry_at is None:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = retry_at
    return values
