"""What the platforms tell us about messages the page sent, and members' non-message events."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import MemberEvent, PageEcho
from bot.db.models import Conversation, Message, OutboxItem
from bot.ops import ledger
from bot.ops.inbox import get_or_create_conversation
from bot.ops.sql import PENDING, insert_ignore


async def do_confirm_sent(
    session: AsyncSession, outbox_id: int, platform_message_id: str, now: dt.datetime
) -> bool:
    """The platform echoed our outbox item: record it sent if its own response was lost.

    False when the item was already recorded (the usual case) or is not ours.
    """
    result = await session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == outbox_id, OutboxItem.status == "pending")
        .values(
            status="sent",
            sent_at=now,
            platform_message_id=platform_message_id,
            lease_owner=None,
            lease_until=None,
        )
    )
    if result.rowcount != 1:
        return False
    item = await session.get(OutboxItem, outbox_id)
    message = await session.get(Message, item.message_id) if item else None
    if message is not None:
        message.platform_message_id = platform_message_id
        await ledger.do_note_reply_sent(session, message, now)
    return True


async def is_our_send(session: AsyncSession, echo: PageEcho) -> bool:
    """Whether an echo without our marker is one of our replies (Zalo).

    Either its id is one we recorded for a sent reply, or a reply with the same text is still
    being sent in that conversation (the echo can arrive before the send's response).
    """
    recorded = await session.execute(
        select(Message.id).where(
            Message.channel == echo.channel,
            Message.platform_message_id == echo.platform_message_id,
        )
    )
    if recorded.first() is not None:
        return True
    in_flight = await session.execute(
        select(OutboxItem.id)
        .join(Message, Message.id == OutboxItem.message_id)
        .join(Conversation, Conversation.id == OutboxItem.conversation_id)
        .where(
            Conversation.channel == echo.channel,
            Conversation.page_id == echo.page_id,
            Conversation.user_id == echo.user_id,
            OutboxItem.status == PENDING,
            Message.text == echo.text,
        )
    )
    return in_flight.first() is not None


async def do_record_staff_echo(session: AsyncSession, echo: PageEcho, now: dt.datetime) -> bool:
    """A reply staff typed in the platform's own tool: stored, and staff now hold the chat.

    It answers the member's open question like a console reply. False for a repeated echo.
    """
    conversation = await get_or_create_conversation(
        session, echo.channel, echo.page_id, echo.user_id, now
    )
    data = {"source": "platform_tool"}
    if echo.app_id:
        data["app_id"] = echo.app_id
    if echo.admin_id:
        data["admin_id"] = echo.admin_id
    message_id = await insert_ignore(
        session,
        Message,
        {
            "conversation_id": conversation.id,
            "channel": echo.channel,
            "direction": "out",
            "author": "staff",
            "kind": "text",
            "text": echo.text,
            "data": data,
            "platform_message_id": echo.platform_message_id,
            "platform_ts": echo.platform_ts,
            "created_at": now,
        },
        ["channel", "platform_message_id"],
    )
    if message_id is None:
        return False
    if conversation.mode != "staff":
        conversation.mode = "staff"
        conversation.mode_changed_at = now
    message = await session.get(Message, message_id)
    assert message is not None
    await ledger.do_note_reply_sent(session, message, now)
    return True


async def do_record_member_event(
    session: AsyncSession, event: MemberEvent, now: dt.datetime
) -> bool:
    """Keep a follow or unfollow in the member's history (no reply, no question)."""
    conversation = await get_or_create_conversation(
        session, event.channel, event.page_id, event.user_id, now
    )
    stamp = event.platform_ts.isoformat() if event.platform_ts else now.isoformat()
    message_id = await insert_ignore(
        session,
        Message,
        {
            "conversation_id": conversation.id,
            "channel": event.channel,
            "direction": "in",
            "author": "member",
            "kind": event.kind,
            "text": "",
            "data": {},
            "platform_message_id": f"{event.kind}:{event.user_id}:{stamp}",
            "platform_ts": event.platform_ts,
            "created_at": now,
        },
        ["channel", "platform_message_id"],
    )
    return message_id is not None
