"""Retention on SQLite and PostgreSQL: idle conversations are anonymised or deleted, the reply
ledger and the report figures stay exactly as they were, and several sweepers share the work."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Table, func, insert, select

from bot.app import create_app
from bot.db.models import (
    AuditEntry,
    Base,
    Conversation,
    DeadlineWarning,
    DispatchJob,
    FaqDraft,
    FaqFeedback,
    Message,
    Notification,
    OutboxItem,
    WebhookDelivery,
)
from bot.db.session import SessionFactory, create_engine, session_factory
from bot.ops.deliveries import received
from bot.ops.privacy import PSEUDONYM_PREFIX
from bot.settings import Settings
from bot.workers.retention import RetentionPolicy, RetentionSweeper
from tests.privacy import seed as data
from tests.privacy.seed import Seeded, ledger_rows, report_figures
from tools.paths import ROOT
from tools.stack import free_port

TRACES = (
    data.PSID,
    data.ZALO_USER,
    data.NAME,
    data.PHONE,
    data.EMAIL,
    "Dệt Phú Lâm",
    "chị Hoa",
    "hop-dong-hoa",
    "abcDEF123_-x",
    "m_old_",
)


async def seeded(sessions: SessionFactory, now: dt.datetime) -> Seeded:
    async with sessions() as session, session.begin():
        return await data.seed(session, now)


async def dump(sessions: SessionFactory, *leave_out: Table) -> str:
    """Every row of every table (but ``leave_out``), as text."""
    async with sessions() as session:
        tables = [
            [tuple(row) for row in await session.execute(select(table))]
            for table in Base.metadata.sorted_tables
            if table not in leave_out
        ]
    return repr(tables)


async def count(sessions: SessionFactory, model: Any, **where: Any) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(model).filter_by(**where)
        return (await session.execute(query)).scalar_one()


async def conversations(sessions: SessionFactory) -> dict[int, Conversation]:
    async with sessions() as session:
        return {c.id: c for c in (await session.execute(select(Conversation))).scalars()}


def sweeper(sessions: SessionFactory, mode: str, now: dt.datetime) -> RetentionSweeper:
    return RetentionSweeper(sessions, RetentionPolicy(365, mode), None, lambda: now)


async def sweep_all(step: Callable[[], Any]) -> None:
    while await step():
        pass


async def test_anonymise_forgets_idle_members_and_keeps_the_ledger(sessions, database_url):
    now = dt.datetime.now(dt.UTC)
    ids = await seeded(sessions, now)
    async with sessions() as session:
        ledger_before = await ledger_rows(session)
    figures_before = await report_figures(database_url, now)
    messages_before = await count(sessions, Message)
    kept_before = {cid: c for cid, c in (await conversations(sessions)).items()}

    await sweep_all(sweeper(sessions, "anonymise", now).step)

    async with sessions() as session:
        assert await ledger_rows(session) == ledger_before
    assert await report_figures(database_url, now) == figures_before
    after = await conversations(sessions)
    forgotten = [ids.old, ids.stickers, ids.sandbox]
    for cid in forgotten:
        assert after[cid].user_id.startswith(PSEUDONYM_PREFIX)
        assert after[cid].user_id != ids.user_ids[cid]
        assert (after[cid].channel, after[cid].page_id) == (
            kept_before[cid].channel,
            kept_before[cid].page_id,
        )
    assert len({after[cid].user_id for cid in forgotten}) == 3  # unlinkable to each other
    for cid in (ids.open_question, ids.recent):
        assert after[cid].user_id == ids.user_ids[cid]
    assert await count(sessions, Message) == messages_before  # anonymised, not deleted
    async with sessions() as session:
        old = (
            await session.execute(select(Message).where(Message.conversation_id == ids.old))
        ).scalars()
        assert all((m.text, m.data, m.platform_message_id) == ("", {}, None) for m in old)
        kept = (
            await session.execute(
                select(Message.text).where(Message.conversation_id == ids.recent)
            )
        ).scalars()
        assert "Còn vùng 2?" in list(kept)
        # the draft copied the member's question and a reply addressed to them
        assert (await session.execute(select(FaqDraft))).first() is None
        outbox = (
            await session.execute(select(OutboxItem).where(OutboxItem.conversation_id == ids.old))
        ).scalars()
        assert all((o.last_error, o.platform_message_id) == (None, None) for o in outbox)
    assert await count(sessions, FaqFeedback) == 1
    assert await count(sessions, DeadlineWarning) == await count(sessions, Notification) == 1
    assert await count(sessions, AuditEntry, action="retention") == 3
    everything = await dump(sessions)
    for trace in TRACES:
        assert trace not in everything, trace


async def test_delete_removes_what_the_ledger_does_not_need(sessions, database_url):
    now = dt.datetime.now(dt.UTC)
    ids = await seeded(sessions, now)
    async with sessions() as session:
        ledger_before = await ledger_rows(session)
    figures_before = await report_figures(database_url, now)
    recent_before = await count(sessions, Message, conversation_id=ids.recent)

    await sweep_all(sweeper(sessions, "delete", now).step)

    async with sessions() as session:
        assert await ledger_rows(session) == ledger_before
    assert await report_figures(database_url, now) == figures_before
    after = await conversations(sessions)
    assert ids.stickers not in after  # nothing of the ledger pointed to it
    assert after[ids.old].user_id.startswith(PSEUDONYM_PREFIX)
    assert after[ids.sandbox].user_id.startswith(PSEUDONYM_PREFIX)
    # old: the two questions' messages, the feedback's and the draft's stay (emptied); the
    # sticker and the chit-chat reply go, with every dispatch job and outbox item
    assert await count(sessions, Message, conversation_id=ids.old) == 5
    assert await count(sessions, Message, conversation_id=ids.sandbox) == 2
    assert await count(sessions, Message, conversation_id=ids.recent) == recent_before
    for model in (DispatchJob, OutboxItem):
        assert await count(sessions, model, conversation_id=ids.old) == 0
        assert await count(sessions, model, conversation_id=ids.recent) > 0
    assert await count(sessions, Message, text="") >= 7
    assert await count(sessions, FaqFeedback) == 1
    assert await count(sessions, AuditEntry, action="retention") == 3
    everything = await dump(sessions)
    for trace in TRACES:
        assert trace not in everything, trace


async def test_sweepers_in_several_processes_forget_each_conversation_once(sessions, database_url):
    now = dt.datetime.now(dt.UTC)
    ids = await seeded(sessions, now)
    engines = [create_engine(database_url) for _ in range(3)]
    try:
        sweepers = [sweeper(session_factory(e), "delete", now) for e in engines]
        await asyncio.gather(*(s.step() for s in sweepers))
    finally:
        for engine in engines:
            await engine.dispose()
    assert await count(sessions, AuditEntry, action="retention") == 3
    async with sessions() as session:
        targets = (await session.execute(select(AuditEntry.target))).scalars()
        assert sorted(targets) == sorted(
            f"conversation:{cid}" for cid in (ids.old, ids.stickers, ids.sandbox)
        )
    # a later sweep finds nothing more to do
    assert await sweeper(sessions, "anonymise", now).forget_batch() == ([], False)


async def test_a_member_writing_again_keeps_the_conversation(sessions):
    now = dt.datetime.now(dt.UTC)
    ids = await seeded(sessions, now)
    async with sessions() as session, session.begin():
        convo = await session.get(Conversation, ids.old)
        await data.Writer(session).message(convo, "member", "Tôi quay lại", now)
    later = now + dt.timedelta(days=30)
    done, _ = await sweeper(sessions, "anonymise", later).forget_batch()
    assert ids.old not in {f.conversation_id for f in done}
    assert (await conversations(sessions))[ids.old].user_id == data.PSID


def gateway_settings(database_url: str, days: int) -> Settings:
    nowhere = f"http://127.0.0.1:{free_port()}"
    return Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "FAQ_DIR": str(ROOT / "nlu_data" / "faq"),
            "RASA_URL": nowhere,
            "RETENTION_DAYS": str(days),
            "RETENTION_MODE": "anonymise",
        }
    )


async def test_the_gateway_sweeps_when_it_starts_unless_retention_is_off(sessions, database_url):
    now = dt.datetime.now(dt.UTC)
    ids = await seeded(sessions, now)
    off = create_app(gateway_settings(database_url, 0), clock=lambda: now)
    async with TestClient(TestServer(off)) as client:
        assert (await client.get("/healthz")).status == 200
        await asyncio.sleep(1.0)
    assert (await conversations(sessions))[ids.old].user_id == data.PSID

    on = create_app(gateway_settings(database_url, 365), clock=lambda: now)
    async with TestClient(TestServer(on)):
        for _ in range(100):
            if (await conversations(sessions))[ids.old].user_id != data.PSID:
                break
            await asyncio.sleep(0.1)
    after = await conversations(sessions)
    assert after[ids.old].user_id.startswith(PSEUDONYM_PREFIX)
    assert after[ids.recent].user_id == ids.user_ids[ids.recent]


def test_retention_settings():
    assert (Settings().retention_days, Settings().retention_mode) == (365, "anonymise")
    custom = Settings.from_env({"RETENTION_DAYS": "0", "RETENTION_MODE": "Delete"})
    assert (custom.retention_days, custom.retention_mode) == (0, "delete")
    for bad in ({"RETENTION_DAYS": "-1"}, {"RETENTION_MODE": "shred"}):
        try:
            Settings.from_env(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} accepted")


async def test_deliveries_unexpanded_past_the_retention_period_are_deleted(sessions):
    now = dt.datetime.now(dt.UTC)
    old = received("facebook", f"Số tôi {data.PHONE}".encode(), now - dt.timedelta(days=400))
    old.update(attempts=9, last_error="a bug", next_attempt_at=now + dt.timedelta(hours=1))
    recent = received("facebook", b"tuan truoc", now - dt.timedelta(days=7))
    async with sessions() as session, session.begin():
        await session.execute(insert(WebhookDelivery), [old, recent])
    await sweep_all(sweeper(sessions, "anonymise", now).step)
    async with sessions() as session:
        kept = (await session.execute(select(WebhookDelivery.body))).scalars().all()
        [audit] = (await session.execute(select(AuditEntry))).scalars()
    assert kept == [b"tuan truoc"]
    assert (audit.action, audit.target) == ("retention", "webhook_deliveries")
    assert audit.detail == {"deliveries": 1, "days": 365}
    await sweep_all(sweeper(sessions, "anonymise", now).step)  # again: nothing more to do
    assert await count(sessions, AuditEntry) == 1
