"""A seeded month of traffic through the real ledger (SQLite and PostgreSQL), reported from the
database: figures checked by hand, the XLSX read back, and the report command's output."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from pathlib import Path

from openpyxl import load_workbook

from bot.reports.command import report
from bot.reports.export import to_csv, to_xlsx
from bot.reports.ledger_report import LOCAL_TZ, period_bounds
from tests.workers.test_ledger import HANDOFF, Ledger, with_faq
from tools.paths import ROOT

WRONG = [
    {
        "custom": {
            "kind": "handoff",
            "text": "Xin lỗi bạn.",
            "feedback": "wrong",
            "handoff": {"reason": "feedback_wrong"},
        }
    }
]


def vn(day: int, hour: int, minute: int = 0, month: int = 11) -> dt.datetime:
    """A moment in Hà Nội time, as UTC."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=LOCAL_TZ).astimezone(dt.UTC)


async def seed_november(ledger: Ledger) -> None:
    clock = ledger.clock
    # 1. 02/11 08:00 answered by the bot 3 seconds later: in time
    clock.now = vn(2, 8)
    await ledger.member_says("thu viec may ngay", user="m1")
    clock.now += dt.timedelta(seconds=3)
    await ledger.bot_turns()
    # 2. 03/11 09:00 handed over, answered by staff "lan" 5 hours later: in time
    clock.now = vn(3, 9)
    ledger.rasa.next = [HANDOFF]
    c2 = await ledger.member_says("cho em gặp cán bộ", user="m2")
    await ledger.bot_turns()
    clock.now = vn(3, 14)
    await ledger.staff_reply(c2, "lan")
    # 3. 10/11 10:00 handed over, answered by "minh" 30 hours later: a breach
    clock.now = vn(10, 10)
    ledger.rasa.next = [HANDOFF]
    c3 = await ledger.member_says("bị nợ lương", user="m3")
    await ledger.bot_turns()
    clock.now = vn(11, 16)
    await ledger.staff_reply(c3, "minh")
    # 4. 15/11 08:00 bot answer, "Chưa đúng" 2 hours later, "lan" answers at 11:00: in time
    clock.now = vn(15, 8)
    c4 = await ledger.member_says("thu viec bao lau", user="m4")
    await ledger.bot_turns()
    clock.now = vn(15, 10)
    ledger.rasa.next = [WRONG]
    await ledger.member_says("Chưa đúng", user="m4")
    await ledger.bot_turns()
    clock.now = vn(15, 11)
    await ledger.staff_reply(c4, "lan")
    # 5. 20/11 15:00 handed over, never answered: a breach
    clock.now = vn(20, 15)
    ledger.rasa.next = [HANDOFF]
    await ledger.member_says("bị đuổi việc", user="m5")
    await ledger.bot_turns()
    # 6. 30/11 23:30 handed over, still open when the report is made: pending
    clock.now = vn(30, 23, 30)
    ledger.rasa.next = [HANDOFF]
    await ledger.member_says("tai nạn lao động", user="m6")
    await ledger.bot_turns()
    # 7. 01/12 01:00 (30/11 in UTC) and 8. 31/10 23:00 (01/11 in UTC): other months
    clock.now = vn(1, 1, month=12)
    ledger.rasa.next = [HANDOFF]
    await ledger.member_says("thai san", user="m7")
    clock.now = vn(31, 23, month=10)
    ledger.rasa.next = [HANDOFF]
    await ledger.member_says("luong", user="m8")
    await ledger.bot_turns()


async def test_a_seeded_month_reports_the_hand_checked_figures(sessions, database_url, tmp_path):
    await with_faq(sessions)
    ledger = Ledger(sessions)
    await seed_november(ledger)
    start, end = period_bounds("month", dt.date(2026, 11, 1))
    now = vn(1, 9, month=12)

    result = await report(database_url, start, end, now)

    # By hand: six questions opened in November (local time); #6 is not due yet (pending).
    # Decided five: in time #1, #2, #4; breaches #3 (late) and #5 (never answered).
    # Times to answer (hours): #1 0.0008, #4 3, #2 5, #3 30 -> median = 2nd of 4 = 3,
    # p90 = ceil(0.9 * 4) = 4th = 30. Answered by the bot: #1; by staff: #2, #3, #4.
    o = result.overall
    assert (o.total, o.decided, o.pending, o.answered, o.answered_in_time, o.breaches) == (
        6,
        5,
        1,
        4,
        3,
        2,
    )
    assert o.share_in_time == 0.6
    assert (o.median_hours, o.p90_hours, o.by_bot, o.by_staff) == (3.0, 30.0, 1, 3)
    # #6 is due at 01/12 23:30, 14.5 hours after the report
    assert result.open_by_time_left == {
        "quá hạn": 1,
        "dưới 2 giờ": 0,
        "2–6 giờ": 0,
        "6–24 giờ": 1,
        "trên 24 giờ": 0,
    }
    staff = {label: (f.answered, f.answered_in_time) for label, f in result.breakdowns["staff"]}
    assert staff == {"lan": (2, 2), "minh": (1, 0)}
    category = {label: f.total for label, f in result.breakdowns["category"]}
    assert category == {"law": 1, "chưa phân loại": 5}  # #4 lost its bot answer's category

    path = tmp_path / "bao-cao.xlsx"
    to_xlsx(result, path)
    overview = {
        row[0]: row[1]
        for row in load_workbook(path)["Tổng quan"].iter_rows(values_only=True)
        if row and row[0]
    }
    assert (overview["Tổng số"], overview["Đúng hạn"], overview["Trễ hạn"]) == (6, 3, 2)
    assert (overview["Tỉ lệ đúng hạn"], overview["P90 (giờ)"]) == (0.6, 30.0)
    assert to_csv(result).splitlines()[1].startswith("tổng,,6,5,1,4,3,2,0.6000,3.00,30.00,1,3")


async def test_the_report_command_prints_the_month(sessions, database_url, tmp_path: Path):
    await with_faq(sessions)
    await seed_november(Ledger(sessions))
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.reports.command", "--month", "2026-11", "--xlsx", "r.xlsx"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "01/11/2026" in result.stdout and "Tổng quan" in result.stdout
    assert load_workbook(tmp_path / "r.xlsx")["Tổng quan"]["A1"].value.startswith("Báo cáo")
