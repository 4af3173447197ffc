"""One member's data on request, and the retention sweep on demand.

    make member ARGS="export facebook <page id> <user id> --out member.json"
    make member ARGS="erase zalo <oa id> <user id>"
    make retention ARGS="--dry-run"     # list what RETENTION_DAYS / RETENTION_MODE would forget
    make retention                      # forget it now

Export writes everything held about the member as JSON (standard output without --out), the
member's events in deliveries acknowledged but not expanded yet included.
Erase anonymises the member's conversation (the reply ledger stays), deletes Rasa's tracker rows
when RASA_TRACKER_DB_URL is set and records it in the audit log; erasing again finds nothing.
Deliveries acknowledged before the erasure and not expanded yet are expanded without the
member's events.
See docs/privacy.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import receive_log
from bot.db.migrate import upgrade
from bot.db.receive_log import receive_log_url
from bot.db.session import SessionFactory, create_engine, session_factory
from bot.ops import deliveries, erasures, privacy, staff
from bot.ops.privacy import TrackerEvents
from bot.ops.unexpanded import WaitingEvents
from bot.settings import Settings
from bot.workers.retention import RetentionPolicy, RetentionSweeper, tracker_for

CHANNELS = ("facebook", "zalo", "sandbox")
WAITING_BATCH = 500  # deliveries read at a time from the table
NOTHING_HELD = "Không còn dữ liệu nào của thành viên này (chưa từng có, hoặc đã xoá)."


def utc_now() -> dt.datetime:
    """The real clock."""
    return dt.datetime.now(dt.UTC)


@asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[tuple[SessionFactory, TrackerEvents | None]]:
    """The migrated database and Rasa's tracker store (if configured), closed afterwards."""
    engine = create_engine(settings.database_url)
    tracker = tracker_for(settings)
    try:
        await upgrade(engine)
        yield session_factory(engine), tracker
    finally:
        if tracker is not None:
            await tracker.close()
        await engine.dispose()


async def export(settings: Settings, channel: str, page_id: str, user_id: str) -> dict[str, Any]:
    """Everything held about the member; empty lists if nothing is.

    The deliveries not expanded yet are read first (``bot.ops.unexpanded``).
    """
    waiting = WaitingEvents(channel, page_id, user_id)
    async with opened(settings) as (sessions, tracker), sessions() as session:
        await _read_waiting(settings, session, waiting)
        conversation = await privacy.find_member(session, channel, page_id, user_id)
        found = (
            []
            if conversation is None
            else [await privacy.export_member(session, conversation, tracker)]
        )
    return {
        "exported_at": utc_now().isoformat(),
        "member": {"channel": channel, "page_id": page_id, "user_id": user_id},
        "conversations": found,
        "not_expanded_yet": waiting.events,
        "unreadable_deliveries_waiting": waiting.unreadable,
    }


async def _read_waiting(settings: Settings, session: AsyncSession, waiting: WaitingEvents) -> None:
    """Give ``waiting`` every delivery not expanded yet: the receive log's, then the table's."""
    log_url = receive_log_url(settings.database_url)
    log_id = None if log_url is None else receive_log.identity(log_url)
    if log_url is not None and log_id is not None:
        expanded_to = await deliveries.log_cursor(session, log_id)
        for _, channel, body, received_at in receive_log.rows_after(log_url, expanded_to):
            await waiting.add(session, channel, body, received_at)
    after = 0
    while batch := await deliveries.waiting_after(session, after, WAITING_BATCH):
        for _, channel, body, received_at in batch:
            await waiting.add(session, channel, body, received_at)
        after = batch[-1][0]


async def erase(settings: Settings, channel: str, page_id: str, user_id: str) -> str:
    """Erase the member's data; what was done, in Vietnamese.

    First the erasure is recorded, timed once expansion is held off, for the deliveries not
    expanded yet (``bot.ops.erasures``); then what is expanded is anonymised, without holding
    expansion up while Rasa's tracker store is reached.
    """
    now = utc_now()
    async with opened(settings) as (sessions, tracker), sessions() as session:
        async with session.begin():
            await deliveries.lock_expansion(session)
            await erasures.do_record(session, channel, page_id, user_id, utc_now())
        async with session.begin():
            forgotten = await _anonymise(session, tracker, channel, page_id, user_id, now)
    if forgotten is None:
        return NOTHING_HELD
    tracker_note = (
        f", {forgotten.tracker_events_deleted} sự kiện trong kho hội thoại của Rasa đã xoá"
        if tracker is not None
        else "; RASA_TRACKER_DB_URL chưa đặt nên kho hội thoại của Rasa không được xoá"
    )
    return (
        f"Đã xoá dữ liệu của thành viên: cuộc trò chuyện {forgotten.conversation_id}, "
        f"{forgotten.messages_emptied} tin nhắn đã làm trống{tracker_note}. "
        "Sổ theo dõi câu hỏi được giữ lại cho báo cáo."
    )


