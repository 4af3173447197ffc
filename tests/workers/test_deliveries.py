"""Webhook deliveries: stored together as received (group commit), then expanded in order."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from bot.channels.accounts import accounts_from_env
from bot.db.group_commit import GroupCommit, table_writer
from bot.db.migrate import upgrade
from bot.db.models import Conversation, DispatchJob, Message, Question, WebhookDelivery
from bot.db.receive_log import RECEIVED, open_receive_log, receive_log_url
from bot.db.receive_log import row as log_row
from bot.db.session import create_engine, session_factory
from bot.inbox import Inbox
from bot.ops import deliveries
from bot.workers.deliveries import DeliveryExpander
from bot.workers.loop import Wakeup
from tests.helpers.databases import sqlite_url

T0 = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)
PAGE = "1234567890"
ACCOUNTS = accounts_from_env(
    {
        "FACEBOOK_VERIFY_TOKEN": "vt",
        "FACEBOOK_PAGES": PAGE,
        f"FACEBOOK_PAGE_{PAGE}_APP_SECRET": "secret",
        f"FACEBOOK_PAGE_{PAGE}_ACCESS_TOKEN": "token",
    }
)


def body(psid: str, mid: str, text: str) -> bytes:
    event_ = {
        "sender": {"id": psid},
        "recipient": {"id": PAGE},
        "timestamp": 1_763_798_400_000,
        "message": {"mid": mid, "text": text},
    }
    entry = {"id": PAGE, "time": 1_763_798_400_000, "messaging": [event_]}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


class CountingWakeup(Wakeup):
    def __init__(self) -> None:
        super().__init__()
        self.notified = 0

    def notify(self) -> None:
        self.notified += 1
        super().notify()


@pytest.fixture
def engine(sessions):
    return sessions.kw["bind"]


def expander(sessions, clock, wakeup=None, receive_log=None, settle=None) -> DeliveryExpander:
    return DeliveryExpander(
        sessions,
        ACCOUNTS,
        lambda _channel, _page: dt.timedelta(hours=24),
        wakeup or Wakeup(),
        clock,
        receive_log=receive_log,
        settle=settle,
    )


async def waiting(sessions) -> list[WebhookDelivery]:
    async with sessions() as session:
        found = await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
        return list(found)


async def member_texts(sessions) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Conversation.user_id, Message.text)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.direction == "in")
            .order_by(Message.id)
        )
        return [tuple(row) for row in rows]


async def test_concurrent_rows_share_commits_and_each_caller_waits_for_its_own(sessions, engine):
    commits = []
    event.listen(engine.sync_engine, "commit", lambda _conn: commits.append(1))
    group = GroupCommit(table_writer(engine, deliveries.TABLE))

    async def one(n: int) -> bool:
        await group.add(deliveries.received("facebook", body("p", f"m{n}", "hi"), T0))
        async with sessions() as session:  # another connection: committed means visible
            return (
                await session.scalar(
                    select(func.count())
                    .select_from(WebhookDelivery)
                    .where(WebhookDelivery.body == body("p", f"m{n}", "hi"))
                )
                == 1
            )

    visible = await asyncio.gather(*(one(n) for n in range(50)))
    assert all(visible)
    assert len(await waiting(sessions)) == 50
    assert 1 <= len(commits) < 10  # 50 rows, arriving together: a few commits, not 50


async def test_a_failing_commit_reaches_every_caller_of_its_batch_and_nothing_is_stored(
    sessions, engine
):
    group = GroupCommit(table_writer(engine, deliveries.TABLE))
    good = deliveries.received("facebook", body("p", "m1", "hi"), T0)
    bad = {**good, "channel": None}  # NOT NULL: the whole transaction fails
    results = await asyncio.gather(group.add(good), group.add(bad), return_exceptions=True)
    assert all(isinstance(result, Exception) for result in results)
    assert await waiting(sessions) == []
    await group.add(good)  # the writer carries on with the next batch
    assert len(await waiting(sessions)) == 1


async def test_deliveries_expand_in_arrival_order_once_and_are_deleted(sessions, engine):
    group = GroupCommit(table_writer(engine, deliveries.TABLE))
    clock, wakeup = Clock(), CountingWakeup()
    arriving = [
        body("anna", "m1", "luong toi thieu"),
        body("binh", "m2", "bhxh"),
        body("anna", "m3", "con nua"),
        body("anna", "m1", "luong toi thieu"),  # Messenger's redelivery of the first
    ]
    for raw in arriving:
        await group.add(deliveries.received("facebook", raw, clock.now))
    clock.now = T0 + dt.timedelta(minutes=5)  # expanded later than received
    worker = expander(sessions, clock, wakeup)
    assert await worker.step() is True
    assert await member_texts(sessions) == [
        ("anna", "luong toi thieu"),
        ("binh", "bhxh"),
        ("anna", "con nua"),
    ]
    assert await waiting(sessions) == []
    assert wakeup.notified == 1
    async with sessions() as session:
        jobs = await session.scalar(select(func.count()).select_from(DispatchJob))
        opened = set(await session.scalars(select(Question.opened_at)))
    assert jobs == 3
    assert opened == {T0}  # the 24-hour clock starts when the delivery arrived
    assert await worker.step() is False


async def test_a_delivery_that_cannot_be_expanded_is_kept_and_the_others_go_through(
    sessions, engine
):
    group = GroupCommit(table_writer(engine, deliveries.TABLE))
    clock = Clock()
    await group.add(deliveries.received("facebook", body("anna", "m1", "mot"), T0))
    # a body the Zalo parser refuses: expanding it raises, as a bug in a parser would
    await group.add(deliveries.received("zalo", body("binh", "m2", "hai"), T0))
    await group.add(deliveries.received("facebook", body("anna", "m3", "ba"), T0))
    worker = expander(sessions, clock)
    assert await worker.step() is True
    assert await member_texts(sessions) == [("anna", "mot"), ("anna", "ba")]
    [kept] = await waiting(sessions)
    assert (kept.channel, kept.attempts) == ("zalo", 1)
    assert kept.last_error and "InvalidPayload" in kept.last_error
    assert kept.next_attempt_at > T0
    assert await worker.step() is False  # not due again yet
    clock.now = kept.next_attempt_at
    assert await worker.step() is True  # tried again, kept again, never dropped
    [kept] = await waiting(sessions)
    assert kept.attempts == 2


async def test_a_transaction_that_dies_after_taking_leaves_the_delivery(sessions, engine):
    group = GroupCommit(table_writer(engine, deliveries.TABLE))
    await group.add(deliveries.received("facebook", body("anna", "m1", "mot"), T0))
    with pytest.raises(RuntimeError):
        async with sessions() as session, session.begin():
            assert len(await deliveries.take_due(session, T0, 10)) == 1
            raise RuntimeError("the process died here")
    assert len(await waiting(sessions)) == 1
    assert await expander(sessions, Clock()).step() is True
    assert await member_texts(sessions) == [("anna", "mot")]


@pytest.fixture
async def sqlite_sessions(tmp_path):
    engine = create_engine(sqlite_url(tmp_path))
    await upgrade(engine)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def receive_log(sqlite_sessions):
    opened = await open_receive_log(receive_log_url(str(sqlite_sessions.kw["bind"].url)))
    yield opened
    await opened.close()


async def log_rows(receive_log) -> list[int]:
    async with receive_log.engine.connect() as connection:
        return list((await connection.execute(select(RECEIVED.c.id))).scalars())


async def cursor(sessions, receive_log) -> int:
    async with sessions() as session:
        last_id, _ = await deliveries.lock_log_cursor(session, receive_log.log_id)
        return last_id


async def test_the_sqlite_receive_log_is_expanded_in_order_then_pruned(
    sqlite_sessions, receive_log
):
    group = GroupCommit(receive_log.write)
    for mid, who, text in [("m1", "anna", "mot"), ("m2", "binh", "hai"), ("m3", "anna", "ba")]:
        await group.add(log_row("facebook", body(who, mid, text), T0))
    ids = await log_rows(receive_log)
    wakeup = CountingWakeup()
    assert await expander(sqlite_sessions, Clock(), wakeup, receive_log).step() is True
    assert await member_texts(sqlite_sessions) == [
        ("anna", "mot"),
        ("binh", "hai"),
        ("anna", "ba"),
    ]
    assert await cursor(sqlite_sessions, receive_log) == max(ids)
    assert await log_rows(receive_log) == []
    assert wakeup.notified == 1


async def test_rows_expanded_but_not_yet_pruned_are_never_expanded_again(
    sqlite_sessions, receive_log, monkeypatch
):
    group = GroupCommit(receive_log.write)
    await group.add(log_row("facebook", body("anna", "m1", "mot"), T0))
    real_prune = receive_log.prune

    async def dies(_up_to: int) -> None:
        raise RuntimeError("the process died after its commit")

    monkeypatch.setattr(receive_log, "prune", dies)
    with pytest.raises(RuntimeError):
        await expander(sqlite_sessions, Clock(), receive_log=receive_log).step()
    assert len(await log_rows(receive_log)) == 1  # committed, not pruned
    monkeypatch.setattr(receive_log, "prune", real_prune)
    await group.add(log_row("facebook", body("binh", "m2", "hai"), T0))
    assert await expander(sqlite_sessions, Clock(), receive_log=receive_log).step() is True
    assert await member_texts(sqlite_sessions) == [("anna", "mot"), ("binh", "hai")]
    async with sqlite_sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DispatchJob)) == 2
    assert await log_rows(receive_log) == []


async def test_with_nothing_new_a_step_takes_no_lock_that_claims_would_wait_for(
    sqlite_sessions, receive_log
):
    group = GroupCommit(receive_log.write)
    await group.add(log_row("facebook", body("anna", "m1", "mot"), T0))
    worker = expander(sqlite_sessions, Clock(), receive_log=receive_log)
    assert await worker.step() is True
    database = sqlite_sessions.kw["bind"].url.database
    holder = sqlite3.connect(database, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")  # a dispatcher's claim, say, holds the write lock
        assert await worker.step() is False  # (it would fail after the busy timeout)
    finally:
        holder.close()
    await group.add(log_row("facebook", body("binh", "m2", "hai"), T0))
    assert await worker.step() is True
    assert await member_texts(sqlite_sessions) == [("anna", "mot"), ("binh", "hai")]


async def test_two_gateways_on_one_sqlite_file_expand_each_row_once(sqlite_sessions, receive_log):
    url = str(sqlite_sessions.kw["bind"].url)
    other_engine = create_engine(url)
    other_log = await open_receive_log(receive_log_url(url))
    try:
        assert other_log.log_id == receive_log.log_id
        group = GroupCommit(receive_log.write)
        for n in range(30):
            await group.add(log_row("facebook", body(f"m{n % 3}", f"m{n}", f"so {n}"), T0))
        ids = await log_rows(receive_log)

        async def arriving(_within: float) -> bool:
            return True  # one delivery per transaction: the two take turns on the lock often

        workers = [
            expander(sqlite_sessions, Clock(), receive_log=receive_log, settle=arriving),
            expander(
                session_factory(other_engine), Clock(), receive_log=other_log, settle=arriving
            ),
        ]
        for _ in range(20):
            await asyncio.gather(*(worker.step() for worker in workers))
    finally:
        await other_log.close()
        await other_engine.dispose()
    texts = [text for _who, text in await member_texts(sqlite_sessions)]
    assert sorted(texts) == sorted(f"so {n}" for n in range(30))
    async with sqlite_sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DispatchJob)) == 30
    assert await cursor(sqlite_sessions, receive_log) == max(ids)


async def test_a_new_log_file_is_read_from_its_start_not_from_the_old_cursor(
    sqlite_sessions, receive_log
):
    group = GroupCommit(receive_log.write)
    for n in range(5):
        await group.add(log_row("facebook", body("anna", f"m{n}", f"so {n}"), T0))
    assert await expander(sqlite_sessions, Clock(), receive_log=receive_log).step() is True
    path = receive_log.engine.url.database
    await receive_log.close()
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)  # noqa: ASYNC240 (a test's set-up)
    fresh = await open_receive_log(receive_log_url(str(sqlite_sessions.kw["bind"].url)))
    try:
        assert fresh.log_id != receive_log.log_id
        await GroupCommit(fresh.write).add(log_row("facebook", body("binh", "m9", "moi"), T0))
        assert await expander(sqlite_sessions, Clock(), receive_log=fresh).step() is True
    finally:
        await fresh.close()
    assert (await member_texts(sqlite_sessions))[-1] == ("binh", "moi")


async def test_a_log_row_that_cannot_be_expanded_moves_to_the_table_for_another_try(
    sqlite_sessions, receive_log
):
    group = GroupCommit(receive_log.write)
    await group.add(log_row("facebook", body("anna", "m1", "mot"), T0))
    await group.add(log_row("zalo", body("binh", "m2", "hai"), T0))
    await group.add(log_row("facebook", body("anna", "m3", "ba"), T0))
    clock = Clock()
    worker = expander(sqlite_sessions, clock, receive_log=receive_log)
    assert await worker.step() is True
    assert await member_texts(sqlite_sessions) == [("anna", "mot"), ("anna", "ba")]
    assert await log_rows(receive_log) == []
    [kept] = await waiting(sqlite_sessions)
    assert (kept.channel, kept.attempts, kept.received_at) == ("zalo", 1, T0)
    assert kept.last_error and "InvalidPayload" in kept.last_error
    clock.now = kept.next_attempt_at
    assert await worker.step() is True  # the table's copy is tried again and kept again
    [kept] = await waiting(sqlite_sessions)
    assert kept.attempts == 2


async def test_while_webhooks_arrive_each_transaction_expands_one_delivery(
    sqlite_sessions, receive_log
):
    group = GroupCommit(receive_log.write)
    for n in range(3):
        await group.add(log_row("facebook", body("anna", f"m{n}", f"so {n}"), T0))
    asked: list[float] = []
    webhooks_arriving = True

    async def arriving(within: float) -> bool:
        asked.append(within)
        return webhooks_arriving

    worker = expander(sqlite_sessions, Clock(), receive_log=receive_log, settle=arriving)
    assert await worker.step() is True
    assert len(await member_texts(sqlite_sessions)) == 1
    assert asked and asked[0] > 0
    assert await worker.step() is True
    assert len(await member_texts(sqlite_sessions)) == 2
    assert await worker.step() is True
    assert len(await log_rows(receive_log)) == 3  # expanded one by one, pruned later
    assert await worker.step() is False
    assert len(await log_rows(receive_log)) == 3  # caught up, but webhooks still arrive
    webhooks_arriving = False
    assert await worker.step() is False
    assert await log_rows(receive_log) == []  # webhooks paused: pruned


async def test_settle_waits_for_deliveries_being_committed(sessions):
    release = asyncio.Event()

    async def slow_write(_rows):
        await release.wait()

    inbox = Inbox(
        sessions,
        GroupCommit(slow_write),
        deliveries.received,
        expand_wakeup=Wakeup(),
        dispatch_wakeup=Wakeup(),
        reply_target=lambda _c, _p: dt.timedelta(hours=24),
        clock=Clock(),
    )
    assert await inbox.settle(0.01) is False  # nothing arrived yet
    storing = asyncio.ensure_future(inbox.receive("facebook", body("anna", "m1", "mot")))
    await asyncio.sleep(0)
    started = asyncio.get_running_loop().time()
    assert await inbox.settle(0.2) is True  # waited its full time: still being committed
    assert asyncio.get_running_loop().time() - started >= 0.19
    release.set()
    await storing
    started = asyncio.get_running_loop().time()
    assert await inbox.settle(5) is True  # settled at once, and webhooks are arriving
    assert asyncio.get_running_loop().time() - started < 1
