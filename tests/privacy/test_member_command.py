"""``make member`` (export, erase) and ``make retention`` as real commands, on SQLite and
PostgreSQL: what export gives, what erase leaves, and that the report does not move."""

from __future__ import annotations

import datetime as dt
import json
import stat

from sqlalchemy import insert, select

from bot.db.models import (
    AuditEntry,
    Conversation,
    DispatchJob,
    Erasure,
    Message,
    OutboxItem,
    WebhookDelivery,
)
from bot.member_command import NOTHING_HELD
from bot.ops import deliveries
from bot.ops.privacy import PSEUDONYM_PREFIX
from tests.privacy import seed as data
from tests.privacy.commands import member_command
from tests.privacy.seed import ledger_rows, report_figures
from tests.privacy.test_retention import count, dump, seeded

MEMBER = ["facebook", data.PAGE, data.PSID]
TRACES_OF_THE_MEMBER = (
    data.PSID,
    data.PHONE,
    data.EMAIL,
    "Dệt Phú Lâm",
    "chị Hoa",
    "hop-dong-hoa",
    "m_old_",
)


async def test_export_gives_everything_held_about_the_member(sessions, database_url, tmp_path):
    now = dt.datetime.now(dt.UTC)
    ids = await seeded(sessions, now)
    out = tmp_path / "member.json"
    env = {"DATABASE_URL": database_url}
    status, stdout, _ = await member_command(["export", *MEMBER, "--out", str(out)], tmp_path, env)
    assert (status, stdout) == (0, "")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert exported["member"] == dict(zip(("channel", "page_id", "user_id"), MEMBER, strict=True))
    [held] = exported["conversations"]
    assert held["conversation"]["id"] == ids.old
    assert held["conversation"]["user_id"] == data.PSID
    texts = [m["text"] for m in held["messages"]]
    assert data.FIRST_QUESTION in texts and data.STAFF_REPLY in texts and len(texts) == 7
    assert held["messages"][0]["data"]["attachments"][0]["payload"]["url"].endswith(".pdf")
    assert [q["answered_by"] for q in held["questions"]] == ["bot", "staff"]
    assert [f["verdict"] for f in held["feedback"]] == ["helpful"]
    assert [d["question"] for d in held["faq_drafts"]] == [data.SECOND_QUESTION]
    assert "rasa_tracker_events" not in held  # RASA_TRACKER_DB_URL is not set
    assert "Còn vùng 2?" not in out.read_text(encoding="utf-8")  # nobody else's data

    status, stdout, _ = await member_command(["export", *MEMBER], tmp_path, env)
    assert status == 0 and json.loads(stdout)["conversations"] == exported["conversations"]


async def test_erase_forgets_the_member_once_and_the_report_stays(
    sessions, database_url, tmp_path
):
    now = dt.datetime.now(dt.UTC)
    ids = await seeded(sessions, now)
    async with sessions() as session, session.begin():  # a turn and a reply still under way
        convo = await session.get(Conversation, ids.old)
        writer = data.Writer(session)
        pending = await writer.message(convo, "member", f"Số tôi {data.PHONE}", now)
        reply = await writer.message(convo, "bot", "Đang chờ", now, kind="answer")
        job = (
            await session.execute(select(DispatchJob).filter_by(message_id=pending.id))
        ).scalar_one()
        job.status = "pending"
        session.add(
            OutboxItem(
                conversation_id=convo.id,
                message_id=reply.id,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                lease_owner="host:1:o0",
                lease_until=now + dt.timedelta(minutes=1),
            )
        )
    async with sessions() as session:
        ledger_before = await ledger_rows(session)
    figures_before = await report_figures(database_url, now)
    env = {"DATABASE_URL": database_url}

    status, stdout, stderr = await member_command(["erase", *MEMBER], tmp_path, env)
    assert status == 0, stderr
    assert stdout.startswith(f"Đã xoá dữ liệu của thành viên: cuộc trò chuyện {ids.old}, 9 ")
    assert "RASA_TRACKER_DB_URL chưa đặt" in stdout

    async with sessions() as session:
        assert await ledger_rows(session) == ledger_before
        convo = await session.get(Conversation, ids.old)
        assert convo.user_id.startswith(PSEUDONYM_PREFIX)
        texts = (
            await session.execute(select(Message.text).where(Message.conversation_id == ids.old))
        ).scalars()
        assert set(texts) == {""}
        job = (await session.execute(select(DispatchJob).filter_by(message_id=pending.id))).one()
        assert (job[0].status, job[0].lease_owner) == ("skipped", None)
        item = (await session.execute(select(OutboxItem).filter_by(message_id=reply.id))).one()
        assert (item[0].status, item[0].lease_owner) == ("failed", None)
        [audit] = (await session.execute(select(AuditEntry))).scalars()
        assert (audit.action, audit.target, audit.user_id) == (
            "erase_member",
            f"conversation:{ids.old}",
            None,
        )
        assert audit.detail == {"mode": "anonymise", "messages": 9, "tracker_events": 0}
        other = await session.get(Conversation, ids.recent)
        assert other.user_id == ids.user_ids[ids.recent]
    assert await report_figures(database_url, now) == figures_before
    everything = await dump(sessions)
    for trace in TRACES_OF_THE_MEMBER:
        assert trace not in everything, trace

    # again: nothing is held any more, nothing changes, no second audit entry; only a second
    # erasure mark, for deliveries acknowledged in between (and without the member's id)
    assert await count(sessions, Erasure) == 1
    before = await dump(sessions, Erasure.__table__)
    status, stdout, _ = await member_command(["erase", *MEMBER], tmp_path, env)
    assert (status, stdout.strip()) == (0, NOTHING_HELD)
    status, stdout, stderr = await member_command(["export", *MEMBER], tmp_path, env)
    assert status == 0 and json.loads(stdout)["conversations"] == []
    assert stderr.strip() == NOTHING_HELD
    assert await dump(sessions, Erasure.__table__) == before
    assert await count(sessions, Erasure) == 2


