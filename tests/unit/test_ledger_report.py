"""The 24-hour promise report over a hand-built November 2026 ledger.

Every expected number below was worked out by hand from the table in ``LEDGER`` (see the
comments); none is recomputed with the code under test. Vietnam is UTC+7 all year.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.reports.export import to_csv, to_text, to_xlsx
from bot.reports.ledger_report import (
    Figures,
    QuestionRecord,
    Report,
    build_report,
    figures,
    nearest_rank,
    period_bounds,
    time_left_bucket,
)

UTC = dt.UTC
A = "cd-hanoi"
B = "cd-hcm"
FB = "facebook"
ZL = "zalo"


def utc(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def q(
    id: int,
    page: str,
    channel: str,
    category: str | None,
    opened: str,
    answered: str | None = None,
    by: str | None = None,
    staff: str | None = None,
    *,
    due_hours: int = 24,
    escalated: bool = False,
    reopened: bool = False,
) -> QuestionRecord:
    opened_at = utc(opened)
    return QuestionRecord(
        id=id,
        page_id=page,
        channel=channel,
        category=category,
        opened_at=opened_at,
        due_at=opened_at + dt.timedelta(hours=due_hours),
        answered_at=utc(answered) if answered else None,
        answered_by=by,
        staff_id=staff,
        escalated=escalated,
        reopened=reopened,
    )


# Times in UTC. "tta" = time to answer; "W44".."W49" = ISO week of the opening in Vietnam.
LEDGER = [
    # local 01/11 01:00 (Sunday, W44): in November. tta 0.5 h, in time
    q(1, A, FB, "policy", "2026-10-31 18:00", "2026-10-31 18:30", "bot"),
    # local 31/10 23:00: October, outside the report
    q(2, A, FB, "policy", "2026-10-31 16:00", "2026-10-31 17:00", "bot"),
    # W45
    q(3, A, FB, "welfare", "2026-11-02 02:00", "2026-11-02 05:00", "staff", "s1"),  # 3 h
    q(4, A, ZL, "law", "2026-11-03 03:00", "2026-11-04 09:00", "staff", "s2"),  # 30 h LATE
    q(5, B, FB, "policy", "2026-11-04 01:00", "2026-11-04 01:15", "bot"),  # 0.25 h
    q(6, B, ZL, "union", "2026-11-05 09:00", "2026-11-06 05:00", "staff", "s1"),  # 20 h
    q(7, A, FB, None, "2026-11-06 10:00"),  # unanswered, due 07/11: overdue
    # W46
    q(8, B, FB, "welfare", "2026-11-09 02:00", "2026-11-09 03:00", "bot"),  # 1 h
    q(9, A, ZL, "policy", "2026-11-10 04:00", "2026-11-10 12:00", "staff", "s2"),  # 8 h
    q(10, A, FB, "law", "2026-11-11 05:00", "2026-11-12 07:00", "staff", "s1"),  # 26 h LATE
    q(11, B, ZL, "welfare", "2026-11-12 06:00", "2026-11-12 08:00", "bot"),  # 2 h
    q(12, B, FB, None, "2026-11-13 07:00"),  # unanswered, due 14/11: overdue
    # W47: the bot's answer was judged wrong; staff answered after the original deadline
    q(13, A, FB, "union", "2026-11-16 01:00", "2026-11-17 03:00", "staff", "s2",
      escalated=True, reopened=True),  # 26 h LATE
    q(14, A, ZL, "policy", "2026-11-17 02:00", "2026-11-17 02:30", "bot"),  # 0.5 h
    q(15, B, FB, "law", "2026-11-18 03:00", "2026-11-18 15:00", "staff", "s1"),  # 12 h
    # answered exactly at the deadline: in time
    q(16, B, ZL, "welfare", "2026-11-19 04:00", "2026-11-20 04:00", "staff", "s2"),  # 24 h
    q(17, A, FB, "policy", "2026-11-20 05:00", "2026-11-20 09:00", "bot"),  # 4 h
    # W48
    q(18, B, FB, "union", "2026-11-23 01:00", "2026-11-25 01:00", "staff", "s1"),  # 48 h LATE
    q(19, A, ZL, "law", "2026-11-24 02:00", "2026-11-24 03:30", "bot"),  # 1.5 h
    q(20, A, FB, "welfare", "2026-11-25 03:00", "2026-11-25 13:00", "staff", "s2"),  # 10 h
    # reopened and still unanswered, due 27/11 04:00: overdue
    q(21, B, ZL, "policy", "2026-11-26 04:00", escalated=True, reopened=True),
    q(22, B, FB, None, "2026-11-27 05:00", "2026-11-27 10:00", "staff", "s1"),  # 5 h
    # local 29/11 23:30, Sunday: still W48
    q(23, A, FB, "policy", "2026-11-29 16:30", "2026-11-29 17:30", "bot"),  # 1 h
    # W49 (local Monday 30/11)
    # answered before its deadline (01/12 01:00, after now): decided all the same
    q(24, A, ZL, "welfare", "2026-11-30 01:00", "2026-11-30 03:00", "staff", "s2"),  # 2 h
    q(25, A, FB, None, "2026-11-29 21:00"),  # local 30/11 04:00; due 30/11 21:00: 1 h left
    q(26, B, ZL, None, "2026-11-29 23:00"),  # local 30/11 06:00; due 30/11 23:00: 3 h left
    q(27, B, FB, None, "2026-11-30 03:00"),  # due 01/12 03:00: 7 h left
    q(28, A, ZL, None, "2026-11-30 16:59"),  # local 30/11 23:59; due 01/12 16:59: 20 h 59 left
    q(29, B, FB, None, "2026-11-30 10:00", due_hours=48),  # due 02/12 10:00: 38 h left
    q(31, B, FB, None, "2026-11-30 12:00", due_hours=8),  # due 30/11 20:00 == now: overdue
    # local 01/12 01:00: December, outside the report (and not counted as open)
    q(30, A, FB, None, "2026-11-30 18:00"),
]  # fmt: skip

NOW = utc("2026-11-30 20:00")  # local 01/12 03:00
NOV_START = utc("2026-10-31 17:00")  # local 01/11 00:00
NOV_END = utc("2026-11-30 17:00")  # local 01/12 00:00

# In the report: all but #2 and #30, i.e. 29 questions.
# Answered (20): 1 3 4 5 6 8 9 10 11 13 14 15 16 17 18 19 20 22 23 24.
# Unanswered (9): overdue 7 12 21 31; pending 25 26 27 28 29.
# decided = 20 + 4 = 24; late = 4 10 13 18; in time = 20 - 4 = 16; breaches = 4 + 4 = 8.
# share = 16 / 24 = 0.6667. Bot: 1 5 8 11 14 17 19 23 = 8; staff: the other 12.
# Times to answer, sorted (h): 0.25 0.5 0.5 1 1 1.5 2 2 3 4 | 5 8 10 12 20 24 26 26 30 48.
# n = 20: median at rank ceil(10) = 10 -> 4 h; p90 at rank ceil(18) = 18 -> 26 h.
OVERALL = Figures(
    total=29,
    decided=24,
    pending=5,
    answered=20,
    answered_in_time=16,
    breaches=8,
    share_in_time=16 / 24,
    median_hours=4.0,
    p90_hours=26.0,
    by_bot=8,
    by_staff=12,
)


@pytest.fixture(scope="module")
def report() -> Report:
    return build_report(LEDGER, NOV_START, NOV_END, NOW)


def row(report: Report, breakdown: str, label: str) -> Figures:
    found = dict(report.breakdowns[breakdown])
    return found[label]


# --- figures ----------------------------------------------------------------------------------


def test_overall_figures(report: Report):
    assert report.overall == OVERALL


def test_report_keeps_its_period_and_moment(report: Report):
    assert (report.start, report.end, report.now) == (NOV_START, NOV_END, NOW)


def test_nearest_rank_by_hand():
    # n = 5: median at rank ceil(2.5) = 3, p90 at rank ceil(4.5) = 5.
    assert nearest_rank([26, 0.5, 12, 24, 4], 50) == 12
    assert nearest_rank([26, 0.5, 12, 24, 4], 90) == 26
    # n = 4: median at rank ceil(2) = 2 (no averaging of the two middle values).
    assert nearest_rank([1, 2, 3, 4], 50) == 2
    assert nearest_rank([], 50) is None
    with pytest.raises(ValueError):
        nearest_rank([1], 0)


def test_nothing_decided_has_no_share():
    pending = q(1, A, FB, None, "2026-11-30 10:00")  # due 01/12 10:00, after NOW
    assert figures([pending], NOW) == Figures(
        total=1,
        decided=0,
        pending=1,
        answered=0,
        answered_in_time=0,
        breaches=0,
        share_in_time=None,
        median_hours=None,
        p90_hours=None,
        by_bot=0,
        by_staff=0,
    )


def test_an_answer_after_now_is_not_yet_given():
    # Opened 30/11 05:00, due 01/12 05:00, answered 30/11 22:00 (after NOW 20:00):
    # at NOW it is unanswered and not yet due, so pending, with 9 h left.
    later = q(1, A, FB, "law", "2026-11-30 05:00", "2026-11-30 22:00", "staff", "s1")
    got = build_report([later], NOV_START, NOV_END, NOW)
    assert (got.overall.pending, got.overall.answered, got.overall.by_staff) == (1, 0, 0)
    assert got.open_by_time_left["6–24 giờ"] == 1
    assert got.breakdowns["answerer"] == [("chưa trả lời", got.overall)]
    assert got.breakdowns["staff"] == []


def test_naive_bounds_are_refused():
    with pytest.raises(ValueError, match="aware"):
        build_report(LEDGER, NOV_START.replace(tzinfo=None), NOV_END, NOW)


# --- open by time left ------------------------------------------------------------------------


def test_open_by_time_left(report: Report):
    # overdue 7 12 21 31 (31 is due exactly at NOW); 25: 1 h; 26: 3 h; 27: 7 h, 28: 20 h 59;
    # 29: 38 h. #30 is open too but opened in December.
    assert report.open_by_time_left == {
        "quá hạn": 4,
        "dưới 2 giờ": 1,
        "2–6 giờ": 1,
        "6–24 giờ": 2,
        "trên 24 giờ": 1,
    }
    assert list(report.open_by_time_left) == [
        "quá hạn",
        "dưới 2 giờ",
        "2–6 giờ",
        "6–24 giờ",
        "trên 24 giờ",
    ]


def test_time_left_buckets_include_their_upper_bound():
    left = {h: time_left_bucket(NOW + dt.timedelta(hours=h), NOW) for h in (0, 2, 6, 24)}
    assert left == {0: "quá hạn", 2: "dưới 2 giờ", 6: "2–6 giờ", 24: "6–24 giờ"}
    assert time_left_bucket(NOW + dt.timedelta(hours=24, minutes=1), NOW) == "trên 24 giờ"
    assert time_left_bucket(NOW + dt.timedelta(minutes=1), NOW) == "dưới 2 giờ"


def test_period_includes_its_start_and_excludes_its_end():
    # Opened at local 01/11 00:00 (in) and at local 01/12 00:00 (out, December).
    first = q(1, A, FB, "law", "2026-10-31 17:00", "2026-10-31 18:00", "bot")
    after = q(2, A, FB, "law", "2026-11-30 17:00", "2026-11-30 18:00", "bot")
    got = build_report([first, after], NOV_START, NOV_END, NOW)
    assert got.overall.total == 1
    assert got.breakdowns["week"] == [("2026-W44 (26/10)", got.overall)]


# --- breakdowns -------------------------------------------------------------------------------


def test_breakdowns_have_every_key_and_sorted_labels(report: Report):
    assert list(report.breakdowns) == [
        "page",
        "channel",
        "category",
        "answerer",
        "staff",
        "week",
        "month",
    ]
    labels = {name: [label for label, _ in rows] for name, rows in report.breakdowns.items()}
    assert labels == {
        "page": ["cd-hanoi", "cd-hcm"],
        "channel": ["facebook", "zalo"],
        "category": ["chưa phân loại", "law", "policy", "union", "welfare"],
        "answerer": ["bot", "chưa trả lời", "staff"],
        "staff": ["s1", "s2"],
        "week": [
            "2026-W44 (26/10)",
            "2026-W45 (02/11)",
            "2026-W46 (09/11)",
            "2026-W47 (16/11)",
            "2026-W48 (23/11)",
            "2026-W49 (30/11)",
        ],
        "month": ["2026-11"],
    }


def test_page_row(report: Report):
    # cd-hcm: 5 6 8 11 12 15 16 18 21 22 26 27 29 31 = 14. Answered 5 6 8 11 15 16 18 22 = 8;
    # overdue 12 21 31 = 3; pending 26 27 29 = 3; decided 11; late 18; in time 7;
    # breaches 1 + 3 = 4; share 7/11. tta sorted 0.25 1 2 5 12 20 24 48 (n = 8):
    # median rank 4 -> 5 h; p90 rank ceil(7.2) = 8 -> 48 h. Bot 5 8 11; staff 6 15 16 18 22.
    assert row(report, "page", B) == Figures(14, 11, 3, 8, 7, 4, 7 / 11, 5.0, 48.0, 3, 5)


def test_week_row_and_week_counts(report: Report):
    # W47: 13 14 15 16 17, all answered; 13 late. tta 0.5 4 12 24 26: median rank 3 -> 12 h,
    # p90 rank 5 -> 26 h. Bot 14 17; staff 13 15 16.
    assert row(report, "week", "2026-W47 (16/11)") == Figures(
        5, 5, 0, 5, 4, 1, 0.8, 12.0, 26.0, 2, 3
    )
    # W44 holds #1 only (local Sunday 01/11); W48 holds #23 (local Sunday 29/11 23:30);
    # W49 holds 24 25 26 27 28 29 31 (25 and 26 were opened on 29/11 UTC).
    totals = {label: fig.total for label, fig in report.breakdowns["week"]}
    assert totals == {
        "2026-W44 (26/10)": 1,
        "2026-W45 (02/11)": 5,
        "2026-W46 (09/11)": 5,
        "2026-W47 (16/11)": 5,
        "2026-W48 (23/11)": 6,
        "2026-W49 (30/11)": 7,
    }
    # W49: answered 24 (in time); overdue 31; pending 25 26 27 28 29 -> share 1/2.
    w49 = row(report, "week", "2026-W49 (30/11)")
    assert (w49.decided, w49.pending, w49.breaches, w49.share_in_time) == (2, 5, 1, 0.5)


def test_month_row_is_the_whole_november(report: Report):
    assert report.breakdowns["month"] == [("2026-11", OVERALL)]


def test_category_answerer_and_staff_rows(report: Report):
    # No category: 7 12 22 25 26 27 28 29 31 = 9; decided 7 12 22 31; only 22 in time (5 h).
    none = row(report, "category", "chưa phân loại")
    assert (none.total, none.decided, none.answered_in_time, none.breaches) == (9, 4, 1, 3)
    assert none.share_in_time == 0.25
    # Unanswered: 9, of which 4 overdue and 5 pending, none in time.
    open_ = row(report, "answerer", "chưa trả lời")
    assert (open_.total, open_.decided, open_.pending, open_.breaches) == (9, 4, 5, 4)
    assert open_.share_in_time == 0.0 and open_.median_hours is None
    # s1: 3 6 10 15 18 22; late 10 18. tta sorted 3 5 12 20 26 48: median rank 3 -> 12 h,
    # p90 rank ceil(5.4) = 6 -> 48 h.
    assert row(report, "staff", "s1") == Figures(6, 6, 0, 6, 4, 2, 4 / 6, 12.0, 48.0, 0, 6)
    # facebook: 1 3 5 7 8 10 12 13 15 17 18 20 22 23 25 27 29 31 = 18; zalo the other 11.
    assert [fig.total for _, fig in report.breakdowns["channel"]] == [18, 11]


# --- period bounds ----------------------------------------------------------------------------


def test_period_bounds_week():
    # Wednesday 18/11 -> Monday 16/11 00:00 local = 15/11 17:00 UTC, to the next Monday.
    assert period_bounds("week", dt.date(2026, 11, 18)) == (
        dt.datetime(2026, 11, 15, 17, 0, tzinfo=UTC),
        dt.datetime(2026, 11, 22, 17, 0, tzinfo=UTC),
    )
    # Sunday 01/11 belongs to the week of Monday 26/10.
    assert period_bounds("week", dt.date(2026, 11, 1)) == (
        dt.datetime(2026, 10, 25, 17, 0, tzinfo=UTC),
        dt.datetime(2026, 11, 1, 17, 0, tzinfo=UTC),
    )


def test_period_bounds_month():
    assert period_bounds("month", dt.date(2026, 11, 30)) == (
        dt.datetime(2026, 10, 31, 17, 0, tzinfo=UTC),
        dt.datetime(2026, 11, 30, 17, 0, tzinfo=UTC),
    )
    assert period_bounds("month", dt.date(2026, 12, 31)) == (
        dt.datetime(2026, 11, 30, 17, 0, tzinfo=UTC),
        dt.datetime(2026, 12, 31, 17, 0, tzinfo=UTC),
    )
    with pytest.raises(ValueError):
        period_bounds("year", dt.date(2026, 11, 30))


# --- exports ----------------------------------------------------------------------------------

CSV_HEADER = (
    "nhóm,giá trị,tổng số,đã chốt,chưa đến hạn,đã trả lời,đúng hạn,trễ hạn,tỉ lệ đúng hạn,"
    "trung vị (giờ),P90 (giờ),bot trả lời,cán bộ trả lời"
)


def test_csv_header_and_rows(report: Report):
    lines = to_csv(report).splitlines()
    assert lines[0] == CSV_HEADER
    assert lines[1] == "tổng,,29,24,5,20,16,8,0.6667,4.00,26.00,8,12"
    assert "trang,cd-hcm,14,11,3,8,7,4,0.6364,5.00,48.00,3,5" in lines
    assert "người trả lời,chưa trả lời,9,4,5,0,0,4,0.0000,,,0,0" in lines
    # one row for the total and one per breakdown line: 2 + 2 + 5 + 3 + 2 + 6 + 1 = 21
    assert len(list(csv.reader(io.StringIO(to_csv(report))))) == 1 + 1 + 21
    assert not to_csv(report).startswith("\ufeff")


def test_text_has_vietnamese_shares_and_aligned_tables(report: Report):
    text = to_text(report)
    assert "01/11/2026 00:00" in text and "01/12/2026 00:00" in text  # period, local time
    assert "Tính lúc: 01/12/2026 03:00" in text
    lines = text.splitlines()
    share = next(line for line in lines if line.startswith("Tỉ lệ đúng hạn "))
    assert share.split() == ["Tỉ", "lệ", "đúng", "hạn", "66,7", "%"]
    median = next(line for line in lines if line.startswith("Trung vị (giờ) "))
    assert median.endswith(" 4,0")
    week = next(line for line in lines if line.startswith("2026-W47 (16/11)"))
    assert " ".join(week.split()[2:]) == "5 5 0 5 4 1 80,0 % 12,0 26,0 2 3"
    for title in ("Theo trang", "Theo tuần", "Theo tháng", "Còn mở theo thời gian còn lại"):
        assert title in lines
    # the rows of a table line up with its header: the page table's lines share one width
    start = lines.index("Theo trang")
    page_table = lines[start + 1 : start + 5]
    assert len({len(line) for line in page_table}) == 1


def test_xlsx_holds_the_numbers_and_charts(report: Report, tmp_path: Path):
    path = tmp_path / "bao-cao.xlsx"
    to_xlsx(report, path)
    book = load_workbook(path)
    assert book.sheetnames == [
        "Tổng quan",
        "Còn mở",
        "Theo trang",
        "Theo kênh",
        "Theo lĩnh vực",
        "Theo người trả lời",
        "Theo cán bộ",
        "Theo tuần",
        "Theo tháng",
    ]
    overview = {row[0].value: row[1] for row in book["Tổng quan"].iter_rows(min_row=2) if row}
    assert overview["Tổng số"].value == 29
    assert overview["Trễ hạn"].value == 8
    assert math.isclose(overview["Tỉ lệ đúng hạn"].value, 16 / 24)
    assert "%" in overview["Tỉ lệ đúng hạn"].number_format
    assert overview["P90 (giờ)"].value == 26
    assert overview["Tính lúc (giờ Việt Nam)"].value == dt.datetime(2026, 12, 1, 3, 0)
    assert overview["Từ (giờ Việt Nam)"].value == dt.datetime(2026, 11, 1, 0, 0)

    week = book["Theo tuần"]
    assert [c.value for c in week[1]][:8] == [
        "Tuần",
        "Tổng số",
        "Đã chốt",
        "Chưa đến hạn",
        "Đã trả lời",
        "Đúng hạn",
        "Trễ hạn",
        "Tỉ lệ đúng hạn",
    ]
    # rows: W44 W45 W46 W47 ... -> W47 is on row 5
    assert [c.value for c in week[5]][:12] == [
        "2026-W47 (16/11)",
        5,
        5,
        0,
        5,
        4,
        1,
        0.8,
        12,
        26,
        2,
        3,
    ]
    assert week["H5"].number_format == "0.0%"
    assert len(week._charts) == 1
    (series,) = week._charts[0].series  # the share column H over the six week rows
    assert series.val.numRef.f == "'Theo tuần'!$H$2:$H$7"
    assert series.cat.strRef.f == "'Theo tuần'!$A$2:$A$7"
    assert len(book["Theo tháng"]._charts) == 1
    assert len(book["Theo trang"]._charts) == 0

    pages = book["Theo trang"]
    assert [c.value for c in pages[3]][:5] == ["cd-hcm", 14, 11, 3, 8]
    assert math.isclose(pages["H3"].value, 7 / 11)

    still_open = [[c.value for c in r] for r in book["Còn mở"].iter_rows()]
    assert still_open == [
        ["Thời gian còn lại", "Số câu hỏi"],
        ["quá hạn", 4],
        ["dưới 2 giờ", 1],
        ["2–6 giờ", 1],
        ["6–24 giờ", 2],
        ["trên 24 giờ", 1],
    ]
