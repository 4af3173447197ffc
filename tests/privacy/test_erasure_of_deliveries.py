"""An erasure also reaches the member's deliveries acknowledged but not expanded yet.

On both databases: ``make member ARGS="erase …"`` as a real process between a delivery's
acknowledgement and its expansion, then the expander as the gateway wires it (on SQLite with
the receive log beside the file).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url

from bot.channels.base import Ignored, InboundMessage, MemberEvent, PageEcho
from bot.db.migrate import upgrade
from bot.db.models import Erasure, WebhookDelivery
from bot.db.receive_log import ReceiveLog, open_receive_log, receive_log_url
from bot.db.receive_log import row as log_row
from bot.db.session import SessionFactory, create_engine, session_factory
from bot.member_command import NOTHING_HELD
from bot.member_command import utc_now as now
from bot.ops import deliveries, erasures
from bot.workers.deliveries import ERASURES_CHECK, DeliveryExpander
from tests.helpers.databases import sqlite_url
from tests.privacy.commands import member_command
from tests.privacy.test_retention import count, dump
from tests.workers.test_deliveries import PAGE, Clock, expander, member_texts

ERASED = "6100000000000001"
OTHER = "6100000000000002"
SECRET_WORDS = "Tôi là Hoa, số 0912 345 678, công ty nợ lương"


def delivery(*events: tuple[str, str, str]) -> bytes:
    """A Messenger delivery with a text message for each (psid, mid, text)."""
    messaging = [
        {
            "sender": {"id": psid},
            "recipient": {"id": PAGE},
            "timestamp": 1_763_798_400_000,
            "message": {"mid": mid, "text": text},
        }
        for psid, mid, text in events
    ]
    entry = {"id": PAGE, "time": 1_763_798_400_000, "messaging": messaging}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


class Gateway:
    """Stores deliveries as the webhook does and expands them as the gateway's worker does."""

    def __init__(self, sessions: SessionFactory, log: ReceiveLog | None) -> None:
        self.sessions = sessions
        self.log = log
        self.expander: DeliveryExpander = expander(sessions, now, receive_log=log)

    async def acknowledge(self, raw: bytes, channel: str = "facebook") -> None:
        if self.log is not None:
            await self.log.write([log_row(channel, raw, now())])
            return
        async with self.sessions() as session, session.begin():
            row = deliveries.received(channel, raw, now())
            await session.execute(insert(deliveries.TABLE), row)

    async def expand_all(self) -> None:
        while await self.expander.step():
            pass


@contextlib.asynccontextmanager
async def gateway(sessions: SessionFactory, database_url: str) -> AsyncIterator[Gateway]:
    log_url = receive_log_url(database_url)
    log = None if log_url is None else await open_receive_log(log_url)
    try:
        yield Gateway(sessions, log)
    finally:
        if log is not None:
            await log.close()


async def erase(database_url: str, tmp_path: Path) -> str:
    args = ["erase", "facebook", PAGE, ERASED]
    status, stdout, stderr = await member_command(args, tmp_path, {"DATABASE_URL": database_url})
    assert status == 0, stderr
    return stdout.strip()


@pytest.mark.parametrize("first", [True, False], ids=["first-expansion", "later-expansion"])
async def test_a_delivery_acknowledged_before_the_erasure_is_expanded_without_the_member(
    sessions, database_url, tmp_path, first
):
    async with gateway(sessions, database_url) as gw:
        if not first:  # SQLite: the receive log's cursor is there (another statement reads it)
            await gw.acknowledge(delivery((OTHER, "m0", "xin chao")))
            await gw.expand_all()
        await gw.acknowledge(
            delivery((ERASED, "m1", SECRET_WORDS), (OTHER, "m2", "luong toi thieu vung 1"))
        )
        assert await erase(database_url, tmp_path) == NOTHING_HELD  # nothing expanded yet
        await gw.acknowledge(delivery((ERASED, "m3", "cho hoi lai")))  # writes again, after
        await gw.expand_all()
    assert await member_texts(sessions) == [
        *([] if first else [(OTHER, "xin chao")]),
        (OTHER, "luong toi thieu vung 1"),
        (ERASED, "cho hoi lai"),
    ]
    assert SECRET_WORDS not in await dump(sessions)


async def test_a_kept_delivery_is_expanded_without_a_member_erased_since(
    sessions, database_url, tmp_path
):
    raw = delivery((ERASED, "m1", SECRET_WORDS), (OTHER, "m2", "nghi phep"))
    async with sessions() as session, session.begin():  # kept after a failed expansion
        kept = deliveries.received("facebook", raw, now() - dt.timedelta(hours=2))
        await session.execute(insert(deliveries.TABLE), {**kept, "attempts": 3})
    assert await erase(database_url, tmp_path) == NOTHING_HELD
    async with gateway(sessions, database_url) as gw:
        await gw.expand_all()
    assert await member_texts(sessions) == [(OTHER, "nghi phep")]
    assert SECRET_WORDS not in await dump(sessions)
    assert await count(sessions, WebhookDelivery) == 0


