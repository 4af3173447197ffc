"""Notifications of deadline warnings: delivered, or retried and finally given up."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Notification
from bot.ops.sql import failed_attempt, finish_leased


async def do_mark_notified(
    session: AsyncSession, item: Notification, worker: str, now: dt.datetime
) -> bool:
    """Record a delivery; False if the lease was lost."""
    values = {"status": "sent", "sent_at": now, "attempts": item.attempts + 1, "last_error": None}
    return await finish_leased(session, Notification, item.id, worker, values)


async def do_mark_notify_failed(
    session: AsyncSession,
    item: Notification,
    worker: str,
    reason: str,
    retry_at: dt.datetime | None,
) -> bool:
    """Record a failed delivery: retried at ``retry_at``, or failed for good when it is None."""
    values = failed_attempt(item.attempts, reason, retry_at)
    return await finish_leased(session, Notification, item.id, worker, values)
