"""Members' verdicts on bot answers: recorded per FAQ entry; "Chưa đúng" reopens the question."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import FaqFeedback, Message, Question

VERDICTS = ("helpful", "wrong")


async def last_bot_answer(
    session: AsyncSession, conversation_id: int, before_message_id: int
) -> Message | None:
    """The latest FAQ answer the bot sent before the member's message."""
    found = await session.execute(
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.id < before_message_id,
            Message.author == "bot",
            Message.kind == "answer",
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    return found.scalar_one_or_none()


async def do_record_feedback(
    session: AsyncSession,
    conversation_id: int,
    member_message_id: int,
    verdict: str,
    now: dt.datetime,
) -> FaqFeedback | None:
    """Record the verdict against the answer it is about; None if there was no bot answer.

    "wrong" reopens the question that answer had closed, keeping its original deadline, and
    drops the question that the verdict message itself opened (it is not a new question). The
    caller escalates the conversation afterwards.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    answer = await last_bot_answer(session, conversation_id, member_message_id)
    slug = (answer.data or {}).get("faq") if answer else None
    if answer is None or not slug:
        return None
    feedback = FaqFeedback(
        faq_slug=slug,
        verdict=verdict,
        conversation_id=conversation_id,
        answer_message_id=answer.id,
        member_message_id=member_message_id,
        created_at=now,
    )
    session.add(feedback)
    if verdict == "wrong":
        await _reopen(session, answer.id, member_message_id, now)
    return feedback


async def _reopen(
    session: AsyncSession, answer_message_id: int, member_message_id: int, now: dt.datetime
) -> None:
    answered = (
        await session.execute(select(Question).filter_by(answer_message_id=answer_message_id))
    ).scalar_one_or_none()
    if answered is None:
        return
    await session.execute(
        delete(Question).where(
            Question.first_message_id == member_message_id,
            Question.status == "open",
            Question.id != answered.id,
        )
    )
    answered.status = "open"
    answered.answered_at = None
    answered.answered_by = None
    answered.answer_message_id = None
    answered.met_deadline = None
    answered.category = None
    answered.last_message_id = member_message_id
    answered.escalated_at = now
    answered.reopened_at = now
    answered.reopen_count += 1
