"""Dispatch jobs: a member message on its way to Rasa, and what comes back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Conversation, DispatchJob
from bot.ops import conversations, ledger, outbox
from bot.ops.feedback import do_record_feedback
from bot.ops.outbox import Queued, Reply
from bot.ops.sql import finish_leased

# The conversation, and whether a reply of it is still to be sent; built once (as in
# bot.ops.sql, for the CPU).
_CONVERSATION = select(Conversation, outbox.waiting(Conversation.id)).where(
    Conversation.id == bindparam("conversation")
)


@dataclass(frozen=True)
class StoredTurn:
    """A recorded turn: its conversation and its replies' outbox items, in order.

    ``leased``: the items are leased to the worker that stored them, which sends them itself.
    """

    conversation: Conversation
    replies: list[Queued]
    leased: bool


async def do_complete_turn(
    session: AsyncSession,
    job: DispatchJob,
    worker: str,
    replies: Sequence[Reply],
    escalate: bool,
    now: dt.datetime,
    feedback: str | None = None,
    topic: str | None = None,
    lease_until: dt.datetime | None = None,
) -> StoredTurn | None:
    """Store the bot's replies, record feedback, escalate if asked, and close the job, at once.

    ``topic``: with an escalation, the FAQ entry the bot guessed, kept on the open question.
    ``lease_until``: the caller will send the replies itself; they are stored leased to it
    until then, unless a reply of the conversation is still waiting to be sent (then they wait
    for the outbox worker, behind it).

    Caller holds the job's lease; if it was lost meanwhile, nothing is written (None), so a
    turn is never recorded twice.
    """
    if not await finish_leased(
        session,
        DispatchJob,
        job.id,
        worker,
        {"status": "done", "finished_at": now, "attempts": job.attempts + 1, "last_error": None},
    ):
        return None
    conversation, busy = (
        await session.execute(_CONVERSATION, {"conversation": job.conversation_id})
    ).one()
    lease = (worker, lease_until) if lease_until is not None and not busy else None
    if feedback:
        await do_record_feedback(session, conversation.id, job.message_id, feedback, now)
    queued = []
    for reply in replies:
        queued += await outbox.do_queue_reply(session, conversation, reply, now, lease)
    if escalate:
        await conversations.do_escalate(session, conversation.id, now)
        if topic:
            await ledger.do_note_topic(session, conversation.id, topic)
    return StoredTurn(conversation, queued, lease is not None)


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
