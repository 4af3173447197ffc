"""A new job is claimed for an idle dispatcher in the transaction that expands its message, and
handed over after the commit: head of line only, never lost when that transaction fails, on
SQLite (table and receive log) and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select

from bot.db.group_commit import GroupCommit, table_writer
from bot.db.models import DispatchJob
from bot.db.receive_log import row as log_row
from bot.ops import deliveries
from bot.workers import deliveries as expanding
from bot.workers.deliveries import DeliveryExpander
from bot.workers.dispatcher import Dispatcher
from bot.workers.handoff import Handoff
from bot.workers.loop import Wakeup
from tests.workers.test_deliveries import (  # noqa: F401 (fixtures)
    ACCOUNTS,
    T0,
    Clock,
    CountingWakeup,
    body,
    receive_log,
    sqlite_sessions,
)

LEASE = dt.timedelta(seconds=60)


class Rasa:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def turn(self, sender_id: str, text: str, metadata: dict) -> list[dict]:
        self.asked.append(text)
        return [{"custom": {"kind": "answer", "faq": "thu_viec", "text": "Tối đa 60 ngày."}}]


class Pieces:
    """An expander and dispatchers sharing one handoff, as a gateway wires them."""

    def __init__(self, sessions, dispatchers: int = 1, log=None) -> None:
        self.sessions = sessions
        self.clock = Clock()
        self.wakeup = CountingWakeup()
        self.handoff = Handoff(LEASE)
        self.rasa = Rasa()
        self.expander = DeliveryExpander(
            sessions,
            ACCOUNTS,
            lambda _channel, _page: dt.timedelta(hours=24),
            self.wakeup,
            self.clock,
            receive_log=log,
            handoff=self.handoff,
        )
        self.dispatchers = [
            Dispatcher(
                sessions,
                self.rasa,
                worker_id=f"d{n}",
                lease=LEASE,
                escalate_after=dt.timedelta(minutes=10),
                outbox_wakeup=Wakeup(),
                clock=self.clock,
                wakeup=self.wakeup,
                handoff=self.handoff,
            )
            for n in range(dispatchers)
        ]
        self.store = GroupCommit(
            log.write if log is not None else table_writer(sessions.kw["bind"], deliveries.TABLE)
        )
        self.row = log_row if log is not None else deliveries.received

    async def idle(self) -> list[asyncio.Task[None]]:
        """Every dispatcher waiting, idle, for a long while."""
        waiting = [asyncio.create_task(d.wait(3600)) for d in self.dispatchers]
        await asyncio.sleep(0)
        return waiting

    async def member_writes(self, *mids: str, who: str = "anna") -> None:
        for mid in mids:
            await self.store.add(self.row("facebook", body(who, mid, f"cau hoi {mid}"), T0))

    async def leases(self) -> list[str | None]:
        async with self.sessions() as session:
            jobs = await session.scalars(select(DispatchJob).order_by(DispatchJob.id))
            return [job.lease_owner for job in jobs]


async def test_a_new_job_is_claimed_for_an_idle_dispatcher_and_handed_over(sessions):
    pieces = Pieces(sessions)
    [idle] = await pieces.idle()
    await pieces.member_writes("m1")
    assert await pieces.expander.step() is True
    assert await pieces.leases() == ["d0"]  # claimed in the expanding transaction
    await asyncio.wait_for(idle, 1)  # handed over: the dispatcher stops waiting
    assert pieces.wakeup.notified == 0  # nobody else woken to claim it
    [dispatcher] = pieces.dispatchers
    assert await dispatcher.step() is True
    assert pieces.rasa.asked == ["cau hoi m1"]
    async with sessions() as session:
        assert (await session.scalar(select(DispatchJob.status))) == "done"


async def test_from_the_sqlite_receive_log_too(sqlite_sessions, receive_log):  # noqa: F811
    pieces = Pieces(sqlite_sessions, log=receive_log)
    [idle] = await pieces.idle()
    await pieces.member_writes("m1")
    assert await pieces.expander.step() is True
    assert await pieces.leases() == ["d0"]
    await asyncio.wait_for(idle, 1)
    assert await pieces.dispatchers[0].step() is True
    assert pieces.rasa.asked == ["cau hoi m1"]


async def test_only_the_head_of_a_conversation_is_handed_over(sessions):
    pieces = Pieces(sessions, dispatchers=2)
    waiting = await pieces.idle()
    await pieces.member_writes("m1", "m2")  # one member, two messages: strictly in order
    assert await pieces.expander.step() is True
    owners = await pieces.leases()
    assert owners[1] is None and owners[0] in {"d0", "d1"}
    await asyncio.wait_for(asyncio.gather(*waiting), 1)  # both let go: one with a job
    assert pieces.wakeup.notified == 1  # the second job is left to a claim, after the first
    handed = [d for d in pieces.dispatchers if d._handed is not None]
    assert [d._worker for d in handed] == [owners[0]]


async def test_without_an_idle_dispatcher_a_job_waits_for_a_claim(sessions):
    pieces = Pieces(sessions)
    await pieces.member_writes("m1")
    assert await pieces.expander.step() is True
    assert await pieces.leases() == [None]
    assert pieces.wakeup.notified == 1


async def test_a_failed_transaction_lets_the_dispatcher_go_and_leaves_the_job_free(
    sessions, monkeypatch
):
    real_claim = expanding.claim_with_context

    async def claim_then_fail(*args, **kwargs):
        await real_claim(*args, **kwargs)
        raise RuntimeError("the transaction fails after the claim")

    monkeypatch.setattr(expanding, "claim_with_context", claim_then_fail)
    pieces = Pieces(sessions)
    [idle] = await pieces.idle()
    await pieces.member_writes("m1")
    assert await pieces.expander.step() is True  # then expanded alone, without a handoff
    await asyncio.wait_for(idle, 1)
    [dispatcher] = pieces.dispatchers
    assert dispatcher._handed is None
    assert await pieces.leases() == [None]  # the claim was rolled back
    assert pieces.wakeup.notified >= 1
    assert await dispatcher.step() is True  # so it claims the job itself
    assert pieces.rasa.asked == ["cau hoi m1"]


async def test_a_reserved_dispatcher_waits_for_its_job_even_when_woken():
    handoff, wakeup = Handoff(LEASE), Wakeup()
    waiting = asyncio.create_task(handoff.wait("d0", wakeup, 3600))
    await asyncio.sleep(0)
    assert handoff.reserve() == "d0"
    wakeup.notify()
    await asyncio.sleep(0.01)
    assert not waiting.done()  # woken, but a claim may be on its way
    job = object()
    handoff.give("d0", job)  # type: ignore[arg-type]
    assert await waiting is job


async def test_a_woken_or_stopped_dispatcher_is_no_longer_idle():
    handoff, wakeup = Handoff(LEASE), Wakeup()
    woken = asyncio.create_task(handoff.wait("d0", wakeup, 3600))
    stopped = asyncio.create_task(handoff.wait("d1", wakeup, 3600))
    await asyncio.sleep(0)
    wakeup.notify()
    assert await asyncio.wait_for(woken, 1) is None
    stopped.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopped
    assert handoff.reserve() is None


async def test_several_conversations_go_to_several_idle_dispatchers(sessions):
    pieces = Pieces(sessions, dispatchers=3)
    waiting = await pieces.idle()
    await pieces.member_writes("m1", who="anna")
    await pieces.member_writes("m2", who="binh")
    assert await pieces.expander.step() is True
    owners = await pieces.leases()
    assert None not in owners and len(set(owners)) == 2
    done, still_idle = await asyncio.wait(waiting, timeout=1)
    assert (len(done), len(still_idle)) == (2, 1)  # two handed a job, the third left idle
    for task in still_idle:
        task.cancel()
    assert pieces.wakeup.notified == 0
    assert sorted(d._worker for d in pieces.dispatchers if d._handed is not None) == sorted(owners)


async def test_a_job_claimed_for_a_dispatcher_that_stopped_meanwhile_is_released(
    sessions, monkeypatch
):
    pieces = Pieces(sessions)
    [idle] = await pieces.idle()
    real_claim = expanding.claim_with_context

    async def claim_as_the_process_stops(*args, **kwargs):
        claimed = await real_claim(*args, **kwargs)
        idle.cancel()  # the dispatcher is stopped before the expander commits
        await asyncio.sleep(0)
        return claimed

    monkeypatch.setattr(expanding, "claim_with_context", claim_as_the_process_stops)
    await pieces.member_writes("m1")
    assert await pieces.expander.step() is True
    assert idle.cancelled()
    assert await pieces.leases() == [None]  # free at once, not held until the lease ends


async def test_an_expander_cancelled_between_claim_and_commit_lets_the_dispatcher_go(
    sessions, monkeypatch
):
    real_claim = expanding.claim_with_context

    async def claim_then_stop(*args, **kwargs):
        await real_claim(*args, **kwargs)
        raise asyncio.CancelledError

    monkeypatch.setattr(expanding, "claim_with_context", claim_then_stop)
    pieces = Pieces(sessions)
    [idle] = await pieces.idle()
    await pieces.member_writes("m1")
    with pytest.raises(asyncio.CancelledError):
        await pieces.expander.step()
    await asyncio.wait_for(idle, 1)
    assert pieces.dispatchers[0]._handed is None
    assert await pieces.leases() == []  # the whole expansion rolled back: tried again later
