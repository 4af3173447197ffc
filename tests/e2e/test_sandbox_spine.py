"""A member's question end to end: sandbox API -> gateway -> Rasa -> actions -> outbox -> member,
with the stored records checked in the database. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.db.models import (
    Conversation,
    DispatchJob,
    FaqFeedback,
    Message,
    OutboxItem,
    Question,
)
from bot.db.session import create_engine, session_factory
from tests.e2e.conftest import Stack
from tests.helpers.sandbox_client import Member

pytestmark = pytest.mark.stack

MIN_WAGE_FIGURE = "5.310.000"
MIN_WAGE_DECREE = "293/2025/NĐ-CP"


@pytest.fixture
async def db(stack: Stack):
    engine = create_engine(stack.database_url)
    yield session_factory(engine)
    await engine.dispose()


async def job_when(db, message_id: int, ready, within: float = 10.0) -> DispatchJob:
    """The message's dispatch job once ``ready(job)`` holds (or as it is after ``within``)."""
    for _ in range(int(within / 0.2)):
        async with db() as session:
            job = (
                await session.execute(select(DispatchJob).filter_by(message_id=message_id))
            ).scalar_one()
        if ready(job):
            break
        await asyncio.sleep(0.2)
    return job


async def the_question(db, conversation_id: int) -> Question:
    """The conversation's only question (fails if there are none or several)."""
    async with db() as session:
        found = await session.execute(select(Question).filter_by(conversation_id=conversation_id))
        return found.scalar_one()


async def conversation_of(db, member: Member) -> Conversation:
    async with db() as session:
        found = await session.execute(select(Conversation).filter_by(user_id=member.session))
        return found.scalar_one()


async def test_minimum_wage_question_gets_the_current_figure_with_its_decree(stack, http, db):
    member = Member(http, stack.base_url)
    await member.say("lương tối thiểu vùng 1 năm 2026 là bao nhiêu")
    [reply] = await member.replies()
    assert reply["author"] == "bot" and reply["kind"] == "answer"
    assert MIN_WAGE_FIGURE in reply["text"] and MIN_WAGE_DECREE in reply["text"]
    assert "Áp dụng từ: 01/01/2026" in reply["text"]
    assert {"Hữu ích", "Gặp cán bộ"} <= {q["title"] for q in reply["quick_replies"]}

    conversation = await conversation_of(db, member)
    async with db() as session:
        question = (
            await session.execute(select(Question).filter_by(conversation_id=conversation.id))
        ).scalar_one()
        outbox = (
            await session.execute(select(OutboxItem).filter_by(conversation_id=conversation.id))
        ).scalar_one()
    assert (question.status, question.answered_by, question.faq_slug) == (
        "answered",
        "bot",
        "luong_toi_thieu_vung",
    )
    assert outbox.status == "sent" and outbox.message_id == reply["id"]
    assert conversation.mode == "bot"


async def test_question_without_diacritics_gets_the_same_answer(stack, http):
    accented, plain = Member(http, stack.base_url), Member(http, stack.base_url)
    await accented.say("lương tối thiểu vùng 1 năm 2026 là bao nhiêu")
    await plain.say("luong toi thieu vung 1")
    [a], [b] = await accented.replies(), await plain.replies()
    assert b["kind"] == "answer" and MIN_WAGE_FIGURE in b["text"]
    assert a["text"] == b["text"]


async def test_asking_for_staff_hands_over_and_the_bot_then_stays_silent(stack, http, db):
    member = Member(http, stack.base_url)
    await member.say("tôi muốn gặp cán bộ")
    [reply] = await member.replies()
    assert reply["kind"] == "handoff" and "24 giờ" in reply["text"]
    assert (await member.messages())["mode"] == "waiting_staff"

    later = await member.say("luong toi thieu vung 1")
    job = await job_when(db, later["message_id"], lambda job: job.status != "pending")
    assert job.status == "skipped"
    assert [
        m for m in (await member.messages(member.seen))["messages"] if m["author"] != "member"
    ] == []
    conversation = await conversation_of(db, member)
    question = await the_question(db, conversation.id)
    assert question.status == "open" and question.escalated_at is not None


async def test_a_message_sent_twice_is_stored_and_answered_once(stack, http, db):
    member = Member(http, stack.base_url)
    first = await member.say("thử việc tối đa bao nhiêu ngày", client_id="retry-1")
    second = await member.say("thử việc tối đa bao nhiêu ngày", client_id="retry-1")
    assert second["duplicate"] and not first["duplicate"]
    await member.replies()
    await asyncio.sleep(1.5)  # room for a second reply, if the duplicate had produced one
    conversation = await conversation_of(db, member)
    async with db() as session:
        directions = (
            await session.execute(
                select(Message.direction, func.count())
                .filter_by(conversation_id=conversation.id)
                .group_by(Message.direction)
            )
        ).all()
    assert dict(directions) == {"in": 1, "out": 1}


async def test_a_message_that_arrives_while_rasa_is_down_is_answered_when_it_is_back(
    stack, http, db
):
    member = Member(http, stack.base_url)
    stack.rasa_proxy.down()
    try:
        sent = await member.say("luong toi thieu vung 1")
        job = await job_when(db, sent["message_id"], lambda job: job.attempts >= 1)
        assert job.status == "pending" and job.attempts >= 1 and job.last_error
        assert (await member.messages())["messages"][-1]["author"] == "member"
    finally:
        stack.rasa_proxy.up()
    [reply] = await member.replies(within=90)
    assert reply["kind"] == "answer" and MIN_WAGE_FIGURE in reply["text"]
    await asyncio.sleep(1.0)
    assert [m for m in (await member.messages(reply["id"]))["messages"]] == []


async def test_sensitive_topic_is_answered_and_handed_to_staff(stack, http, db):
    member = Member(http, stack.base_url)
    await member.say("cty nợ lương 2 tháng rồi chưa trả, em phải làm sao")
    answer, handoff = await member.replies(count=2)
    assert answer["kind"] == "answer" and "Căn cứ:" in answer["text"]
    assert handoff["kind"] == "handoff" and "24 giờ" in handoff["text"]
    assert (await member.messages())["mode"] == "waiting_staff"
    conversation = await conversation_of(db, member)
    question = await the_question(db, conversation.id)
    # the general answer went out, and staff still owe the member a reply
    assert question.status == "answered" and question.escalated_at is not None


async def test_not_right_feedback_is_recorded_and_escalates_with_the_original_deadline(
    stack, http, db
):
    member = Member(http, stack.base_url)
    await member.say("thử việc tối đa bao nhiêu ngày")
    [answer] = await member.replies()
    wrong = next(q for q in answer["quick_replies"] if q["title"] == "Chưa đúng")
    await member.say(wrong["title"], payload=wrong["payload"])
    [handoff] = await member.replies()
    assert handoff["kind"] == "handoff"
    conversation = await conversation_of(db, member)
    async with db() as session:
        [question] = (
            (await session.execute(select(Question).filter_by(conversation_id=conversation.id)))
            .scalars()
            .all()
        )
        [feedback] = (
            (await session.execute(select(FaqFeedback).filter_by(conversation_id=conversation.id)))
            .scalars()
            .all()
        )
    assert question.status == "open" and question.escalated_at is not None
    assert question.due_at == question.opened_at + dt.timedelta(hours=24)
    assert (feedback.verdict, feedback.faq_slug, feedback.answer_message_id) == (
        "wrong",
        "thu_viec",
        answer["id"],
    )
