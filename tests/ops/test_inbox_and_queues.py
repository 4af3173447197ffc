"""The durable message path on both databases: inbox, dispatch order, leases, ledger."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.channels.base import InboundMessage
from bot.db.models import Conversation, DispatchJob, Message, OutboxItem, Question
from bot.db.session import SessionFactory
from bot.ops.conversations import do_escalate
from bot.ops.dispatch import do_complete_turn
from bot.ops.inbox import do_record_inbound
from bot.ops.outbox import Reply, do_mark_sent
from bot.ops.sql import claim_head_of_line

T0 = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(hours=24)
LEASE = dt.timedelta(seconds=60)


def inbound(mid: str, user: str = "u1", text: str = "hỏi") -> InboundMessage:
    return InboundMessage("sandbox", "page", user, mid, text)


async def record(sessions: SessionFactory, message: InboundMessage, now: dt.datetime = T0):
    async with sessions() as session, session.begin():
        return await do_record_inbound(session, message, now=now, reply_target=DAY)


async def count(sessions: SessionFactory, model) -> int:
    async with sessions() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_same_platform_message_is_stored_once(sessions):
    first = await record(sessions, inbound("m1"))
    again = await record(sessions, inbound("m1"))
    assert not first.duplicate and again.duplicate
    assert again.message_id is None
    assert await count(sessions, Message) == 1
    assert await count(sessions, DispatchJob) == 1
    assert await count(sessions, Conversation) == 1


async def test_messages_in_a_row_are_one_question_due_in_24_hours(sessions):
    await record(sessions, inbound("m1"))
    await record(sessions, inbound("m2"), T0 + dt.timedelta(minutes=3))
    async with sessions() as session:
        questions = (await session.execute(select(Question))).scalars().all()
    assert len(questions) == 1
    assert questions[0].due_at == T0 + DAY
    assert questions[0].status == "open"


async def test_jobs_are_claimed_in_order_one_at_a_time_per_conversation(sessions):
    a1 = await record(sessions, inbound("a1", "alice"))
    await record(sessions, inbound("a2", "alice"))
    b1 = await record(sessions, inbound("b1", "bob"))
    claims = []
    for worker in ("w1", "w2", "w3"):
        async with sessions() as session, session.begin():
            claims.append(await claim_head_of_line(session, DispatchJob, worker, T0, LEASE))
    async with sessions() as session:
        jobs = {j.id: j for j in (await session.execute(select(DispatchJob))).scalars()}
    claimed = [jobs[c].message_id if c else None for c in claims]
    # alice's second message waits behind her first; bob's is free.
    assert claimed == [a1.message_id, b1.message_id, None]


async def test_an_expired_lease_is_taken_over_and_the_old_worker_cannot_finish(sessions):
    await record(sessions, inbound("m1"))
    async with sessions() as session, session.begin():
        job_id = await claim_head_of_line(session, DispatchJob, "dead", T0, LEASE)
    later = T0 + LEASE + dt.timedelta(seconds=1)
    async with sessions() as session, session.begin():
        assert await claim_head_of_line(session, DispatchJob, "alive", later, LEASE) == job_id
    async with sessions() as session:
        job = await session.get(DispatchJob, job_id)
    reply = Reply("bot", "answer", "Trả lời", data={"faq": "thu_viec"})
    async with sessions() as session, session.begin():
        assert not await do_complete_turn(session, job, "dead", [reply], False, later)
    async with sessions() as session, session.begin():
        assert await do_complete_turn(session, job, "alive", [reply], False, later)
    assert await count(sessions, OutboxItem) == 1


async def test_a_sent_faq_answer_answers_the_question(sessions):
    recorded = await record(sessions, inbound("m1"))
    async with sessions() as session, session.begin():
        job_id = await claim_head_of_line(session, DispatchJob, "w", T0, LEASE)
        job = await session.get(DispatchJob, job_id)
    replies = [
        Reply(
            "bot",
            "answer",
            "Trả lời",
            data={"faq": "thu_viec", "in_reply_to": recorded.message_id},
        )
    ]
    async with sessions() as session, session.begin():
        await do_complete_turn(session, job, "w", replies, False, T0)
    sent_at = T0 + dt.timedelta(seconds=2)
    async with sessions() as session, session.begin():
        item_id = await claim_head_of_line(session, OutboxItem, "o", sent_at, LEASE)
        item = await session.get(OutboxItem, item_id)
    async with sessions() as session, session.begin():
        assert await do_mark_sent(session, item, "o", "platform-1", sent_at)
    async with sessions() as session:
        question = (await session.execute(select(Question))).scalar_one()
    assert (question.status, question.answered_by, question.faq_slug) == (
        "answered",
        "bot",
        "thu_viec",
    )
    assert question.answered_at == sent_at


async def test_holding_message_does_not_answer_and_escalation_is_noted(sessions):
    recorded = await record(sessions, inbound("m1"))
    async with sessions() as session, session.begin():
        assert await do_escalate(session, recorded.conversation_id, T0)
        assert not await do_escalate(session, recorded.conversation_id, T0)
    async with sessions() as session:
        conversation = await session.get(Conversation, recorded.conversation_id)
        question = (await session.execute(select(Question))).scalar_one()
    assert conversation.mode == "waiting_staff"
    assert question.escalated_at == T0 and question.status == "open"
