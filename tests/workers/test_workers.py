"""Dispatcher and outbox workers against a real database, with fakes for Rasa and platforms."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.channels.base import InboundMessage, OutboundMessage, SendError
from bot.db.models import Conversation, DispatchJob, FaqFeedback, Message, OutboxItem, Question
from bot.ops.inbox import do_record_inbound
from bot.rasa_client import RasaUnavailable
from bot.workers.dispatcher import Dispatcher
from bot.workers.loop import Wakeup
from bot.workers.outbox import OutboxWorker

T0 = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


class FakeRasa:
    def __init__(self, answers: list) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str]] = []

    async def turn(self, sender_id: str, text: str, metadata: dict) -> list[dict]:
        self.calls.append((sender_id, text))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakeSender:
    def __init__(self, outcomes: list) -> None:
        self.outcomes = outcomes
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> str:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        self.sent.append(message)
        return outcome


ANSWER = [{"custom": {"kind": "answer", "faq": "thu_viec", "text": "Tối đa 60 ngày."}}]


async def record(sessions, clock, text="thu viec may ngay", payload=None, attachments=()):
    async with sessions() as session, session.begin():
        return await do_record_inbound(
            session,
            InboundMessage(
                "sandbox",
                "p",
                "u",
                f"m{clock.now.timestamp()}",
                text,
                payload=payload,
                attachments=attachments,
            ),
            now=clock.now,
            reply_target=dt.timedelta(hours=24),
        )


def dispatcher(sessions, rasa, clock, escalate_after=dt.timedelta(minutes=10)):
    return Dispatcher(
        sessions,
        rasa,
        worker_id="d",
        lease=dt.timedelta(seconds=60),
        escalate_after=escalate_after,
        outbox_wakeup=Wakeup(),
        clock=clock,
    )


async def rows(sessions, model):
    async with sessions() as session:
        return (await session.execute(select(model).order_by(model.id))).scalars().all()


async def test_rasa_down_is_retried_with_backoff_then_answered(sessions):
    clock = Clock()
    await record(sessions, clock)
    rasa = FakeRasa([RasaUnavailable("refused"), ANSWER])
    worker = dispatcher(sessions, rasa, clock)
    assert await worker.step()
    [job] = await rows(sessions, DispatchJob)
    assert (job.status, job.attempts, job.last_error) == ("pending", 1, "refused")
    assert job.next_attempt_at == T0 + dt.timedelta(seconds=1)
    assert not await worker.step()  # not due yet
    clock.now += dt.timedelta(seconds=1)
    assert await worker.step()
    [job] = await rows(sessions, DispatchJob)
    assert job.status == "done"
    assert [m.kind for m in await rows(sessions, Message)] == ["text", "answer"]


async def test_rasa_down_for_minutes_is_retried_a_minute_apart_and_the_bot_answers(sessions):
    clock = Clock()
    await record(sessions, clock)
    back_at = clock.now + dt.timedelta(minutes=8)
    rasa = FakeRasa([])

    async def turn(sender_id: str, text: str, metadata: dict) -> list[dict]:
        rasa.calls.append((sender_id, text))
        if clock.now < back_at:
            raise RasaUnavailable("refused")
        return ANSWER

    rasa.turn = turn
    worker = dispatcher(sessions, rasa, clock, escalate_after=dt.timedelta(minutes=10))
    [job] = await rows(sessions, DispatchJob)
    while job.status == "pending":
        clock.now = max(clock.now, job.next_attempt_at)
        assert await worker.step()
        [job] = await rows(sessions, DispatchJob)
    assert job.status == "done" and len(rasa.calls) == job.attempts > 8
    assert clock.now - back_at <= dt.timedelta(minutes=1)
    [conversation] = await rows(sessions, Conversation)
    assert conversation.mode == "bot"
    assert [m.author for m in await rows(sessions, Message)] == ["member", "bot"]


async def test_quick_reply_payload_goes_to_rasa_instead_of_the_title(sessions):
    clock = Clock()
    await record(sessions, clock, text="Gặp cán bộ", payload="/request_human")
    rasa = FakeRasa(
        [
            [
                {
                    "custom": {
                        "kind": "handoff",
                        "text": "Đã chuyển.",
                        "handoff": {"reason": "member_request"},
                    }
                }
            ]
        ]
    )
    assert await dispatcher(sessions, rasa, clock).step()
    assert rasa.calls[0][1] == "/request_human"
    [conversation] = await rows(sessions, Conversation)
    assert conversation.mode == "waiting_staff"


async def test_an_empty_rasa_answer_is_a_failure_not_a_silent_drop(sessions):
    clock = Clock()
    await record(sessions, clock)
    assert await dispatcher(sessions, FakeRasa([[]]), clock).step()
    [job] = await rows(sessions, DispatchJob)
    assert (job.status, job.last_error) == ("pending", "Rasa returned no reply")


async def test_rasa_down_for_too_long_escalates_with_a_holding_message(sessions):
    clock = Clock()
    await record(sessions, clock)
    worker = dispatcher(
        sessions,
        FakeRasa([RasaUnavailable("refused")]),
        clock,
        escalate_after=dt.timedelta(minutes=10),
    )
    clock.now += dt.timedelta(minutes=11)
    assert await worker.step()
    [job] = await rows(sessions, DispatchJob)
    [conversation] = await rows(sessions, Conversation)
    messages = await rows(sessions, Message)
    assert job.status == "done" and conversation.mode == "waiting_staff"
    assert (messages[-1].author, messages[-1].kind) == ("system", "holding")
    [question] = await rows(sessions, Question)
    assert question.status == "open" and question.escalated_at == clock.now


async def test_retryable_send_errors_are_retried_and_permanent_ones_recorded(sessions):
    clock = Clock()
    await record(sessions, clock)
    await dispatcher(sessions, FakeRasa([ANSWER + ANSWER]), clock).step()
    sender = FakeSender(
        [
            SendError("HTTP 503", retryable=True),
            "p-1",
            SendError("user blocked the page", retryable=False),
        ]
    )
    worker = OutboxWorker(
        sessions, {"sandbox": sender}, worker_id="o", lease=dt.timedelta(seconds=60), clock=clock
    )
    assert await worker.step()
    first, second = await rows(sessions, OutboxItem)
    assert (first.status, first.attempts, first.last_error) == ("pending", 1, "HTTP 503")
    assert not await worker.step()  # the second waits behind the first, which is not due
    clock.now += dt.timedelta(seconds=1)
    assert await worker.step() and await worker.step()
    first, second = await rows(sessions, OutboxItem)
    assert (first.status, first.platform_message_id) == ("sent", "p-1")
    assert (second.status, second.last_error) == ("failed", "user blocked the page")
    [question] = await rows(sessions, Question)
    assert question.status == "answered"
    # the undelivered reply is handed to staff with its reason
    [conversation] = await rows(sessions, Conversation)
    assert conversation.mode == "waiting_staff"
    failed = [m for m in await rows(sessions, Message) if (m.data or {}).get("send_error")]
    assert [m.data["send_error"] for m in failed] == ["user blocked the page"]


async def test_a_platform_outage_of_hours_is_retried_through_and_delivered(sessions):
    clock = Clock()
    await record(sessions, clock)
    await dispatcher(sessions, FakeRasa([ANSWER]), clock).step()
    outage_ends = clock.now + dt.timedelta(hours=3)
    sender = FakeSender([])

    async def send(message: OutboundMessage) -> str:
        if clock.now < outage_ends:
            raise SendError("HTTP 500", retryable=True)
        sender.sent.append(message)
        return "p-1"

    sender.send = send
    worker = OutboxWorker(
        sessions, {"sandbox": sender}, worker_id="o", lease=dt.timedelta(seconds=60), clock=clock
    )
    tries = 0
    [item] = await rows(sessions, OutboxItem)
    while item.status == "pending":
        clock.now = max(clock.now, item.next_attempt_at)
        assert await worker.step()
        tries += 1
        [item] = await rows(sessions, OutboxItem)
    assert (item.status, item.platform_message_id, len(sender.sent)) == ("sent", "p-1", 1)
    assert item.attempts == tries > 180  # retried at most a minute apart
    late = item.sent_at - item.created_at
    assert dt.timedelta(hours=3) <= late <= dt.timedelta(hours=3, minutes=1)
    [conversation] = await rows(sessions, Conversation)
    assert conversation.mode == "bot"  # delivered by the bot, not handed to staff


async def test_sending_gives_up_when_the_retry_period_is_over(sessions):
    clock = Clock()
    await record(sessions, clock)
    await dispatcher(sessions, FakeRasa([ANSWER]), clock).step()
    sender = FakeSender([SendError("timeout", retryable=True)] * 1000)
    worker = OutboxWorker(
        sessions,
        {"sandbox": sender},
        worker_id="o",
        lease=dt.timedelta(seconds=60),
        clock=clock,
        retry_for=dt.timedelta(hours=1),
    )
    [item] = await rows(sessions, OutboxItem)
    while item.status == "pending":
        clock.now = max(clock.now, item.next_attempt_at)
        assert await worker.step()
        [item] = await rows(sessions, OutboxItem)
    assert item.status == "failed"
    assert clock.now - item.created_at <= dt.timedelta(hours=1)
    assert clock.now - item.created_at > dt.timedelta(minutes=58)
    [conversation] = await rows(sessions, Conversation)
    assert conversation.mode == "waiting_staff"


async def test_wrong_verdict_is_recorded_and_reopens_the_question_with_its_deadline(sessions):
    clock = Clock()
    first = await record(sessions, clock)
    rasa = FakeRasa(
        [
            ANSWER,
            [
                {
                    "custom": {
                        "kind": "handoff",
                        "text": "Xin lỗi, đã chuyển.",
                        "handoff": {"reason": "feedback_wrong"},
                        "feedback": "wrong",
                    }
                }
            ],
        ]
    )
    worker = dispatcher(sessions, rasa, clock)
    sender = FakeSender(["p-1", "p-2"])
    outbox = OutboxWorker(
        sessions, {"sandbox": sender}, worker_id="o", lease=dt.timedelta(seconds=60), clock=clock
    )
    assert await worker.step() and await outbox.step()
    [question] = await rows(sessions, Question)
    assert question.status == "answered"

    clock.now += dt.timedelta(hours=2)
    verdict = await record(sessions, clock, text="Chưa đúng", payload="/feedback_wrong")
    assert await worker.step() and await outbox.step()
    [question] = await rows(sessions, Question)  # no second question for the verdict
    assert (question.status, question.first_message_id) == ("open", first.message_id)
    assert question.due_at == T0 + dt.timedelta(hours=24)
    assert question.escalated_at == clock.now and question.answered_by is None
    [feedback] = await rows(sessions, FaqFeedback)
    assert (feedback.faq_slug, feedback.verdict, feedback.member_message_id) == (
        "thu_viec",
        "wrong",
        verdict.message_id,
    )
    [conversation] = await rows(sessions, Conversation)
    assert conversation.mode == "waiting_staff"


async def test_helpful_verdict_is_recorded_against_the_answer(sessions):
    clock = Clock()
    await record(sessions, clock)
    rasa = FakeRasa(
        [ANSWER, [{"custom": {"kind": "chitchat", "text": "Cảm ơn bạn!", "feedback": "helpful"}}]]
    )
    worker = dispatcher(sessions, rasa, clock)
    assert await worker.step()
    clock.now += dt.timedelta(minutes=1)
    await record(sessions, clock, text="Hữu ích", payload="/feedback_helpful")
    assert await worker.step()
    [feedback] = await rows(sessions, FaqFeedback)
    answer = next(m for m in await rows(sessions, Message) if m.kind == "answer")
    assert (feedback.verdict, feedback.answer_message_id) == ("helpful", answer.id)


async def test_a_picture_without_words_goes_to_staff_and_a_sticker_gets_nothing(sessions):
    clock = Clock()
    await record(sessions, clock, text="", attachments=({"type": "sticker", "url": "u"},))
    clock.now += dt.timedelta(seconds=1)
    await record(sessions, clock, text="", attachments=({"type": "image", "url": "u"},))
    rasa = FakeRasa([])  # neither reaches Rasa
    worker = dispatcher(sessions, rasa, clock)
    assert await worker.step() and await worker.step()

    assert rasa.calls == []
    assert [(m.author, m.kind) for m in await rows(sessions, Message)] == [
        ("member", "text"),
        ("member", "text"),
        ("system", "holding"),
    ]
    [question] = await rows(sessions, Question)  # the sticker opened none
    assert question.escalated_at == clock.now
    [conversation] = await rows(sessions, Conversation)
    assert conversation.mode == "waiting_staff"


async def test_the_platform_retry_after_is_respected(sessions):
    clock = Clock()
    await record(sessions, clock)
    assert await dispatcher(sessions, FakeRasa([ANSWER]), clock).step()
    limited = SendError("rate limited", retryable=True, retry_after=120.0)
    worker = OutboxWorker(
        sessions,
        {"sandbox": FakeSender([limited])},
        worker_id="o",
        lease=dt.timedelta(seconds=60),
        clock=clock,
    )
    assert await worker.step()
    [item] = await rows(sessions, OutboxItem)
    assert item.next_attempt_at == T0 + dt.timedelta(seconds=120)  # not the 1 s backoff


async def test_a_long_answer_is_split_into_messages_sent_in_order(sessions):
    clock = Clock()
    await record(sessions, clock)
    long_text = "\n\n".join(f"Đoạn {n}: " + "chữ " * 300 for n in range(3))  # ~3,700 chars
    answer = [
        {
            "custom": {
                "kind": "answer",
                "faq": "thu_viec",
                "text": long_text,
                "quick_replies": [{"title": "Hữu ích", "payload": "/feedback_helpful"}],
            }
        }
    ]
    assert await dispatcher(sessions, FakeRasa([answer]), clock).step()
    sender = FakeSender(["p-1", "p-2", "p-3"])
    worker = OutboxWorker(
        sessions, {"sandbox": sender}, worker_id="o", lease=dt.timedelta(seconds=60), clock=clock
    )
    while await worker.step():
        pass
    assert [len(m.text) <= 2000 for m in sender.sent] == [True, True, True]
    assert [m.text.split(":")[0] for m in sender.sent] == ["Đoạn 0", "Đoạn 1", "Đoạn 2"]
    assert [bool(m.quick_replies) for m in sender.sent] == [False, False, True]
    assert " ".join(m.text for m in sender.sent).split() == long_text.split()
