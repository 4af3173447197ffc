"""Page echoes and member events on both databases: our sends confirmed, staff replies typed in
the platform's own tool recorded and put in charge, follows kept once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.channels.base import InboundMessage, MemberEvent, PageEcho
from bot.db.models import Conversation, Message, OutboxItem, Question
from bot.ops import echoes
from bot.ops.inbox import do_record_inbound
from bot.ops.outbox import Reply, do_enqueue_reply

T0 = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(hours=24)


async def member_asks(sessions, channel: str = "facebook", user: str = "u1") -> int:
    async with sessions() as session, session.begin():
        recorded = await do_record_inbound(
            session,
            InboundMessage(channel, "p1", user, f"{user}-m1", "cty no luong"),
            now=T0,
            reply_target=DAY,
        )
    return recorded.conversation_id


async def enqueue(sessions, conversation_id: int, text: str) -> OutboxItem:
    async with sessions() as session, session.begin():
        conversation = await session.get(Conversation, conversation_id)
        [message] = await do_enqueue_reply(
            session, conversation, Reply("bot", "answer", text, data={"faq": "tra_luong_cham"}), T0
        )
        return (
            await session.execute(select(OutboxItem).filter_by(message_id=message.id))
        ).scalar_one()


async def test_an_echo_of_our_send_records_it_sent_once(sessions):
    conversation_id = await member_asks(sessions)
    item = await enqueue(sessions, conversation_id, "Công ty phải trả lương đúng hạn.")
    async with sessions() as session, session.begin():
        first = await echoes.do_confirm_sent(session, item.id, "m_sent", T0)
    async with sessions() as session, session.begin():
        again = await echoes.do_confirm_sent(session, item.id, "m_sent", T0)
    assert (first, again) == (True, False)
    async with sessions() as session:
        item = await session.get(OutboxItem, item.id)
        question = (await session.execute(select(Question))).scalar_one()
    assert (item.status, item.platform_message_id) == ("sent", "m_sent")
    assert (question.status, question.answered_by) == ("answered", "bot")


async def test_a_staff_reply_from_the_platform_tool_answers_and_takes_over(sessions):
    conversation_id = await member_asks(sessions)
    echo = PageEcho(
        "facebook", "p1", "u1", "m_staff", "Chào bạn, mình là cán bộ.", app_id="263902037430900"
    )
    async with sessions() as session, session.begin():
        assert not await echoes.is_our_send(session, echo)
        assert await echoes.do_record_staff_echo(session, echo, T0 + dt.timedelta(hours=2))
    async with sessions() as session, session.begin():
        assert not await echoes.do_record_staff_echo(session, echo, T0)  # redelivered
    async with sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        question = (await session.execute(select(Question))).scalar_one()
        staff = (await session.execute(select(Message).filter_by(author="staff"))).scalars().all()
    assert conversation.mode == "staff"
    assert [m.text for m in staff] == ["Chào bạn, mình là cán bộ."]
    assert (question.status, question.answered_by) == ("answered", "staff")
    assert question.answered_at == T0 + dt.timedelta(hours=2)


async def test_a_zalo_echo_of_a_reply_still_being_sent_is_ours(sessions):
    conversation_id = await member_asks(sessions, channel="zalo")
    await enqueue(sessions, conversation_id, "Bạn hỏi cán bộ nhé.")
    ours = PageEcho("zalo", "p1", "u1", "zmsg-1", "Bạn hỏi cán bộ nhé.")
    other = PageEcho("zalo", "p1", "u1", "zmsg-2", "Một câu khác do cán bộ gõ.")
    async with sessions() as session:
        assert await echoes.is_our_send(session, ours)
        assert not await echoes.is_our_send(session, other)


async def test_follow_events_are_kept_once_and_open_no_question(sessions):
    follow = MemberEvent("zalo", "p1", "u9", "follow", T0)
    async with sessions() as session, session.begin():
        assert await echoes.do_record_member_event(session, follow, T0)
    async with sessions() as session, session.begin():
        assert not await echoes.do_record_member_event(session, follow, T0)
    async with sessions() as session:
        kinds = (await session.execute(select(Message.kind))).scalars().all()
        questions = (await session.execute(select(Question))).scalars().all()
    assert (kinds, questions) == (["follow"], [])
