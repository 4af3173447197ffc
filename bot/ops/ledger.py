"""The reply ledger: every member question, its deadline, and the reply that answered it.

A question opens with a member's first unanswered message and is due ``reply_target`` later.
Further messages before a reply extend the same question. It is answered by the first
substantive reply (a bot FAQ answer or a staff reply); holding messages do not count.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Conversation, FaqEntry, Message, Question

SUBSTANTIVE_BOT_KINDS = frozenset({"answer"})
NOT_A_QUESTION_KINDS = frozenset({"chitchat", "out_of_scope"})


async def open_question(session: AsyncSession, conversation_id: int) -> Question | None:
    """The conversation's open question, if any."""
    found = await session.execute(
        select(Question)
        .where(Question.conversation_id == conversation_id, Question.status == "open")
        .order_by(Question.id.desc())
        .limit(1)
    )
    return found.scalar_one_or_none()


async def do_note_member_message(
    session: AsyncSession,
    conversation: Conversation,
    message_id: int,
    now: dt.datetime,
    reply_target: dt.timedelta,
) -> Question:
    """Open a question for this message, or extend the one already open."""
    question = await open_question(session, conversation.id)
    if question is not None:
        question.last_message_id = message_id
        return question
    question = Question(
        conversation_id=conversation.id,
        channel=conversation.channel,
        page_id=conversation.page_id,
        status="open",
        first_message_id=message_id,
        last_message_id=message_id,
        opened_at=now,
        due_at=now + reply_target,
    )
    session.add(question)
    await session.flush()
    return question


async def do_note_escalation(
    session: AsyncSession, conversation_id: int, now: dt.datetime
) -> None:
    """Mark the open question as waiting for staff."""
    question = await open_question(session, conversation_id)
    if question is not None and question.escalated_at is None:
        question.escalated_at = now


async def do_note_reply_sent(session: AsyncSession, reply: Message, now: dt.datetime) -> None:
    """Answer or dismiss the open question when a reply has reached the member."""
    question = await open_question(session, reply.conversation_id)
    if question is None:
        return
    substantive = reply.author == "staff" or (
        reply.author == "bot" and reply.kind in SUBSTANTIVE_BOT_KINDS
    )
    if substantive:
        data = reply.data or {}
        question.status = "answered"
        question.answered_at = now
        question.answered_by = reply.author
        question.answer_message_id = reply.id
        question.faq_slug = data.get("faq")
        question.met_deadline = now <= question.due_at
        if reply.author == "staff":
            question.staff_id = str(data.get("staff_id") or data.get("source") or "unknown")
        if question.faq_slug:
            entry = await session.get(FaqEntry, question.faq_slug)
            question.category = entry.category if entry else None
        return
    replied_to = (reply.data or {}).get("in_reply_to")
    if (
        reply.kind in NOT_A_QUESTION_KINDS
        and question.escalated_at is None
        and replied_to is not None
        and replied_to >= question.last_message_id
    ):
        question.status = "dismissed"


async def do_note_topic(session: AsyncSession, conversation_id: int, topic: str) -> None:
    """Keep the bot's guess of what the open question is about (shown in the staff queue)."""
    question = await open_question(session, conversation_id)
    if question is not None:
        question.topic_guess = topic
