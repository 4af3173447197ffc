"""An erasure also reaches the member's deliveries that are acknowledged but not expanded yet.

The webhook stores a delivery as it arrived and ``bot.workers.deliveries`` expands it a moment
later, or much later for one kept after a failed expansion. Erasing a member (``make member
ARGS="erase …"``) records an ``Erasure``, then anonymises what is expanded; the expander drops
the member's events from every delivery received before the record. The record holds a salted
SHA-256 of the member's channel, page and user id, never the id, and is deleted once no
delivery received before it waits.

The erasure and expansion exclude each other (``deliveries.lock_expansion``): an expansion
either committed before the erasure, which then anonymises what it stored, or reads the record
after the erasure committed (``deliveries.take_due``, ``deliveries.lock_log_cursor``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Sequence

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.channels.base import InboundMessage, MemberEvent, PageEcho, WebhookEvent
from bot.db.models import Erasure, WebhookDelivery

SALT_BYTES = 16
# A delivery stamped before an erasure is committed well within this (its commit times out
# after seconds); only then can the expander's idle moment vouch that it is expanded.
KEEP_AT_LEAST = dt.timedelta(minutes=1)

ERASURES = Erasure.__table__
LATEST = select(func.max(ERASURES.c.erased_at)).scalar_subquery()  # in the expander's reads

Salted = tuple[bytes, bytes]  # (salt, digest)


def digest(salt: bytes, channel: str, page_id: str, user_id: str) -> bytes:
    """The salted hash of a member's identity on a page."""
    return hashlib.sha256(salt + "\0".join((channel, page_id, user_id)).encode()).digest()


async def do_record(
    session: AsyncSession, channel: str, page_id: str, user_id: str, now: dt.datetime
) -> None:
    """Record that the member is erased as of ``now``; call under ``lock_expansion``."""
    salt = os.urandom(SALT_BYTES)
    await session.execute(
        insert(ERASURES),
        {"salt": salt, "digest": digest(salt, channel, page_id, user_id), "erased_at": now},
    )


async def since(session: AsyncSession, received_at: dt.datetime) -> list[Salted]:
    """The erasures a delivery received at ``received_at`` must respect."""
    rows = await session.execute(
        select(ERASURES.c.salt, ERASURES.c.digest).where(ERASURES.c.erased_at >= received_at)
    )
    return [(salt, hashed) for salt, hashed in rows]


def without_erased(events: Sequence[WebhookEvent], erased: list[Salted]) -> list[WebhookEvent]:
    """``events`` less those from, to or about an erased member."""

    def of_erased(event: WebhookEvent) -> bool:
        if not isinstance(event, InboundMessage | PageEcho | MemberEvent):
            return False
        return any(
            digest(salt, event.channel, event.page_id, event.user_id) == hashed
            for salt, hashed in erased
        )

    return [event for event in events if not of_erased(event)]


def _needed_by_none(now: dt.datetime) -> ColumnElement[bool]:
    """Older than ``KEEP_AT_LEAST`` and than every delivery still in ``webhook_deliveries``."""
    oldest = select(func.min(WebhookDelivery.received_at)).scalar_subquery()
    column = ERASURES.c.erased_at
    return (column < now - KEEP_AT_LEAST) & or_(oldest.is_(None), column < oldest)


async def any_needed_by_none(session: AsyncSession, now: dt.datetime) -> bool:
    """Whether ``do_forget_needed_by_none`` has anything to delete, looked up without a lock."""
    found = select(ERASURES.c.id).where(_needed_by_none(now)).limit(1)
    return (await session.execute(found)).first() is not None


async def do_forget_needed_by_none(session: AsyncSession, now: dt.datetime) -> int:
    """Delete the erasures no waiting delivery needs any more; how many.

    Call only when SQLite's receive log is expanded up to its newest row: the log is another
    file, out of this statement's sight.
    """
    deleted = await session.execute(delete(ERASURES).where(_needed_by_none(now)))
    return int(deleted.rowcount or 0)
