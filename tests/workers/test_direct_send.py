"""The dispatcher sends its own turn's replies: in order, once, and only when nothing of the
conversation is still waiting to be sent; otherwise, and after a crash, the outbox worker does.
On SQLite and PostgreSQL, with fakes for Rasa and the platform."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from bot.channels.base import InboundMessage, OutboundMessage, PageEcho, SendError
from bot.db.models import Conversation, OutboxItem, Question
from bot.ops.inbox import do_record_inbound
from bot.ops.outbox import Reply, do_enqueue_reply
from bot.recent_sends import RecentSends
from bot.workers.dispatcher import Dispatcher
from bot.workers.loop import Wakeup
from bot.workers.outbox import OutboxWorker, ReplySender

T0 = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=60)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def answer(*texts: str) -> list[dict]:
    return [{"custom": {"kind": "answer", "faq": "thu_viec", "text": text}} for text in texts]


class Rasa:
    def __init__(self, *answers: list[dict]) -> None:
        self.answers = list(answers)

    async def turn(self, sender_id: str, text: str, metadata: dict) -> list[dict]:
        return self.answers.pop(0)


class Sender:
    """A channel that accepts every message, or fails as told; ``gate`` holds sends back."""

    def __init__(self, *failures: SendError | None) -> None:
        self.failures = list(failures)
        self.sent: list[OutboundMessage] = []
        self.started = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self.on_send = lambda: None

    async def send(self, message: OutboundMessage) -> str:
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        self.on_send()
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        self.sent.append(message)
        return f"p-{message.outbox_id}"

    async def typing(self, page_id: str, user_id: str) -> None:
        pass


class CountingWakeup(Wakeup):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def notify(self) -> None:
        self.calls += 1
        super().notify()


async def member_says(sessions, clock, mid: str) -> int:
    async with sessions() as session, session.begin():
        recorded = await do_record_inbound(
            session,
            InboundMessage("sandbox", "p", "u", mid, "thu viec may ngay"),
            now=clock.now,
            reply_target=dt.timedelta(hours=24),
        )
    return recorded.conversation_id


def dispatcher(sessions, rasa, clock, sender, outbox_wakeup=None, recent=None) -> Dispatcher:
    senders = {"sandbox": sender}
    return Dispatcher(
        sessions,
        rasa,
        worker_id="d",
        lease=LEASE,
        escalate_after=dt.timedelta(minutes=10),
        outbox_wakeup=outbox_wakeup or Wakeup(),
        clock=clock,
        senders=senders,
        replies=ReplySender(sessions, senders, clock=clock, recent=recent),
    )


def outbox_worker(sessions, clock, sender) -> OutboxWorker:
    return OutboxWorker(sessions, {"sandbox": sender}, worker_id="o", lease=LEASE, clock=clock)


async def items(sessions) -> list[OutboxItem]:
    async with sessions() as session:
        return list((await session.execute(select(OutboxItem).order_by(OutboxItem.id))).scalars())


async def test_the_dispatcher_sends_its_turns_reply_itself(sessions):
    clock, sender, outbox_wakeup = Clock(), Sender(), CountingWakeup()
    await member_says(sessions, clock, "m1")
    worker = dispatcher(sessions, Rasa(answer("Tối đa 60 ngày.")), clock, sender, outbox_wakeup)
    assert await worker.step()
    assert [m.text for m in sender.sent] == ["Tối đa 60 ngày."]
    [item] = await items(sessions)
    assert (item.status, item.lease_owner, item.lease_until) == ("sent", None, None)
    assert item.platform_message_id == f"p-{item.id}"
    async with sessions() as session:
        question = (await session.execute(select(Question))).scalar_one()
    assert (question.status, question.answered_by, question.faq_slug) == (
        "answered",
        "bot",
        "thu_viec",
    )
    assert outbox_wakeup.calls == 0
    assert not await outbox_worker(sessions, clock, sender).step()


async def test_a_new_reply_waits_behind_an_earlier_one_whose_send_is_being_retried(sessions):
    clock, outbox_wakeup = Clock(), CountingWakeup()
    sender = Sender(SendError("HTTP 503", retryable=True))
    rasa = Rasa(answer("Câu trả lời 1."), answer("Câu trả lời 2."))
    worker = dispatcher(sessions, rasa, clock, sender, outbox_wakeup)
    await member_says(sessions, clock, "m1")
    assert await worker.step()  # its send fails: retried later by the outbox worker
    [first] = await items(sessions)
    assert (first.status, first.attempts, first.lease_owner) == ("pending", 1, None)
    assert first.next_attempt_at > clock.now
    await member_says(sessions, clock, "m2")
    calls = outbox_wakeup.calls
    assert await worker.step()
    assert sender.sent == []  # not sent past the first reply
    _, second = await items(sessions)
    assert (second.status, second.lease_owner) == ("pending", None)
    assert outbox_wakeup.calls > calls
    outbox = outbox_worker(sessions, clock, sender)
    assert not await outbox.step()  # the first is not due, the second waits behind it
    clock.now = first.next_attempt_at
    while await outbox.step():
        pass
    assert [m.text for m in sender.sent] == ["Câu trả lời 1.", "Câu trả lời 2."]
    assert [i.status for i in await items(sessions)] == ["sent", "sent"]


async def test_a_dispatcher_that_dies_before_sending_leaves_its_replies_to_the_outbox(sessions):
    clock, stuck = Clock(), Sender()
    stuck.gate = asyncio.Event()  # never opened: the process dies before the send goes out
    await member_says(sessions, clock, "m1")
    worker = dispatcher(sessions, Rasa(answer("Tối đa 60 ngày.")), clock, stuck)
    step = asyncio.create_task(worker.step())
    await asyncio.wait_for(stuck.started.wait(), 10)
    step.cancel()
    [item] = await items(sessions)
    assert (item.status, item.lease_owner) == ("pending", "d")
    sender = Sender()
    outbox = outbox_worker(sessions, clock, sender)
    assert not await outbox.step()  # the dead dispatcher's lease still holds
    clock.now += LEASE + dt.timedelta(seconds=1)
    assert await outbox.step()
    assert not await outbox.step()
    assert [m.text for m in sender.sent] == ["Tối đa 60 ngày."] and stuck.sent == []
    [item] = await items(sessions)
    assert (item.status, item.lease_owner) == ("sent", None)


async def test_after_a_failed_send_the_rest_of_the_turn_follows_it_through_the_outbox(sessions):
    clock, outbox_wakeup = Clock(), CountingWakeup()
    sender = Sender(SendError("HTTP 503", retryable=True))
    await member_says(sessions, clock, "m1")
    worker = dispatcher(sessions, Rasa(answer("Phần 1.", "Phần 2.")), clock, sender, outbox_wakeup)
    assert await worker.step()
    first, second = await items(sessions)
    assert (first.status, first.attempts, first.lease_owner) == ("pending", 1, None)
    assert (second.status, second.attempts, second.lease_owner) == ("pending", 0, None)
    assert sender.sent == [] and outbox_wakeup.calls == 1
    outbox = outbox_worker(sessions, clock, sender)
    clock.now = first.next_attempt_at
    while await outbox.step():
        pass
    assert [m.text for m in sender.sent] == ["Phần 1.", "Phần 2."]


async def test_a_reply_that_fails_for_good_escalates_and_the_outbox_sends_the_next(sessions):
    clock = Clock()
    sender = Sender(SendError("user blocked the page", retryable=False))
    conversation_id = await member_says(sessions, clock, "m1")
    worker = dispatcher(sessions, Rasa(answer("Phần 1.", "Phần 2.")), clock, sender)
    assert await worker.step()
    first, second = await items(sessions)
    assert (first.status, second.status, second.lease_owner) == ("failed", "pending", None)
    async with sessions() as session:
        assert (await session.get(Conversation, conversation_id)).mode == "waiting_staff"
    assert await outbox_worker(sessions, clock, sender).step()
    assert [m.text for m in sender.sent] == ["Phần 2."]


async def test_the_dispatcher_leaves_the_rest_to_the_outbox_when_half_its_lease_is_gone(
    sessions,
):
    clock, sender, outbox_wakeup = Clock(), Sender(), CountingWakeup()

    def slow() -> None:
        clock.now += LEASE / 2 + dt.timedelta(seconds=1)

    sender.on_send = slow
    await member_says(sessions, clock, "m1")
    worker = dispatcher(sessions, Rasa(answer("Phần 1.", "Phần 2.")), clock, sender, outbox_wakeup)
    assert await worker.step()
    assert [m.text for m in sender.sent] == ["Phần 1."]
    first, second = await items(sessions)
    assert (first.status, second.status, second.lease_owner) == ("sent", "pending", None)
    assert outbox_wakeup.calls == 1
    outbox = outbox_worker(sessions, clock, sender)
    assert await outbox.step()
    assert not await outbox.step()
    assert [m.text for m in sender.sent] == ["Phần 1.", "Phần 2."]


async def test_a_reply_stored_behind_the_dispatchers_while_it_sends_wakes_the_outbox(sessions):
    clock, sender, outbox_wakeup = Clock(), Sender(), CountingWakeup()
    sender.gate = asyncio.Event()
    conversation_id = await member_says(sessions, clock, "m1")
    worker = dispatcher(sessions, Rasa(answer("Bot trả lời.")), clock, sender, outbox_wakeup)
    step = asyncio.create_task(worker.step())
    await asyncio.wait_for(sender.started.wait(), 10)
    async with sessions() as session, session.begin():
        conversation = await session.get(Conversation, conversation_id)
        await do_enqueue_reply(session, conversation, Reply("staff", "text", "Cán bộ."), clock.now)
    outbox = outbox_worker(sessions, clock, sender)
    assert not await outbox.step()  # behind the reply being sent
    sender.gate.set()
    assert await asyncio.wait_for(step, 10)
    assert outbox_wakeup.calls == 1
    assert await outbox.step()
    assert [m.text for m in sender.sent] == ["Bot trả lời.", "Cán bộ."]


async def test_only_sends_recorded_as_sent_are_remembered_for_their_echoes(sessions):
    clock, recent = Clock(), RecentSends()
    sender = Sender(SendError("HTTP 503", retryable=True))
    worker = dispatcher(sessions, Rasa(answer("Tối đa 60 ngày.")), clock, sender, recent=recent)
    await member_says(sessions, clock, "m1")
    assert await worker.step()  # the send fails: nothing to remember
    [item] = await items(sessions)
    echo = PageEcho("sandbox", "p", "u", f"p-{item.id}", "Tối đa 60 ngày.")
    assert not recent.covers(echo)
    clock.now += dt.timedelta(minutes=5)
    retrying = OutboxWorker(
        sessions, {"sandbox": sender}, worker_id="o", lease=LEASE, clock=clock, recent=recent
    )
    assert await retrying.step()
    [item] = await items(sessions)
    assert item.status == "sent"
    assert recent.covers(echo)
    assert not recent.covers(PageEcho("sandbox", "p", "u", "p-other", "Tối đa 60 ngày."))