async def test_retention_on_demand_with_a_dry_run_first(sessions, database_url, tmp_path):
    now = dt.datetime.now(dt.UTC)
    ids = await seeded(sessions, now)
    before = await dump(sessions)
    env = {"DATABASE_URL": database_url, "RETENTION_MODE": "delete"}

    status, stdout, stderr = await member_command(["retention", "--dry-run"], tmp_path, env)
    assert status == 0, stderr
    lines = stdout.strip().splitlines()
    assert lines[-1] == "Sẽ xoá 3 cuộc trò chuyện (chạy thử, chưa đổi gì)."
    listed = sorted(int(line.split()[3]) for line in lines[:-1])
    assert listed == sorted([ids.old, ids.stickers, ids.sandbox])
    assert f"cuộc trò chuyện {ids.old} (facebook {data.PAGE}), hoạt động cuối " in stdout
    assert data.PSID not in stdout
    assert await dump(sessions) == before

    status, stdout, _ = await member_command(["retention"], tmp_path, env)
    assert (status, stdout.strip()) == (
        0,
        "Đã xoá 3 cuộc trò chuyện không hoạt động quá 365 ngày.",
    )
    assert await count(sessions, AuditEntry, action="retention") == 3
    status, stdout, _ = await member_command(["retention", "--dry-run"], tmp_path, env)
    assert stdout.strip() == "Sẽ xoá 0 cuộc trò chuyện (chạy thử, chưa đổi gì)."

    off = {**env, "RETENTION_DAYS": "0"}
    status, stdout, _ = await member_command(["retention"], tmp_path, off)
    assert (status, stdout.strip()) == (
        0,
        "RETENTION_DAYS=0: dữ liệu được giữ vô thời hạn, không có gì để làm.",
    )


async def test_retention_on_demand_names_old_deliveries_never_expanded(
    sessions, database_url, tmp_path
):
    now = dt.datetime.now(dt.UTC)
    async with sessions() as session, session.begin():
        for age in (400, 7):  # kept after failed expansions: one past the retention period
            row = deliveries.received("facebook", b'{"object": "page"}', now - dt.timedelta(age))
            await session.execute(insert(deliveries.TABLE), {**row, "attempts": 5})
    env = {"DATABASE_URL": database_url}
    before = await dump(sessions)
    old = f"gói tin webhook nhận trước {(now - dt.timedelta(365)).date()} mà chưa xử lý được"

    status, stdout, stderr = await member_command(["retention", "--dry-run"], tmp_path, env)
    assert status == 0, stderr
    assert stdout.strip().splitlines() == [
        f"Sẽ xoá 1 {old}.",
        "Sẽ ẩn danh 0 cuộc trò chuyện (chạy thử, chưa đổi gì).",
    ]
    assert await dump(sessions) == before

    status, stdout, _ = await member_command(["retention"], tmp_path, env)
    assert stdout.strip().splitlines() == [
        "Đã ẩn danh 0 cuộc trò chuyện không hoạt động quá 365 ngày.",
        f"Đã xoá 1 {old}.",
    ]
    assert await count(sessions, WebhookDelivery) == 1
