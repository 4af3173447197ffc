"""The deadline sweep: warnings before deadlines and platform windows, and breaches.

Staff are warned before a question is due and before the platform's window closes; a question
due unanswered is marked breached. Each warning is raised once, whichever process sweeps (the
unique key on question and kind decides), and queues its notifications.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Conversation, DeadlineWarning, Notification, Question
from bot.ops.sql import insert_ignore

# How long after the member's last message a reply may go out (platforms.md §5): Messenger's
# standard window and Zalo's free window. Staff are warned before they close.
PLATFORM_WINDOWS = {"facebook": dt.timedelta(hours=24), "zalo": dt.timedelta(hours=48)}


@dataclass(frozen=True)
class WarningPolicy:
    """When to warn, and where besides the console."""

    before_due: Sequence[dt.timedelta] = (dt.timedelta(hours=6), dt.timedelta(hours=2))
    before_window_closes: dt.timedelta = dt.timedelta(hours=2)
    targets: Sequence[str] = ()  # email | webhook

    def due_kind(self, before: dt.timedelta) -> str:
        """``due_6h`` for six hours before the deadline."""
        hours = before.total_seconds() / 3600
        return f"due_{hours:g}h"


async def do_sweep(session: AsyncSession, now: dt.datetime, policy: WarningPolicy) -> list[int]:
    """Raise the warnings that are due now; the ids of those this call raised."""
    raised: list[int] = []
    rows = await session.execute(
        select(Question, Conversation)
        .join(Conversation, Conversation.id == Question.conversation_id)
        .where(Question.status == "open")
    )
    for question, conversation in rows.all():
        for before in policy.before_due:
            if question.due_at - before <= now < question.due_at:
                raised += await _raise(
                    session, question, policy.due_kind(before), question.due_at, now, policy
                )
        window = PLATFORM_WINDOWS.get(conversation.channel)
        last = conversation.last_member_message_at
        if window and last is not None:
            closes = last + window
            if closes - policy.before_window_closes <= now < closes:
                raised += await _raise(session, question, "window", closes, now, policy)
        if question.due_at <= now and question.breached_at is None:
            await session.execute(_BREACH, {"question": question.id, "at": now})
            raised += await _raise(session, question, "breach", question.due_at, now, policy)
    return raised


# On the table: an ORM-enabled UPDATE would look through every question the sweep loaded, at
# every breach (quadratic: seconds for a few hundred overdue questions).
_QUESTIONS = Question.__table__
_BREACH = (
    update(_QUESTIONS)
    .where(_QUESTIONS.c.id == bindparam("question"), _QUESTIONS.c.breached_at.is_(None))
    .values(breached_at=bindparam("at"))
)


async def _raise(
    session: AsyncSession,
    question: Question,
    kind: str,
    deadline: dt.datetime,
    now: dt.datetime,
    policy: WarningPolicy,
) -> list[int]:
    warning_id = await insert_ignore(
        session,
        DeadlineWarning,
        {
            "question_id": question.id,
            "conversation_id": question.conversation_id,
            "kind": kind,
            "deadline": deadline,
            "created_at": now,
        },
        ["question_id", "kind"],
    )
    if warning_id is None:
        return []
    for target in policy.targets:
        session.add(
            Notification(
                warning_id=warning_id,
                conversation_id=question.conversation_id,
                target=target,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return [warning_id]
