"""Replies: written before they are sent, then sent in order per conversation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Exists, bindparam, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.limits import text_limit
from bot.db.models import Conversation, Message, OutboxItem
from bot.lib.text_split import split_text
from bot.ops import conversations, ledger
from bot.ops.sql import PENDING, failed_attempt, finish_leased


@dataclass(frozen=True)
class Reply:
    """A reply to store and send: who wrote it, what kind it is, text and quick replies."""

    author: str  # bot | staff | system
    kind: str  # answer | clarify | handoff | chitchat | out_of_scope | text | holding
    text: str
    quick_replies: tuple[dict[str, str], ...] = field(default=())
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Queued:
    """A stored reply message and its outbox item."""

    message: Message
    item: OutboxItem


async def do_enqueue_reply(
    session: AsyncSession, conversation: Conversation, reply: Reply, now: dt.datetime
) -> list[Message]:
    """Store the reply and put it in the outbox, as ``do_queue_reply``; its messages."""
    return [queued.message for queued in await do_queue_reply(session, conversation, reply, now)]


async def do_queue_reply(
    session: AsyncSession,
    conversation: Conversation,
    reply: Reply,
    now: dt.datetime,
    lease: tuple[str, dt.datetime] | None = None,
) -> list[Queued]:
    """Store the reply as messages and put them in the outbox, in order.

    A text longer than the channel accepts becomes several messages (cut at paragraphs, then
    sentences); quick replies go with the last one. ``lease``: (worker, until) for a caller
    that sends them itself, which keeps the order only if no earlier reply of the conversation
    is still to be sent.
    """
    owner, until = lease or (None, None)
    parts = split_text(reply.text, text_limit(conversation.channel)) or [""]
    queued = []
    for number, text in enumerate(parts, start=1):
        data = dict(reply.data)
        if reply.quick_replies and number == len(parts):
            data["quick_replies"] = [dict(q) for q in reply.quick_replies]
        if len(parts) > 1:
            data["part"] = [number, len(parts)]
        message = {
            "conversation_id": conversation.id,
            "channel": conversation.channel,
            "direction": "out",
            "author": reply.author,
            "kind": reply.kind,
            "text": text,
            "data": data,
            "platform_message_id": None,
            "platform_ts": None,
            "created_at": now,
        }
        message["id"] = (await session.execute(_INSERT_MESSAGE, message)).scalar_one()
        item = {
            "conversation_id": conversation.id,
            "message_id": message["id"],
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "lease_owner": owner,
            "lease_until": until,
            "last_error": None,
            "created_at": now,
            "sent_at": None,
            "platform_message_id": None,
        }
        item["id"] = (await session.execute(_INSERT_ITEM, item)).scalar_one()
        # Not added to the session: the rows are written, these only carry them to the sender.
        queued.append(Queued(Message(**message), OutboxItem(**item)))
    return queued


def waiting(conversation_id: Any) -> Exists:
    """SQL: whether a reply of the conversation (an id or a column) is still to be sent."""
    return exists().where(
        OutboxItem.conversation_id == conversation_id, OutboxItem.status == PENDING
    )


async def has_waiting(session: AsyncSession, conversation_id: int) -> bool:
    """Whether a reply of the conversation is still to be sent."""
    return bool(await session.scalar(_WAITING, {"conversation": conversation_id}))


async def do_mark_sent(
    session: AsyncSession,
    item: OutboxItem,
    worker: str,
    platform_message_id: str,
    now: dt.datetime,
) -> bool:
    """Record a successful send and update the ledger; False if the lease was lost."""
    done = await finish_leased(
        session,
        OutboxItem,
        item.id,
        worker,
        {
            "status": "sent",
            "sent_at": now,
            "platform_message_id": platform_message_id,
            "attempts": item.attempts + 1,
            "last_error": None,
        },
    )
    if done:
        message = (
            await session.execute(
                _SENT_MESSAGE, {"message": item.message_id, "platform_id": platform_message_id}
            )
        ).one_or_none()
        if message is not None:
            await ledger.do_note_reply_sent(session, message, now)
    return done


async def do_release(session: AsyncSession, item_ids: list[int], worker: str) -> None:
    """Give up the lease on items ``worker`` has not sent; the outbox worker sends them."""
    await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.id.in_(item_ids),
            OutboxItem.lease_owner == worker,
            OutboxItem.status == "pending",
        )
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )


async def do_mark_send_failed(
    session: AsyncSession,
    item: OutboxItem,
    worker: str,
    reason: str,
    retry_at: dt.datetime | None,
    now: dt.datetime,
) -> bool:
    """Record a failed send: retried at ``retry_at``, or failed for good when it is None.

    A reply that fails for good keeps its reason on the message and hands the conversation to
    staff, so someone sees that the member did not get it and why.
    """
    values = failed_attempt(item.attempts, reason, retry_at)
    done = await finish_leased(session, OutboxItem, item.id, worker, values)
    if done and retry_at is None:
        message = await session.get(Message, item.message_id)
        if message is not None:
            message.data = {**(message.data or {}), "send_error": reason[:2000]}
        await conversations.do_escalate(session, item.conversation_id, now)
    return done


# Statements built once (as in bot.ops.sql, for the CPU), with parameters named unlike any
# column: a parameter named after one would be SET as well. Replies are inserted with Core
# statements, not ORM objects: a flush per reply cost more than the rest of storing a turn.
_INSERT_MESSAGE = insert(Message.__table__).returning(Message.__table__.c.id)
_INSERT_ITEM = insert(OutboxItem.__table__).returning(OutboxItem.__table__.c.id)
_WAITING = select(waiting(bindparam("conversation")))
_MESSAGES = Message.__table__
_SENT_MESSAGE = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("message"))
    .values(platform_message_id=bindparam("platform_id"))
    .returning(
        _MESSAGES.c.id,
        _MESSAGES.c.conversation_id,
        _MESSAGES.c.author,
        _MESSAGES.c.kind,
        _MESSAGES.c.data,
    )
)
