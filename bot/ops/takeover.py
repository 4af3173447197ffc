"""Staff taking a conversation over, answering in it, handing it back and closing it.

Taking is a conditional update on a free conversation, so two staff members never both hold
one. Only the holder (or an admin) may reply, hand back or close.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Conversation, Message, StaffUser
from bot.ops.outbox import Reply, do_enqueue_reply


async def do_take(
    session: AsyncSession, conversation_id: int, user: StaffUser, now: dt.datetime
) -> bool:
    """Hold the conversation (staff mode: the bot is silent); False if someone else holds it."""
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .where((Conversation.holder_id.is_(None)) | (Conversation.holder_id == user.id))
        .values(holder_id=user.id, held_at=now, mode="staff", mode_changed_at=now)
    )
    return result.rowcount == 1


def may_act(conversation: Conversation, user: StaffUser) -> bool:
    """Whether the user holds the conversation (admins may act on any they can see)."""
    return conversation.holder_id == user.id or user.role == "admin"


async def do_reply(
    session: AsyncSession, conversation: Conversation, user: StaffUser, text: str, now: dt.datetime
) -> list[Message]:
    """Queue a staff reply; it answers the member's open question once it is sent."""
    data = {"staff_id": user.username, "staff_name": user.display_name}
    return await do_enqueue_reply(
        session, conversation, Reply("staff", "text", text, data=data), now
    )


async def do_hand_back(
    session: AsyncSession, conversation: Conversation, now: dt.datetime
) -> None:
    """Give the conversation back to the bot: it answers the member's next message."""
    conversation.mode = "bot"
    conversation.mode_changed_at = now
    conversation.holder_id = None
    conversation.held_at = None
