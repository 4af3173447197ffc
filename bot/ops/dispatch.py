"""Dispatch jobs: a member message on its way to Rasa, and what comes back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Conversation, DispatchJob
from bot.ops import conversations, ledger
from bot.ops.feedback import do_record_feedback
from bot.ops.outbox import Reply, do_enqueue_reply
from bot.ops.sql import finish_leased


async def do_complete_turn(
    session: AsyncSession,
    job: DispatchJob,
    worker: str,
    replies: Sequence[Reply],
    escalate: bool,
    now: dt.datetime,
    feedback: str | None = None,
    topic: str | None = None,
) -> bool:
    """Store the bot's replies, record feedback, escalate if asked, and close the job, at once.

    ``topic``: with an escalation, the FAQ entry the bot guessed, kept on the open question.

    Caller holds the job's lease; if it was lost meanwhile, nothing is written (False), so a
    turn is never recorded twice.
    """
    if not await finish_leased(
        session,
        DispatchJob,
        job.id,
        worker,
        {"status": "done", "finished_at": now, "attempts": job.attempts + 1, "last_error": None},
    ):
        return False
    conversation = await session.get(Conversation, job.conversation_id)
    assert conversation is not None
    if feedback:
        await do_record_feedback(session, conversation.id, job.message_id, feedback, now)
    for reply in replies:
        await do_enqueue_reply(session, conversation, reply, now)
    if escalate:
        await conversations.do_escalate(session, conversation.id, now)
        if topic:
            await ledger.do_note_topic(session, conversation.id, topic)
    return True


async def do_skip_job(
    session: AsyncSession, job: DispatchJob, worker: str, reason: str, now: dt.datetime
) -> bool:
    """Close the job without asking Rasa (staff hold the conversation)."""
    return await finish_leased(
        session,
        DispatchJob,
        job.id,
        worker,
        {"status": "skipped", "finished_at": now, "last_error": reason},
    )


async def do_retry_job(
    session: AsyncSession, job: DispatchJob, worker: str, error: str, retry_at: dt.datetime
) -> bool:
    """Put the job back for a later attempt (Rasa unreachable)."""
    return await finish_leased(
        session,
        DispatchJob,
        job.id,
        worker,
        {"attempts": job.attempts + 1, "last_error": error[:2000], "next_attempt_at": retry_at},
    )
