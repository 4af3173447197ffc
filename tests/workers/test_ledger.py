"""The reply ledger driven by a simulated clock through the real ops and workers, on SQLite and
PostgreSQL: answers by the bot and by staff (in time and late), a reopened question, several
messages in a row, a reply from Meta Business Suite, warnings sent once, breaches, two sweepers."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from bot.channels.base import InboundMessage, PageEcho
from bot.db.models import (
    Conversation,
    DeadlineWarning,
    FaqEntry,
    Notification,
    OutboxItem,
    Question,
)
from bot.notify.message import Alert
from bot.notify.send import NotifyError
from bot.ops import echoes
from bot.ops.deadlines import WarningPolicy, do_sweep
from bot.ops.inbox import do_record_inbound
from bot.ops.outbox import Reply, do_enqueue_reply
from bot.workers.deadlines import DeadlineSweeper, NotificationWorker
from bot.workers.dispatcher import Dispatcher
from bot.workers.loop import Wakeup
from bot.workers.outbox import OutboxWorker

T0 = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)  # 08:00 in Hà Nội
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(hours=24)
POLICY = WarningPolicy(targets=("email", "webhook"))
HANDOFF = [
    {
        "custom": {
            "kind": "handoff",
            "text": "Chuyển cán bộ.",
            "handoff": {"reason": "member_request"},
        }
    }
]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


class Rasa:
    """Answers every message with the FAQ entry ``thu_viec``, or what a test sets."""

    def __init__(self) -> None:
        self.next: list[list[dict]] = []

    async def turn(self, sender_id: str, text: str, metadata: dict) -> list[dict]:
        if self.next:
            return self.next.pop(0)
        return [{"custom": {"kind": "answer", "faq": "thu_viec", "text": "Tối đa 60 ngày."}}]


class Sender:
    async def send(self, message) -> str:
        return f"p-{message.outbox_id}"

    async def typing(self, page_id: str, user_id: str) -> None:
        pass


class Recorder:
    def __init__(self, fail_first: int = 0) -> None:
        self.alerts: list[Alert] = []
        self.fail_first = fail_first

    async def deliver(self, alert: Alert) -> None:
        if self.fail_first:
            self.fail_first -= 1
            raise NotifyError("mail server down")
        self.alerts.append(alert)


class Ledger:
    """The pieces a gateway runs, on one database and one clock."""

    def __init__(self, sessions) -> None:
        self.sessions = sessions
        self.clock = Clock()
        self.rasa = Rasa()
        self.seq = 0
        self.email, self.webhook = Recorder(), Recorder()

    async def member_says(self, text: str, user: str = "u1", channel: str = "facebook") -> int:
        self.seq += 1
        async with self.sessions() as session, session.begin():
            recorded = await do_record_inbound(
                session,
                InboundMessage(
                    channel, "page-1", user, f"m{self.seq}", text, platform_ts=self.clock.now
                ),
                now=self.clock.now,
                reply_target=DAY,
            )
        return recorded.conversation_id

    async def bot_turns(self, send: bool = True) -> None:
        worker = Dispatcher(
            self.sessions,
            self.rasa,
            worker_id="d",
            lease=dt.timedelta(seconds=60),
            escalate_after=dt.timedelta(minutes=10),
            outbox_wakeup=Wakeup(),
            clock=self.clock,
        )
        while await worker.step():
            pass
        if send:
            await self.send_all()

    async def send_all(self) -> None:
        worker = OutboxWorker(
            self.sessions,
            {"facebook": Sender(), "zalo": Sender()},
            worker_id="o",
            lease=dt.timedelta(seconds=60),
            clock=self.clock,
        )
        while await worker.step():
            pass

    async def staff_reply(
        self, conversation_id: int, staff: str, text: str = "Cán bộ trả lời."
    ) -> None:
        async with self.sessions() as session, session.begin():
            conversation = await session.get(Conversation, conversation_id)
            conversation.mode = "staff"
            await do_enqueue_reply(
                session,
                conversation,
                Reply("staff", "text", text, data={"staff_id": staff}),
                self.clock.now,
            )
        await self.send_all()

    async def sweep(self) -> None:
        await DeadlineSweeper(self.sessions, POLICY, Wakeup(), self.clock).step()
        worker = NotificationWorker(
            self.sessions,
            {"email": self.email, "webhook": self.webhook},
            worker_id="n",
            lease=dt.timedelta(seconds=60),
            clock=self.clock,
        )
        while await worker.step():
            pass

    async def questions(self) -> list[Question]:
        async with self.sessions() as session:
            return list((await session.execute(select(Question).order_by(Question.id))).scalars())

    async def warnings(self) -> list[tuple[int, str]]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(DeadlineWarning.question_id, DeadlineWarning.kind).order_by(
                    DeadlineWarning.id
                )
            )
            return [tuple(row) for row in rows]


async def with_faq(sessions) -> None:
    async with sessions() as session, session.begin():
        session.add(
            FaqEntry(
                slug="thu_viec",
                category="law",
                question="Thử việc?",
                answer="60 ngày.",
                legal_source="BLLĐ 2019 Điều 25",
                effective_from=dt.date(2021, 1, 1),
                reviewed=dt.date(2026, 11, 21),
                source_hash="x",
                updated_at=T0,
            )
        )


async def test_a_bot_answer_closes_the_question_in_time_with_its_category(sessions):
    await with_faq(sessions)
    ledger = Ledger(sessions)
    await ledger.member_says("thu viec may ngay")
    ledger.clock.now += dt.timedelta(seconds=3)
    await ledger.bot_turns()
    [question] = await ledger.questions()
    assert (question.status, question.answered_by, question.faq_slug, question.category) == (
        "answered",
        "bot",
        "thu_viec",
        "law",
    )
    assert (question.channel, question.page_id, question.met_deadline) == (
        "facebook",
        "page-1",
        True,
    )
    assert question.answered_at == T0 + dt.timedelta(seconds=3)


CHITCHAT = [{"custom": {"kind": "chitchat", "text": "Chào bạn!"}}]


async def test_small_talk_dismisses_the_question_once_sent(sessions):
    ledger = Ledger(sessions)
    ledger.rasa.next = [CHITCHAT]
    await ledger.member_says("xin chao")
    await ledger.bot_turns(send=False)
    [question] = await ledger.questions()
    assert question.status == "open"  # stored, not yet sent
    await ledger.send_all()
    [question] = await ledger.questions()
    assert (question.status, question.answered_at) == ("dismissed", None)


async def test_small_talk_does_not_dismiss_what_the_member_wrote_since(sessions):
    ledger = Ledger(sessions)
    ledger.rasa.next = [CHITCHAT]
    await ledger.member_says("xin chao")
    await ledger.bot_turns(send=False)
    await ledger.member_says("cty ko tra luong thi sao")  # before the greeting went out
    await ledger.send_all()
    [question] = await ledger.questions()
    assert question.status == "open"


async def test_several_messages_in_a_row_are_one_question(sessions):
    ledger = Ledger(sessions)
    ledger.rasa.next = [HANDOFF]
    conversation = await ledger.member_says("cho em gặp cán bộ")
    await ledger.bot_turns()
    for text in ("em bị nợ lương", "3 tháng rồi", "cty ko trả", "giúp em với"):
        ledger.clock.now += dt.timedelta(minutes=2)
        await ledger.member_says(text)
    await ledger.bot_turns()  # staff mode: the bot stays silent
    ledger.clock.now = T0 + 5 * HOUR
    await ledger.staff_reply(conversation, "lan")
    [question] = await ledger.questions()
    assert (question.status, question.answered_by, question.staff_id) == (
        "answered",
        "staff",
        "lan",
    )
    assert question.due_at == T0 + DAY  # from the first message, not the last
    assert question.escalated_at == T0


async def test_staff_late_reply_misses_the_deadline_and_was_breached(sessions):
    ledger = Ledger(sessions)
    ledger.rasa.next = [HANDOFF]
    conversation = await ledger.member_says("cho em gặp cán bộ")
    await ledger.bot_turns()
    ledger.clock.now = T0 + DAY + HOUR
    await ledger.sweep()
    ledger.clock.now = T0 + 30 * HOUR
    await ledger.staff_reply(conversation, "minh")
    [question] = await ledger.questions()
    assert (question.answered_by, question.met_deadline) == ("staff", False)
    assert question.breached_at == T0 + DAY + HOUR


async def test_wrong_reopens_with_the_original_deadline_then_staff_answer(sessions):
    await with_faq(sessions)
    ledger = Ledger(sessions)
    conversation = await ledger.member_says("thu viec may ngay")
    await ledger.bot_turns()
    ledger.clock.now = T0 + 2 * HOUR
    ledger.rasa.next = [
        [
            {
                "custom": {
                    "kind": "handoff",
                    "text": "Xin lỗi bạn.",
                    "feedback": "wrong",
                    "handoff": {"reason": "feedback_wrong"},
                }
            }
        ]
    ]
    await ledger.member_says("Chưa đúng")
    await ledger.bot_turns()
    [question] = await ledger.questions()
    assert (question.status, question.reopen_count, question.due_at) == ("open", 1, T0 + DAY)
    assert question.reopened_at == T0 + 2 * HOUR and question.answered_by is None
    ledger.clock.now = T0 + 3 * HOUR
    await ledger.staff_reply(conversation, "lan")
    [question] = await ledger.questions()
    assert (question.status, question.answered_by, question.met_deadline) == (
        "answered",
        "staff",
        True,
    )


async def test_a_reply_from_business_suite_answers_for_staff(sessions):
    ledger = Ledger(sessions)
    ledger.rasa.next = [
        [
            {
                "custom": {
                    "kind": "handoff",
                    "text": "Chuyển cán bộ.",
                    "handoff": {"reason": "sensitive"},
                }
            }
        ]
    ]
    await ledger.member_says("bị đuổi việc")
    await ledger.bot_turns()
    ledger.clock.now = T0 + 4 * HOUR
    async with sessions() as session, session.begin():
        await echoes.do_record_staff_echo(
            session, PageEcho("facebook", "page-1", "u1", "m_mbs", "Chào bạn"), ledger.clock.now
        )
    [question] = await ledger.questions()
    assert (question.answered_by, question.staff_id, question.met_deadline) == (
        "staff",
        "platform_tool",
        True,
    )


async def test_an_unanswered_question_is_warned_once_each_and_breached_at_24_hours(sessions):
    ledger = Ledger(sessions)
    ledger.rasa.next = [HANDOFF]
    await ledger.member_says("cho em gặp cán bộ", channel="zalo")  # Zalo: 48 h window
    await ledger.bot_turns()
    ledger.email.fail_first = 1  # the first e-mail fails and is retried
    timeline = {
        17: [],  # 7 hours left: nothing yet
        18: [(1, "due_6h")],
        19: [(1, "due_6h")],
        22: [(1, "due_6h"), (1, "due_2h")],
        23.9: [(1, "due_6h"), (1, "due_2h")],
        24: [(1, "due_6h"), (1, "due_2h"), (1, "breach")],
        30: [(1, "due_6h"), (1, "due_2h"), (1, "breach")],
    }
    for hours, expected in timeline.items():
        ledger.clock.now = T0 + dt.timedelta(hours=hours)
        await ledger.sweep()
        assert await ledger.warnings() == expected, hours
    ledger.clock.now += dt.timedelta(minutes=5)  # the failed e-mail's retry is due
    await ledger.sweep()
    assert [a.kind for a in ledger.webhook.alerts] == ["due_6h", "due_2h", "breach"]
    assert sorted(a.kind for a in ledger.email.alerts) == ["breach", "due_2h", "due_6h"]
    [question] = await ledger.questions()
    assert question.breached_at == T0 + DAY
    async with sessions() as session:
        statuses = (await session.execute(select(Notification.status))).scalars().all()
    assert statuses == ["sent"] * 6


async def test_messenger_window_warning_before_24_hours_after_the_last_message(sessions):
    ledger = Ledger(sessions)
    ledger.rasa.next = [HANDOFF]
    await ledger.member_says("cho em gặp cán bộ")
    await ledger.bot_turns()
    ledger.clock.now = T0 + 3 * HOUR
    await ledger.member_says("alo")  # the window restarts from this message
    ledger.clock.now = T0 + 23 * HOUR  # due in 1 h; window closes in 3 h
    await ledger.sweep()
    assert ("window" in [kind for _, kind in await ledger.warnings()]) is False
    ledger.clock.now = T0 + 25 * HOUR + dt.timedelta(minutes=1)
    await ledger.sweep()
    assert (1, "window") in await ledger.warnings()
    [alert] = [a for a in ledger.webhook.alerts if a.kind == "window"]
    assert alert.deadline == T0 + 27 * HOUR


async def test_two_sweepers_at_once_raise_each_warning_once(sessions):
    ledger = Ledger(sessions)
    ledger.rasa.next = [HANDOFF] * 5
    for user in ("a", "b", "c", "d", "e"):
        await ledger.member_says("cho em gặp cán bộ", user=user)
    await ledger.bot_turns()
    now = T0 + dt.timedelta(hours=22, minutes=30)  # both deadline warnings and the window

    async def sweep() -> list[int]:
        async with sessions() as session, session.begin():
            return await do_sweep(session, now, POLICY)

    results = await asyncio.gather(*(sweep() for _ in range(4)), return_exceptions=True)
    raised = [w for r in results if not isinstance(r, BaseException) for w in r]
    # a sweeper that lost a race may fail (and retry next minute): nothing is ever doubled
    assert any(not isinstance(r, BaseException) for r in results)
    async with sessions() as session:
        warnings = (await session.execute(select(DeadlineWarning))).scalars().all()
        notifications = (await session.execute(select(Notification))).scalars().all()
    assert sorted((w.question_id, w.kind) for w in warnings) == sorted(
        (q, k) for q in range(1, 6) for k in ("due_6h", "due_2h", "window")
    )
    assert len(raised) == len(warnings) == 15
    assert len(notifications) == 30  # e-mail and webhook for each warning, once


async def test_answered_questions_raise_nothing(sessions):
    ledger = Ledger(sessions)
    await ledger.member_says("thu viec may ngay")
    await ledger.bot_turns()
    ledger.clock.now = T0 + 2 * DAY
    await ledger.sweep()
    assert await ledger.warnings() == []
    async with sessions() as session:
        assert (await session.execute(select(OutboxItem.status))).scalars().all() == ["sent"]


async def test_the_bots_guess_of_the_topic_stays_with_the_escalated_question(sessions):
    ledger = Ledger(sessions)
    handoff = {"reason": "not_understood", "topic": "tra_luong_cham"}
    ledger.rasa.next = [[{"custom": {"kind": "handoff", "text": "Chuyển.", "handoff": handoff}}]]
    await ledger.member_says("cty cham luong 2 thang")
    await ledger.bot_turns()
    [question] = await ledger.questions()
    assert (question.status, question.topic_guess, question.faq_slug) == (
        "open",
        "tra_luong_cham",
        None,
    )
