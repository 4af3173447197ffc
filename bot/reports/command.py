"""The reply-ledger report in the terminal, and as CSV or XLSX: ``make report``.

make report                                   # this month so far (Asia/Ho_Chi_Minh)
make report ARGS="--month 2026-11 --xlsx bao-cao-11.xlsx --csv bao-cao-11.csv"
make report ARGS="--week 2026-11-16"          # the week (Monday to Sunday) of that day
make report ARGS="--from 2026-10-01 --to 2026-12-31"   # whole days, both included
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from pathlib import Path

from bot.db.migrate import upgrade
from bot.db.session import create_engine, session_factory
from bot.reports.export import to_csv, to_text, to_xlsx
from bot.reports.ledger_report import LOCAL_TZ, Report, build_report, period_bounds
from bot.reports.load import load_records
from bot.settings import Settings


def bounds(args: argparse.Namespace, today: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The period the arguments name, as UTC instants of local midnights (ValueError if bad)."""
    if args.week:
        return period_bounds("week", dt.date.fromisoformat(args.week))
    if args.start or args.end:
        if not (args.start and args.end):
            raise ValueError("--from and --to go together")
        first = dt.date.fromisoformat(args.start)
        last = dt.date.fromisoformat(args.end)
        if last < first:
            raise ValueError("--to is before --from")
        start = dt.datetime.combine(first, dt.time(), LOCAL_TZ).astimezone(dt.UTC)
        end_day = last + dt.timedelta(days=1)
        return start, dt.datetime.combine(end_day, dt.time(), LOCAL_TZ).astimezone(dt.UTC)
    month = dt.date.fromisoformat(f"{args.month}-01") if args.month else today
    return period_bounds("month", month)


async def report(
    database_url: str, start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> Report:
    """Load the period's questions and compute the report."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session:
            records = await load_records(session, start, end)
    finally:
        await engine.dispose()
    return build_report(records, start, end, now)


def main() -> None:
    """Print the report; write the CSV and XLSX files if asked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    period = parser.add_mutually_exclusive_group()
    period.add_argument("--month", help="YYYY-MM")
    period.add_argument("--week", help="any day of the week, YYYY-MM-DD")
    period.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (with --to)")
    parser.add_argument("--to", dest="end", help="last day, YYYY-MM-DD")
    parser.add_argument("--csv", type=Path, help="also write the report as CSV")
    parser.add_argument("--xlsx", type=Path, help="also write the report as an XLSX workbook")
    args = parser.parse_args()
    now = dt.datetime.now(dt.UTC)
    try:
        start, end = bounds(args, now.astimezone(LOCAL_TZ).date())
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    result = asyncio.run(report(Settings.from_env().database_url, start, end, now))
    print(to_text(result))
    if args.csv:
        args.csv.write_text(to_csv(result), encoding="utf-8")
    if args.xlsx:
        to_xlsx(result, args.xlsx)


if __name__ == "__main__":
    main()
