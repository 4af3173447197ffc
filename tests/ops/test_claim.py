"""The head-of-line claim on both databases: which item it leases among many waiting."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from bot.channels.base import InboundMessage
from bot.db.models import DispatchJob
from bot.ops.inbox import do_record_inbound
from bot.ops.sql import claim_head_of_line

T0 = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=60)


async def jobs_of(sessions, users: list[str], per_user: int) -> dict[str, list[int]]:
    """``per_user`` waiting jobs for each user, recorded in turns (ids interleave)."""
    for number in range(per_user):
        for user in users:
            async with sessions() as session, session.begin():
                await do_record_inbound(
                    session,
                    InboundMessage("sandbox", "p", user, f"{user}-{number}", "hỏi"),
                    now=T0,
                    reply_target=dt.timedelta(hours=24),
                )
    async with sessions() as session:
        rows = (await session.execute(select(DispatchJob).order_by(DispatchJob.id))).scalars()
        by_conversation: dict[int, list[int]] = {}
        for job in rows:
            by_conversation.setdefault(job.conversation_id, []).append(job.id)
    return dict(zip(users, by_conversation.values(), strict=True))


async def set_job(sessions, job_id: int, **values) -> None:
    async with sessions() as session, session.begin():
        await session.execute(update(DispatchJob).where(DispatchJob.id == job_id).values(values))


async def claim(sessions, worker: str = "w", now: dt.datetime = T0) -> int | None:
    async with sessions() as session, session.begin():
        return await claim_head_of_line(session, DispatchJob, worker, now, LEASE)


async def test_the_claim_passes_over_conversations_whose_first_item_is_busy_or_not_due(sessions):
    jobs = await jobs_of(sessions, ["leased", "later", "failed", "free"], 3)
    await set_job(sessions, jobs["leased"][0], lease_owner="x", lease_until=T0 + LEASE)
    due = T0 + dt.timedelta(seconds=90)  # after the first leases expire, before the next do
    await set_job(sessions, jobs["later"][0], next_attempt_at=due)
    await set_job(sessions, jobs["failed"][0], status="failed")
    # The first free item leads; the failed item no longer holds its conversation back.
    assert await claim(sessions) == jobs["free"][0]
    assert await claim(sessions) == jobs["failed"][1]
    assert await claim(sessions) is None
    for done in (jobs["free"][0], jobs["failed"][1]):
        await set_job(sessions, done, status="done", lease_owner=None, lease_until=None)
    # An expired lease is free again; then the item that was not due falls due.
    later = T0 + LEASE + dt.timedelta(seconds=1)
    assert await claim(sessions, now=later) == jobs["leased"][0]
    assert await claim(sessions, now=later) == jobs["free"][1]
    assert await claim(sessions, now=later) == jobs["failed"][2]
    assert await claim(sessions, now=later) is None
    assert await claim(sessions, now=due) == jobs["later"][0]


async def test_a_backlog_is_claimed_once_in_order_per_conversation(sessions):
    jobs = await jobs_of(sessions, [f"u{n}" for n in range(6)], 8)
    claimed = []
    while (job_id := await claim(sessions)) is not None:
        claimed.append(job_id)
        await set_job(sessions, job_id, status="done", lease_owner=None, lease_until=None)
    assert sorted(claimed) == sorted(i for ids in jobs.values() for i in ids)
    for ids in jobs.values():
        assert [i for i in claimed if i in ids] == ids
