"""Dispatchers and outbox workers pass the baton: one commit wakes one worker, and a backlog
still spreads over all of them. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.channels.base import InboundMessage, OutboundMessage
from bot.ops.inbox import do_record_inbound
from bot.workers.dispatcher import Dispatcher
from bot.workers.loop import Wakeup, run_forever
from bot.workers.outbox import OutboxWorker

LEASE = dt.timedelta(seconds=60)
POLL = 60.0  # long: only wakeups move the workers here


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SlowRasa:
    """Answers after a while, counting the turns it serves at once."""

    def __init__(self, turns: int = 0) -> None:
        self.running = 0
        self.most = 0
        self.left = turns
        self.served_all = asyncio.Event()

    async def turn(self, sender_id: str, text: str, metadata: dict) -> list[dict]:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.05)
        self.running -= 1
        self.left -= 1
        if self.left == 0:
            self.served_all.set()
        return [{"custom": {"kind": "answer", "faq": "thu_viec", "text": "Tối đa 60 ngày."}}]


class Sender:
    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> str:
        self.sent.append(message)
        return f"p-{message.outbox_id}"


async def members_write(sessions, count: int) -> None:
    for number in range(count):
        async with sessions() as session, session.begin():
            await do_record_inbound(
                session,
                InboundMessage("sandbox", "p", f"u{number}", f"m{number}", "thu viec may ngay"),
                now=now(),
                reply_target=dt.timedelta(hours=24),
            )


async def test_a_backlog_woken_by_one_notify_spreads_over_the_dispatchers(sessions):
    rasa, outbox_wakeup, wakeup = SlowRasa(turns=6), Wakeup(), Wakeup()
    workers = [
        Dispatcher(
            sessions,
            rasa,
            worker_id=f"d{n}",
            lease=LEASE,
            escalate_after=dt.timedelta(minutes=10),
            outbox_wakeup=outbox_wakeup,
            clock=now,
            wakeup=wakeup,
        )
        for n in range(3)
    ]
    tasks = [
        asyncio.create_task(run_forever(f"d{n}", w.step, wakeup, POLL))
        for n, w in enumerate(workers)
    ]
    await asyncio.sleep(0.2)  # each has looked once and waits
    await members_write(sessions, 6)
    wakeup.notify()
    try:
        async with asyncio.timeout(20):
            await rasa.served_all.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert rasa.most >= 2


async def test_an_outbox_worker_passes_the_baton_after_each_claim(sessions):
    class Counting(Wakeup):
        calls = 0

        def notify(self) -> None:
            self.calls += 1
            super().notify()

    await members_write(sessions, 2)
    dispatcher = Dispatcher(
        sessions,
        SlowRasa(),
        worker_id="d",
        lease=LEASE,
        escalate_after=dt.timedelta(minutes=10),
        outbox_wakeup=Wakeup(),
        clock=now,
    )
    while await dispatcher.step():
        pass
    wakeup = Counting()
    outbox = OutboxWorker(
        sessions, {"sandbox": Sender()}, worker_id="o", lease=LEASE, clock=now, wakeup=wakeup
    )
    assert await outbox.step() and wakeup.calls == 1
    assert await outbox.step() and wakeup.calls == 2
    assert not await outbox.step() and wakeup.calls == 2
