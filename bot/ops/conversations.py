"""Conversation modes: ``bot`` -> ``waiting_staff`` (escalated) -> ``staff`` -> ``bot``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Conversation
from bot.ops import ledger

MODES = ("bot", "waiting_staff", "staff")


async def do_escalate(session: AsyncSession, conversation_id: int, now: dt.datetime) -> bool:
    """Hand the conversation to staff; the bot stays silent. False if it was not in bot mode."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or conversation.mode != "bot":
        return False
    conversation.mode = "waiting_staff"
    conversation.mode_changed_at = now
    await ledger.do_note_escalation(session, conversation_id, now)
    return True
