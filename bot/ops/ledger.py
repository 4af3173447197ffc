"""The reply ledger: every member question, its deadline, and the reply that answered it.

A question opens with a member's first unanswered message and is due ``reply_target`` later.
Further messages before a reply extend the same question. It is answered by the first
substantive reply (a bot FAQ answer or a staff reply); holding messages do not count.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any, Protocol

from sqlalchemy import BindParameter, ScalarSelect, Update, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import InboundMessage
from bot.db.models import FaqEntry, Question

SUBSTANTIVE_BOT_KINDS = frozenset({"answer"})
NOT_A_QUESTION_KINDS = frozenset({"chitchat", "out_of_scope"})


class SentReply(Protocol):
    """What the ledger reads of a sent reply: a ``Message``, or a row with its columns."""

    id: int
    conversation_id: int
    author: str
    kind: str
    data: dict[str, Any] | None


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
    inbound: InboundMessage,
    conversation_id: int,
    message_id: int,
    now: dt.datetime,
    reply_target: dt.timedelta,
) -> None:
    """Extend the conversation's open question to this message, or open one for it.

    One UPDATE when a question is open (a member writing again before the reply), otherwise
    one INSERT more.
    """
    extended = await session.execute(
        _extend(), {"conversation": conversation_id, "message": message_id}
    )
    if extended.rowcount:
        return
    await session.execute(
        _OPEN_QUESTION,
        {
            "conversation_id": conversation_id,
            "channel": inbound.channel,
            "page_id": inbound.page_id,
            "status": "open",
            "first_message_id": message_id,
            "last_message_id": message_id,
            "opened_at": now,
            "due_at": now + reply_target,
        },
    )


async def do_note_escalation(
    session: AsyncSession, conversation_id: int, now: dt.datetime
) -> None:
    """Mark the open question as waiting for staff."""
    question = await open_question(session, conversation_id)
    if question is not None and question.escalated_at is None:
        question.escalated_at = now


async def do_note_reply_sent(session: AsyncSession, reply: SentReply, now: dt.datetime) -> None:
    """Answer or dismiss the open question when a reply has reached the member.

    One UPDATE of the open question, if the reply can change it.
    """
    data = reply.data or {}
    substantive = reply.author == "staff" or (
        reply.author == "bot" and reply.kind in SUBSTANTIVE_BOT_KINDS
    )
    if substantive:
        slug = data.get("faq")
        by_staff = reply.author == "staff"
        values = {
            "conversation": reply.conversation_id,
            "now": now,
            "author": reply.author,
            "message": reply.id,
            "slug": slug,
        }
        if by_staff:
            values["staff"] = str(data.get("staff_id") or data.get("source") or "unknown")
        await session.execute(_answer(by_staff, bool(slug)), values)
        return
    replied_to = data.get("in_reply_to")
    if reply.kind in NOT_A_QUESTION_KINDS and replied_to is not None:
        await session.execute(
            _dismiss(), {"conversation": reply.conversation_id, "replied_to": replied_to}
        )


# The UPDATEs of do_note_member_message and do_note_reply_sent, built once (as bot.ops.sql's
# claim, for the CPU), on the tables rather than the mapped classes: SQLAlchemy builds an
# ORM-enabled statement's cache key again at every execution, which cost more than the rest
# of running it. Parameters are named unlike any column: one named after a column would be
# SET as well.
_QUESTIONS = Question.__table__


@functools.cache
def _answer(by_staff: bool, with_faq: bool) -> Update:
    """Mark the open question answered; with the staff member and the FAQ entry's category."""
    values: dict[str, Any] = {
        "status": "answered",
        "answered_at": bindparam("now"),
        "answered_by": bindparam("author"),
        "answer_message_id": bindparam("message"),
        "faq_slug": bindparam("slug"),
        "met_deadline": _QUESTIONS.c.due_at >= bindparam("now"),
    }
    if by_staff:
        values["staff_id"] = bindparam("staff")
    if with_faq:
        faq = FaqEntry.__table__
        category = select(faq.c.category).where(faq.c.slug == bindparam("slug"))
        values["category"] = category.scalar_subquery()
    return (
        update(_QUESTIONS)
        .where(_QUESTIONS.c.id == _open_question_id(bindparam("conversation")))
        .values(values)
    )


_OPEN_QUESTION = insert(Question.__table__)


@functools.cache
def _extend() -> Update:
    """Extend the open question to the member's newest message."""
    return (
        update(_QUESTIONS)
        .where(_QUESTIONS.c.id == _open_question_id(bindparam("conversation")))
        .values(last_message_id=bindparam("message"))
    )


@functools.cache
def _dismiss() -> Update:
    """Dismiss the open question, unless staff were asked or the member wrote again since."""
    return (
        update(_QUESTIONS)
        .where(
            _QUESTIONS.c.id == _open_question_id(bindparam("conversation")),
            _QUESTIONS.c.escalated_at.is_(None),
            _QUESTIONS.c.last_message_id <= bindparam("replied_to"),
        )
        .values(status="dismissed")
    )


def _open_question_id(conversation_id: int | BindParameter[int]) -> ScalarSelect[int]:
    """SQL: the id of the conversation's open question (as ``open_question``), or NULL."""
    question = _QUESTIONS.alias()
    return (
        select(question.c.id)
        .where(question.c.conversation_id == conversation_id, question.c.status == "open")
        .order_by(question.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


async def do_note_topic(session: AsyncSession, conversation_id: int, topic: str) -> None:
    """Keep the bot's guess of what the open question is about (shown in the staff queue)."""
    question = await open_question(session, conversation_id)
    if question is not None:
        question.topic_guess = topic
