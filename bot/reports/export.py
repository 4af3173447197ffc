"""The promise report as a terminal text, a CSV string or an Excel workbook for union staff.

Labels are Vietnamese. The text uses the Vietnamese decimal comma ("66,7 %"); the CSV is for
machines (dot decimals, the share as a fraction 0-1); the workbook holds real numbers with
number formats. Times are shown in Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.data_source import AxDataSource, StrRef
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.reports.ledger_report import BREAKDOWNS, LOCAL_TZ, Figures, Report

TITLE = "Báo cáo cam kết trả lời trong 24 giờ"
NOTE = (
    "Đã chốt = đã trả lời hoặc đã quá hạn. Chưa đến hạn = chưa trả lời và còn hạn "
    "(không tính vào tỉ lệ). Trung vị và P90 theo thứ hạng gần nhất: giá trị ở thứ hạng "
    "⌈p/100 × n⌉ trong danh sách thời gian trả lời đã sắp xếp."
)

# Figure fields of ``Figures``, in column order, with their Vietnamese labels.
FIGURE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("total", "tổng số"),
    ("decided", "đã chốt"),
    ("pending", "chưa đến hạn"),
    ("answered", "đã trả lời"),
    ("answered_in_time", "đúng hạn"),
    ("breaches", "trễ hạn"),
    ("share_in_time", "tỉ lệ đúng hạn"),
    ("median_hours", "trung vị (giờ)"),
    ("p90_hours", "P90 (giờ)"),
    ("by_bot", "bot trả lời"),
    ("by_staff", "cán bộ trả lời"),
)
SHARE_FIELDS = frozenset({"share_in_time"})
HOURS_FIELDS = frozenset({"median_hours", "p90_hours"})

# Breakdown key -> (sheet and section title, name of the group).
BREAKDOWN_LABELS: dict[str, tuple[str, str]] = {
    "page": ("Theo trang", "trang"),
    "channel": ("Theo kênh", "kênh"),
    "category": ("Theo lĩnh vực", "lĩnh vực"),
    "answerer": ("Theo người trả lời", "người trả lời"),
    "staff": ("Theo cán bộ", "cán bộ"),
    "week": ("Theo tuần", "tuần"),
    "month": ("Theo tháng", "tháng"),
}
CHARTED_BREAKDOWNS = ("week", "month")

OVERVIEW_SHEET = "Tổng quan"
OPEN_SHEET = "Còn mở"
OPEN_TITLE = "Còn mở theo thời gian còn lại"
OPEN_HEADERS = ("thời gian còn lại", "số câu hỏi")
OVERALL_GROUP = "tổng"
MISSING = "–"


def _cap(label: str) -> str:
    """The label with its first letter in upper case (for headers)."""
    return label[:1].upper() + label[1:]


def _local(moment: dt.datetime) -> dt.datetime:
    """``moment`` in Vietnam, without its time zone (Excel cannot store one)."""
    return moment.astimezone(LOCAL_TZ).replace(tzinfo=None)


def _values(figures: Figures) -> list[int | float | None]:
    return [getattr(figures, field) for field, _ in FIGURE_COLUMNS]


# --- text -------------------------------------------------------------------------------------


def _decimal_comma(value: float, digits: int) -> str:
    return f"{value:.{digits}f}".replace(".", ",")


def _text_cell(field: str, value: int | float | None) -> str:
    """A figure for reading: shares as "93,5 %", hours with one decimal, "–" for none."""
    if value is None:
        return MISSING
    if field in SHARE_FIELDS:
        return f"{_decimal_comma(value * 100, 1)} %"
    if field in HOURS_FIELDS:
        return _decimal_comma(value, 1)
    return str(value)


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned lines: first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(row) for row in rows)]


def _figure_rows(rows: Sequence[tuple[str, Figures]]) -> list[list[str]]:
    return [
        [label, *(_text_cell(field, getattr(fig, field)) for field, _ in FIGURE_COLUMNS)]
        for label, fig in rows
    ]


def _text_heading(report: Report) -> list[str]:
    return [
        TITLE,
        f"Kỳ báo cáo: câu hỏi mở từ {_local(report.start):%d/%m/%Y %H:%M} đến trước "
        f"{_local(report.end):%d/%m/%Y %H:%M} (giờ Việt Nam)",
        f"Tính lúc: {_local(report.now):%d/%m/%Y %H:%M} (giờ Việt Nam)",
        NOTE,
    ]


def to_text(report: Report) -> str:
    """Terminal tables: overall, open by time left, then each breakdown."""
    overall = [
        [_cap(label), _text_cell(field, getattr(report.overall, field))]
        for field, label in FIGURE_COLUMNS
    ]
    open_rows = [[bucket, str(count)] for bucket, count in report.open_by_time_left.items()]
    sections = [
        _text_heading(report),
        [OVERVIEW_SHEET, *_text_table(["Chỉ số", "Giá trị"], overall)],
        [OPEN_TITLE, *_text_table([_cap(h) for h in OPEN_HEADERS], open_rows)],
    ]
    columns = [_cap(label) for _, label in FIGURE_COLUMNS]
    for name in BREAKDOWNS:
        title, group = BREAKDOWN_LABELS[name]
        rows = _figure_rows(report.breakdowns[name])
        sections.append([title, *_text_table([_cap(group), *columns], rows)])
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


# --- CSV --------------------------------------------------------------------------------------


def _csv_cell(field: str, value: int | float | None) -> str:
    """A figure for machines: dot decimals, share as a fraction with 4 decimals, "" for none."""
    if value is None:
        return ""
    if field in SHARE_FIELDS:
        return f"{value:.4f}"
    if field in HOURS_FIELDS:
        return f"{value:.2f}"
    return str(value)


def _csv_row(group: str, label: str, figures: Figures) -> list[str]:
    cells = [_csv_cell(field, getattr(figures, field)) for field, _ in FIGURE_COLUMNS]
    return [group, label, *cells]


def to_csv(report: Report) -> str:
    """One CSV: a "tổng" row for the overall figures, then a row per breakdown line.

    Columns: "nhóm" (the breakdown), "giá trị" (its label), then the figures. No BOM is added.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["nhóm", "giá trị", *(label for _, label in FIGURE_COLUMNS)])
    writer.writerow(_csv_row(OVERALL_GROUP, "", report.overall))
    for name in BREAKDOWNS:
        group = BREAKDOWN_LABELS[name][1]
        for label, fig in report.breakdowns[name]:
            writer.writerow(_csv_row(group, label, fig))
    return buffer.getvalue()


