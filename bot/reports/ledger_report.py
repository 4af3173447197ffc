"""How well the 24-hour reply promise is kept: figures over already-loaded ledger rows.

Every member question is a row of the reply ledger (:class:`QuestionRecord`). This module turns
rows into figures; it does no I/O (the database loader and the exports live elsewhere).

Definitions (a report is computed at a moment ``now``):

- **Period.** A report covers the questions *opened* in ``[start, end)``. Callers pass local
  midnights in Asia/Ho_Chi_Minh converted to UTC (see :func:`period_bounds`), so a question
  opened at 2026-11-30 18:00 UTC (01/12 01:00 in Vietnam) belongs to December.
- **As at now.** A report sees the ledger as it stood at ``now``: an answer recorded after
  ``now`` counts as not yet given. With ``now`` = the time of loading this never matters; it
  keeps a report for a past moment consistent.
- **Answered.** ``answered_at`` is set (and not after ``now``). A reopened question (the member
  said the bot's answer was wrong) has its answer cleared by the ledger and keeps its original
  deadline, so it counts by the answer that stands, if any, against that deadline.
- **Decided.** Answered, or the deadline has passed (``due_at <= now``).
- **Pending.** Not answered and not yet due (``due_at > now``). Pending questions are counted
  separately and left out of the shares.
- **Answered in time.** Answered and ``answered_at <= due_at`` (an answer at the deadline
  itself is in time).
- **Breach.** Decided and not answered in time: answered late, or unanswered past the deadline.
- **Share in time.** answered in time / decided; None when nothing is decided.
- **Time to answer.** ``answered_at - opened_at`` over answered questions (in time or late), in
  hours. Median and 90th percentile use the nearest-rank method, so staff can check them by
  hand: sort the n times; the p-th percentile is the value at rank ``ceil(p / 100 * n)``
  (ranks count from 1); the median is the 50th percentile by the same rule (no averaging of
  the two middle values). Example: for n = 20 the median is the 10th value, p90 the 18th.
- **Open by time left.** At ``now``, over the report's questions still unanswered (whatever
  their opening date in the period), by ``due_at - now``: "quá hạn" (<= 0), "dưới 2 giờ"
  (up to 2 h), "2–6 giờ" (over 2 h, up to 6 h), "6–24 giờ" (over 6 h, up to 24 h),
  "trên 24 giờ" (over 24 h). Each bucket includes its upper bound.
- **Breakdowns.** The same figures grouped by page (``page_id``); channel; category (None →
  "chưa phân loại"); answerer ("bot", "staff", "chưa trả lời"); staff member (``staff_id`` of
  staff-answered questions only, "chưa rõ" when missing); ISO week and month of ``opened_at``
  in Asia/Ho_Chi_Minh. A week is labelled ``"2026-W47 (16/11)"``: ISO year, ISO week number
  (weeks run Monday to Sunday) and the date of its Monday as dd/mm. A month is ``"2026-11"``.
  Rows are sorted by label (these labels sort in time order).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

UNCATEGORISED = "chưa phân loại"
UNANSWERED = "chưa trả lời"
UNKNOWN = "chưa rõ"

OVERDUE = "quá hạn"
TIME_LEFT_BUCKETS = (OVERDUE, "dưới 2 giờ", "2–6 giờ", "6–24 giờ", "trên 24 giờ")
_BUCKET_UPPER_BOUNDS = tuple(dt.timedelta(hours=h) for h in (0, 2, 6, 24))

BREAKDOWNS = ("page", "channel", "category", "answerer", "staff", "week", "month")

T = TypeVar("T")


@dataclass(frozen=True)
class QuestionRecord:
    """One member question from the reply ledger."""

    id: int
    page_id: str
    channel: str  # facebook | zalo | sandbox
    category: str | None  # FAQ category of the answer: policy | welfare | law | union, or None
    opened_at: dt.datetime  # aware, UTC
    due_at: dt.datetime  # aware, UTC (deadline; usually opened_at + 24 h, configurable per page)
    answered_at: dt.datetime | None
    answered_by: str | None  # "bot" | "staff" | None while open
    staff_id: str | None  # who on staff answered, when answered_by == "staff"
    escalated: bool
    # the member said the bot's answer was wrong; reopened with its original deadline
    reopened: bool


@dataclass(frozen=True)
class Figures:
    """The promise figures over a set of questions (see the module docstring)."""

    total: int
    decided: int
    pending: int
    answered: int
    answered_in_time: int
    breaches: int
    share_in_time: float | None
    median_hours: float | None
    p90_hours: float | None
    by_bot: int
    by_staff: int


@dataclass(frozen=True)
class Report:
    """Figures for the questions opened in ``[start, end)``, computed at ``now``.

    ``open_by_time_left`` holds all of :data:`TIME_LEFT_BUCKETS`, in that order; ``breakdowns``
    holds the keys of :data:`BREAKDOWNS`, each a list of (label, figures) sorted by label.
    """

    start: dt.datetime
    end: dt.datetime
    now: dt.datetime
    overall: Figures
    open_by_time_left: dict[str, int]
    breakdowns: dict[str, list[tuple[str, Figures]]]


def as_of(record: QuestionRecord, now: dt.datetime) -> QuestionRecord:
    """The record as it stood at ``now``: an answer given after ``now`` is dropped."""
    if record.answered_at is None or record.answered_at <= now:
        return record
    return dataclasses.replace(record, answered_at=None, answered_by=None, staff_id=None)


def is_answered_in_time(record: QuestionRecord) -> bool:
    """Whether the question was answered at or before its deadline."""
    return record.answered_at is not None and record.answered_at <= record.due_at


def is_decided(record: QuestionRecord, now: dt.datetime) -> bool:
    """Whether the question was answered or its deadline has passed at ``now``."""
    return record.answered_at is not None or record.due_at <= now


def nearest_rank(values: Sequence[T], percent: int) -> T | None:
    """The ``percent``-th percentile by nearest rank: the value at rank ceil(percent/100 * n).

    Args:
        values: The values, in any order.
        percent: 1 to 100.

    Returns:
        The value, or None when ``values`` is empty.
    """
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in 1..100, not {percent}")
    if not values:
        return None
    rank = -(-percent * len(values) // 100)  # ceil without floats
    return sorted(values)[rank - 1]


def _hours(delta: dt.timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds() / 3600


def figures(records: Sequence[QuestionRecord], now: dt.datetime) -> Figures:
    """The promise figures over ``records`` at ``now`` (no filtering by period)."""
    seen = [as_of(r, now) for r in records]
    answered = [r for r in seen if r.answered_at is not None]
    decided = sum(1 for r in seen if is_decided(r, now))
    in_time = sum(1 for r in answered if is_answered_in_time(r))
    waits = [r.answered_at - r.opened_at for r in answered if r.answered_at is not None]
    return Figures(
        total=len(seen),
        decided=decided,
        pending=len(seen) - decided,
        answered=len(answered),
        answered_in_time=in_time,
        breaches=decided - in_time,
        share_in_time=in_time / decided if decided else None,
        median_hours=_hours(nearest_rank(waits, 50)),
        p90_hours=_hours(nearest_rank(waits, 90)),
        by_bot=sum(1 for r in answered if r.answered_by == "bot"),
        by_staff=sum(1 for r in answered if r.answered_by == "staff"),
    )


def time_left_bucket(due_at: dt.datetime, now: dt.datetime) -> str:
    """The bucket of :data:`TIME_LEFT_BUCKETS` for a deadline seen at ``now``."""
    left = due_at - now
    for label, upper in zip(TIME_LEFT_BUCKETS, _BUCKET_UPPER_BOUNDS, strict=False):
        if left <= upper:
            return label
    return TIME_LEFT_BUCKETS[-1]


def open_by_time_left(records: Sequence[QuestionRecord], now: dt.datetime) -> dict[str, int]:
    """Questions unanswered at ``now``, counted per time-left bucket (all buckets, in order)."""
    counts = dict.fromkeys(TIME_LEFT_BUCKETS, 0)
    for record in records:
        if as_of(record, now).answered_at is None:
            counts[time_left_bucket(record.due_at, now)] += 1
    return counts


def week_label(moment: dt.datetime) -> str:
    """ISO week of ``moment`` in Vietnam, with its Monday: ``"2026-W47 (16/11)"``."""
    day = moment.astimezone(LOCAL_TZ).date()
    iso = day.isocalendar()
    monday = day - dt.timedelta(days=day.weekday())
    return f"{iso.year}-W{iso.week:02d} ({monday:%d/%m})"


def month_label(moment: dt.datetime) -> str:
    """Month of ``moment`` in Vietnam: ``"2026-11"``."""
    return f"{moment.astimezone(LOCAL_TZ):%Y-%m}"


def _answerer(record: QuestionRecord) -> str:
    if record.answered_at is None:
        return UNANSWERED
    return record.answered_by or UNKNOWN


def _staff(record: QuestionRecord) -> str | None:
    if record.answered_at is None or record.answered_by != "staff":
        return None
    return record.staff_id or UNKNOWN


_GROUP_KEYS: dict[str, Callable[[QuestionRecord], str | None]] = {
    "page": lambda r: r.page_id,
    "channel": lambda r: r.channel,
    "category": lambda r: r.category or UNCATEGORISED,
    "answerer": _answerer,
    "staff": _staff,
    "week": lambda r: week_label(r.opened_at),
    "month": lambda r: month_label(r.opened_at),
}


def breakdown(
    records: Sequence[QuestionRecord],
    now: dt.datetime,
    key: Callable[[QuestionRecord], str | None],
) -> list[tuple[str, Figures]]:
    """Figures per label of ``key`` (records whose label is None are left out), by label.

    ``key`` sees each record as it stood at ``now``.
    """
    groups: dict[str, list[QuestionRecord]] = {}
    for record in records:
        label = key(as_of(record, now))
        if label is not None:
            groups.setdefault(label, []).append(record)
    return [(label, figures(groups[label], now)) for label in sorted(groups)]


def _require_aware(**moments: dt.datetime) -> None:
    for name, moment in moments.items():
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{name} must be an aware datetime, not {moment!r}")


def build_report(
    records: Sequence[QuestionRecord], start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> Report:
    """The report over the questions opened in ``[start, end)``, computed at ``now``.

    Raises:
        ValueError: ``start``, ``end`` or ``now`` is a naive datetime.
    """
    _require_aware(start=start, end=end, now=now)
    selected = [r for r in records if start <= r.opened_at < end]
    return Report(
        start=start,
        end=end,
        now=now,
        overall=figures(selected, now),
        open_by_time_left=open_by_time_left(selected, now),
        breakdowns={name: breakdown(selected, now, _GROUP_KEYS[name]) for name in BREAKDOWNS},
    )


def period_bounds(kind: str, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The week (Monday to Monday) or month containing ``day``, as UTC datetimes.

    Both bounds are local midnights in Asia/Ho_Chi_Minh; the end is exclusive.

    Args:
        kind: ``"week"`` or ``"month"``.
        day: Any day of the period (a local date).

    Raises:
        ValueError: ``kind`` is neither.
    """
    if kind == "week":
        first = day - dt.timedelta(days=day.weekday())
        after = first + dt.timedelta(days=7)
    elif kind == "month":
        first = day.replace(day=1)
        after = (first + dt.timedelta(days=31)).replace(day=1)
    else:
        raise ValueError(f"kind must be 'week' or 'month', not {kind!r}")
    return _local_midnight_utc(first), _local_midnight_utc(after)


def _local_midnight_utc(day: dt.date) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time(), tzinfo=LOCAL_TZ)
    return local.astimezone(dt.UTC)