async def test_an_erasure_is_forgotten_once_no_waiting_delivery_needs_it(sessions):
    erased_at = now()
    async with sessions() as session, session.begin():
        await erasures.do_record(session, "facebook", PAGE, ERASED, erased_at)
        old = deliveries.received("facebook", delivery((OTHER, "m1", "hi")), erased_at)
        later = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)  # kept, not due for a long time
        await session.execute(insert(deliveries.TABLE), {**old, "next_attempt_at": later})

    clock = Clock()
    clock.now = erased_at
    worker = expander(sessions, clock)
    assert await worker.step() is False
    assert await count(sessions, Erasure) == 1  # within KEEP_AT_LEAST
    clock.now += erasures.KEEP_AT_LEAST + ERASURES_CHECK
    assert await worker.step() is False
    assert await count(sessions, Erasure) == 1  # the kept delivery still needs it
    async with sessions() as session, session.begin():
        [waiting] = (await session.execute(select(WebhookDelivery))).scalars()
        await session.delete(waiting)
    assert await worker.step() is False
    assert await count(sessions, Erasure) == 1  # checked at most once a minute
    clock.now += ERASURES_CHECK
    assert await worker.step() is False
    assert await count(sessions, Erasure) == 0


def test_only_the_erased_members_events_on_that_page_are_left_out():
    salt = b"s" * erasures.SALT_BYTES
    erased = [(salt, erasures.digest(salt, "facebook", PAGE, ERASED))]
    events = [
        InboundMessage("facebook", PAGE, ERASED, "m1", "xin chao"),
        InboundMessage("facebook", PAGE, OTHER, "m2", "xin chao"),
        InboundMessage("facebook", "another-page", ERASED, "m3", "xin chao"),
        InboundMessage("zalo", PAGE, ERASED, "m4", "xin chao"),
        PageEcho("facebook", PAGE, ERASED, "m5", "Cán bộ trả lời"),
        MemberEvent("zalo", PAGE, ERASED, "follow"),
        Ignored("facebook", PAGE, "read"),
    ]
    zalo = [(salt, erasures.digest(salt, "zalo", PAGE, ERASED))]
    assert erasures.without_erased(events, erased) == [events[i] for i in (1, 2, 3, 5, 6)]
    assert erasures.without_erased(events, zalo) == [events[i] for i in (0, 1, 2, 4, 6)]


async def test_erase_waits_for_an_expansion_under_way_and_covers_what_arrived_meanwhile(
    sessions, database_url, tmp_path
):
    async with gateway(sessions, database_url) as gw:
        async with sessions() as session, session.begin():
            await deliveries.lock_expansion(session)  # an expander's transaction, still open
            erasing = asyncio.create_task(erase(database_url, tmp_path))
            await asyncio.sleep(3)  # the command has started and waits for the lock
            assert not erasing.done()
            # acknowledged after the command started, before it could record the erasure
            await gw.acknowledge(delivery((ERASED, "m1", SECRET_WORDS)))
        assert await asyncio.wait_for(erasing, 30) == NOTHING_HELD
        await gw.expand_all()
    assert SECRET_WORDS not in await dump(sessions)
    assert await member_texts(sessions) == []


async def test_a_batch_expanded_one_by_one_after_a_failure_still_leaves_the_member_out(
    sessions, database_url, tmp_path
):
    async with gateway(sessions, database_url) as gw:
        await gw.acknowledge(delivery((ERASED, "m1", SECRET_WORDS), (OTHER, "m2", "thai san")))
        assert await erase(database_url, tmp_path) == NOTHING_HELD
        # in the same batch, a body the Zalo parser refuses (as a bug in a parser would)
        await gw.acknowledge(delivery((OTHER, "m3", "hai")), channel="zalo")
        await gw.expand_all()
    assert await member_texts(sessions) == [(OTHER, "thai san")]
    assert SECRET_WORDS not in await dump(sessions)
    async with sessions() as session:
        [kept] = (await session.execute(select(WebhookDelivery))).scalars()
    assert kept.channel == "zalo"


async def test_an_erasure_stays_while_the_receive_log_holds_rows_not_expanded(tmp_path):
    engine = create_engine(sqlite_url(tmp_path))
    await upgrade(engine)
    sessions = session_factory(engine)
    log = await open_receive_log(receive_log_url(str(engine.url)))
    try:
        erased_at = now() - erasures.KEEP_AT_LEAST - dt.timedelta(minutes=1)
        async with sessions() as session, session.begin():
            await erasures.do_record(session, "facebook", PAGE, ERASED, erased_at)
        # written before the erasure, committed only now (no expander has seen it yet)
        await log.write([log_row("facebook", delivery((OTHER, "m1", "hi")), erased_at)])
        worker = expander(sessions, now, receive_log=log)
        await worker._forget_erasures(now())
        assert await count(sessions, Erasure) == 1
        await Gateway(sessions, log).expand_all()
        await worker._forget_erasures(now())
        assert await count(sessions, Erasure) == 0
    finally:
        await log.close()
        await engine.dispose()


async def test_postgresql_statements_read_committed_whatever_the_server_default(
    database_url, sessions
):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's isolation level")
    name = make_url(database_url).database
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                f"ALTER DATABASE \"{name}\" SET default_transaction_isolation = 'repeatable read'"
            )
        )
    engine = create_engine(database_url)  # new connections get the new default
    try:
        async with session_factory(engine)() as session, session.begin():
            level = (await session.execute(text("SHOW transaction_isolation"))).scalar_one()
    finally:
        await engine.dispose()
    assert level == "read committed"