# --- XLSX -------------------------------------------------------------------------------------

SHARE_FORMAT = "0.0%"
HOURS_FORMAT = "0.0"
TIME_FORMAT = "dd/mm/yyyy hh:mm"
BOLD = Font(bold=True)


def _number_format(field: str) -> str | None:
    if field in SHARE_FIELDS:
        return SHARE_FORMAT
    if field in HOURS_FIELDS:
        return HOURS_FORMAT
    return None


def _header(sheet: Worksheet, labels: Sequence[str]) -> None:
    sheet.append([_cap(label) for label in labels])
    for cell in sheet[sheet.max_row]:
        cell.font = BOLD


def _fill_overview(sheet: Worksheet, report: Report) -> None:
    """Title, period and computing time (Vietnam), then the overall figures as label/value."""
    sheet.append([TITLE])
    sheet["A1"].font = BOLD
    for label, moment in (
        ("Từ (giờ Việt Nam)", report.start),
        ("Đến trước (giờ Việt Nam)", report.end),
        ("Tính lúc (giờ Việt Nam)", report.now),
    ):
        sheet.append([label, _local(moment)])
        sheet.cell(sheet.max_row, 2).number_format = TIME_FORMAT
    sheet.append([])
    _header(sheet, ["chỉ số", "giá trị"])
    for field, label in FIGURE_COLUMNS:
        sheet.append([_cap(label), getattr(report.overall, field)])
        number_format = _number_format(field)
        if number_format:
            sheet.cell(sheet.max_row, 2).number_format = number_format
    sheet.append([])
    sheet.append([NOTE])
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 18


def _fill_open(sheet: Worksheet, report: Report) -> None:
    _header(sheet, OPEN_HEADERS)
    for bucket, count in report.open_by_time_left.items():
        sheet.append([bucket, count])
    sheet.column_dimensions["A"].width = 20
    sheet.column_dimensions["B"].width = 12


def _fill_breakdown(sheet: Worksheet, group: str, rows: Sequence[tuple[str, Figures]]) -> None:
    """A header row, then one row per label with the figures as numbers."""
    _header(sheet, [group, *(label for _, label in FIGURE_COLUMNS)])
    for label, fig in rows:
        sheet.append([label, *_values(fig)])
        for column, (field, _) in enumerate(FIGURE_COLUMNS, start=2):
            number_format = _number_format(field)
            if number_format:
                sheet.cell(sheet.max_row, column).number_format = number_format
    sheet.freeze_panes = "B2"
    sheet.column_dimensions["A"].width = 22
    for column in range(2, len(FIGURE_COLUMNS) + 2):
        sheet.column_dimensions[get_column_letter(column)].width = 15


def _share_chart(sheet: Worksheet, title: str, rows: int) -> BarChart:
    """A bar chart of the share in time over the ``rows`` data rows of a breakdown sheet."""
    share_column = 2 + [field for field, _ in FIGURE_COLUMNS].index("share_in_time")
    chart = BarChart()
    chart.type = "col"
    chart.title = f"Tỉ lệ trả lời đúng hạn – {title.lower()}"
    chart.y_axis.title = _cap(FIGURE_COLUMNS[share_column - 2][1])
    chart.y_axis.number_format = "0%"
    chart.y_axis.scaling.min = 0
    chart.y_axis.scaling.max = 1
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.legend = None
    data = Reference(sheet, min_col=share_column, min_row=1, max_row=rows + 1)
    chart.add_data(data, titles_from_data=True)
    labels = Reference(sheet, min_col=1, min_row=2, max_row=rows + 1)
    for series in chart.series:  # the labels are text: a string reference, not a number one
        series.cat = AxDataSource(strRef=StrRef(f=str(labels)))
    return chart


def to_xlsx(report: Report, path: str | os.PathLike[str]) -> None:
    """Write the report as a workbook at ``path``.

    Sheets: "Tổng quan", "Còn mở", then one per breakdown ("Theo trang" … "Theo tháng"). The
    week and month sheets carry a bar chart of the share in time (when they have rows).
    """
    workbook = Workbook()
    overview = workbook.active
    overview.title = OVERVIEW_SHEET
    _fill_overview(overview, report)
    _fill_open(workbook.create_sheet(OPEN_SHEET), report)
    for name in BREAKDOWNS:
        title, group = BREAKDOWN_LABELS[name]
        sheet = workbook.create_sheet(title)
        rows = report.breakdowns[name]
        _fill_breakdown(sheet, group, rows)
        if name in CHARTED_BREAKDOWNS and rows:
            anchor = f"{get_column_letter(len(FIGURE_COLUMNS) + 3)}2"
            sheet.add_chart(_share_chart(sheet, title, len(rows)), anchor)
    workbook.save(path)
