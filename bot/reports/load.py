"""Reading the ledger's questions for a report (dismissed chit-chat is not a question)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Question
from bot.reports.ledger_report import QuestionRecord


async def load_records(
    session: AsyncSession, start: dt.datetime, end: dt.datetime
) -> list[QuestionRecord]:
    """Questions opened in ``[start, end)``, as report rows."""
    rows = await session.execute(
        select(Question)
        .where(Question.opened_at >= start, Question.opened_at < end)
        .where(Question.status != "dismissed")
        .order_by(Question.id)
    )
    return [
        QuestionRecord(
            id=q.id,
            page_id=q.page_id,
            channel=q.channel,
            category=q.category,
            opened_at=q.opened_at,
            due_at=q.due_at,
            answered_at=q.answered_at,
            answered_by=q.answered_by,
            staff_id=q.staff_id,
            escalated=q.escalated_at is not None,
            reopened=q.reopen_count > 0,
        )
        for q in rows.scalars()
    ]