async def _anonymise(
    session: AsyncSession,
    tracker: TrackerEvents | None,
    channel: str,
    page_id: str,
    user_id: str,
    now: dt.datetime,
) -> privacy.Forgotten | None:
    """Anonymise the member's conversation, with an audit entry; None if none is held."""
    conversation = await privacy.find_member(session, channel, page_id, user_id)
    if conversation is None:
        return None
    forgotten = await privacy.do_forget(
        session, conversation.id, mode="anonymise", now=now, tracker=tracker
    )
    if forgotten is not None:
        detail = {
            "mode": forgotten.mode,
            "messages": forgotten.messages_emptied,
            "tracker_events": forgotten.tracker_events_deleted,
        }
        target = f"conversation:{forgotten.conversation_id}"
        await staff.do_audit(session, None, "erase_member", target, now, detail)
    return forgotten


async def retention(
    settings: Settings, dry_run: bool, clock: Callable[[], dt.datetime] = utc_now
) -> list[str]:
    """Run the retention sweep until nothing is due (or only list what is due)."""
    if not settings.retention_days:
        return ["RETENTION_DAYS=0: dữ liệu được giữ vô thời hạn, không có gì để làm."]
    policy = RetentionPolicy(settings.retention_days, settings.retention_mode)
    action = "xoá" if policy.mode == "delete" else "ẩn danh"
    cutoff = policy.cutoff(clock())
    async with opened(settings) as (sessions, tracker):
        if dry_run:
            async with sessions() as session:
                due = await privacy.idle_conversations(session, cutoff)
                lines = [
                    f"cuộc trò chuyện {c.id} ({c.channel} {c.page_id}), hoạt động cuối "
                    f"{(await privacy.last_activity(session, c)).date().isoformat()}"
                    for c in due
                ]
                old = await deliveries.count_received_before(session, cutoff)
            if old:
                lines.append(f"Sẽ xoá {old} {_unexpanded(cutoff)}.")
            return [*lines, f"Sẽ {action} {len(due)} cuộc trò chuyện (chạy thử, chưa đổi gì)."]
        sweeper = RetentionSweeper(sessions, policy, tracker, clock)
        total = 0
        more = True
        while more:
            done, more = await sweeper.forget_batch()
            total += len(done)
    lines = [f"Đã {action} {total} cuộc trò chuyện không hoạt động quá {policy.days} ngày."]
    if sweeper.deliveries_dropped:
        lines.append(f"Đã xoá {sweeper.deliveries_dropped} {_unexpanded(cutoff)}.")
    return lines


def _unexpanded(cutoff: dt.datetime) -> str:
    return f"gói tin webhook nhận trước {cutoff.date().isoformat()} mà chưa xử lý được"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file already existed
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)


def parser() -> argparse.ArgumentParser:
    """The command line."""
    root = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = root.add_subparsers(dest="command", required=True)
    for name, about in (
        ("export", "everything held about one member, as JSON"),
        ("erase", "erase one member's data (the reply ledger stays)"),
    ):
        command = commands.add_parser(name, help=about)
        command.add_argument("channel", choices=CHANNELS)
        command.add_argument("page_id", help="the page or OA id (sandbox: sandbox)")
        command.add_argument("user_id", help="the member's id on that page (PSID, Zalo user id)")
        if name == "export":
            command.add_argument("--out", type=Path, help="write to this file (mode 600)")
    sweep = commands.add_parser("retention", help="forget idle conversations now")
    sweep.add_argument("--dry-run", action="store_true", help="only list what is due")
    return root


def main() -> None:
    """Run one command."""
    args = parser().parse_args()
    settings = Settings.from_env()
    if args.command == "retention":
        print("\n".join(asyncio.run(retention(settings, args.dry_run))))
        return
    member = (settings, args.channel, args.page_id, args.user_id)
    if args.command == "erase":
        print(asyncio.run(erase(*member)))
        return
    exported = asyncio.run(export(*member))
    text = json.dumps(exported, ensure_ascii=False, indent=2) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_private(args.out, text)
    if not exported["conversations"]:
        print(NOTHING_HELD, file=sys.stderr)


if __name__ == "__main__":
    main()
