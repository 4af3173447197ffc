"""Recording members' messages: the first thing a webhook does, in one transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import InboundMessage, only_stickers
from bot.db.models import Conversation, DispatchJob, Message
from bot.ops import ledger
from bot.ops.sql import insert_ignore


@dataclass(frozen=True)
class Recorded:
    """The outcome of recording one inbound message."""

    conversation_id: int
    message_id: int | None  # None when the platform message id was already stored
    duplicate: bool


async def get_or_create_conversation(
    session: AsyncSession, channel: str, page_id: str, user_id: str, now: dt.datetime
) -> Conversation:
    """The member's conversation on this page, created on first contact (race-safe).

    Looked up first: a member who wrote before (most messages) costs one query, not two.
    """
    key = {"channel": channel, "page_id": page_id, "user_id": user_id}
    query = select(Conversation).filter_by(**key)
    found = (await session.execute(query)).scalar_one_or_none()
    if found is not None:
        return found
    values = {**key, "mode": "bot", "mode_changed_at": now, "created_at": now}
    await insert_ignore(session, Conversation, values, list(key))
    return (await session.execute(query)).scalar_one()


async def do_record_inbound(
    session: AsyncSession, inbound: InboundMessage, *, now: dt.datetime, reply_target: dt.timedelta
) -> Recorded:
    """Store the message, queue it for the dispatcher and open or extend the member's question.

    A message whose (channel, platform message id) is already stored changes nothing.
    """
    conversation = await get_or_create_conversation(
        session, inbound.channel, inbound.page_id, inbound.user_id, now
    )
    data: dict[str, object] = {}
    if inbound.payload:
        data["payload"] = inbound.payload
    if inbound.attachments:
        data["attachments"] = list(inbound.attachments)
    message_id = await insert_ignore(
        session,
        Message,
        {
            "conversation_id": conversation.id,
            "channel": inbound.channel,
            "direction": "in",
            "author": "member",
            "kind": "text",
            "text": inbound.text,
            "data": data,
            "platform_message_id": inbound.platform_message_id,
            "platform_ts": inbound.platform_ts,
            "created_at": now,
        },
        ["channel", "platform_message_id"],
    )
    if message_id is None:
        return Recorded(conversation.id, None, duplicate=True)
    conversation.last_member_message_at = inbound.platform_ts or now
    session.add(
        DispatchJob(
            conversation_id=conversation.id,
            message_id=message_id,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    if not is_sticker_only(inbound):
        await ledger.do_note_member_message(session, conversation, message_id, now, reply_target)
    return Recorded(conversation.id, message_id, duplicate=False)


def is_sticker_only(inbound: InboundMessage) -> bool:
    """A sticker (a thumbs-up, a smile) with no words asks nothing: no question, no reply."""
    return not inbound.text.strip() and not inbound.payload and only_stickers(inbound.attachments)
