"""The monthly report as an Excel workbook (what city offices use), in Japanese.

Sheets: 概要 (summary), 日別 (per day), 手続別 (by procedure and result), 稼働状況 (windows
and outages), 点検 (weekly inspections), 事故・苦情 (incidents and complaints, with the
prevention plans of serious ones), 請求 (the bill and its day-by-day basis).
"""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from cloud.reports.monthly import (
    CHANNEL_LABELS,
    OUTCOME_LABELS,
    PROCEDURE_LABELS,
    MonthlyReport,
)

HEADER = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
WEEKDAYS = "月火水木金土日"


def _header(sheet: Worksheet, row: int, labels: list[str]) -> None:
    for column, label in enumerate(labels, start=1):
        cell = sheet.cell(row=row, column=column, value=label)
        cell.font, cell.fill = HEADER, HEADER_FILL


def _widths(sheet: Worksheet, widths: list[int]) -> None:
    for index, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + index)].width = width


def _hours(minutes: float) -> float:
    return round(minutes / 60, 2)


def workbook(report: MonthlyReport) -> Workbook:
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "概要"
    title = f"業務実績報告 {report.site_name}（{report.site_id}） {report.month}"
    summary["A1"] = title
    summary["A1"].font = Font(bold=True, size=14)
    uptime = report.uptime.ratio
    rows: list[tuple[str, object]] = [
        ("対象期間", f"{report.first.isoformat()} 〜 {report.last.isoformat()}"),
        ("開設日数", report.opening_days),
        ("開設時間（時間）", _hours(sum(d.scheduled_minutes for d in report.days))),
        ("オンライン窓口 対応人数", report.online_total),
        ("支援員 対応人数", report.support_total),
        ("窓口稼働率", round(uptime, 4) if uptime is not None else "—"),
        ("オペレーター不在時間（分）", round(report.staffing_gap_minutes, 1)),
        (
            "点検実施週 / 対象週",
            f"{sum(w.done for w in report.weeks if w.needed)} / "
            f"{sum(w.needed for w in report.weeks)}",
        ),
        ("点検未実施週", len(report.weeks_missed)),
        ("事故・苦情 件数", len(report.incidents)),
        ("請求額（税込、円）", report.bill.total_yen),
        ("作成日時", report.generated_at.isoformat(timespec="seconds")),
    ]
    for index, (label, value) in enumerate(rows, start=3):
        summary.cell(row=index, column=1, value=label).font = HEADER
        summary.cell(row=index, column=2, value=value)
    if uptime is not None:
        summary.cell(row=8, column=2).number_format = "0.0%"
    summary.cell(row=13, column=2).number_format = "#,##0"
    _widths(summary, [28, 40])

    daily = book.create_sheet("日別")
    _header(
        daily,
        1,
        [
            "日付",
            "曜日",
            "開設",
            "開庁時間",
            "理由",
            "開設時間（分）",
            "オンライン窓口",
            "支援員",
            "合計",
            "オペレーター不在（分）",
        ],
    )
    for row, day in enumerate(report.days, start=2):
        s = day.schedule
        hours = f"{s.opens:%H:%M}〜{s.closes:%H:%M}" if s.open and s.opens and s.closes else ""
        values = [
            s.date,
            WEEKDAYS[s.date.weekday()],
            "開設" if s.open else "閉庁",
            hours,
            s.reason or "",
            round(day.scheduled_minutes, 1),
            day.online,
            day.support,
            day.online + day.support,
            round(day.staffing_gap_minutes, 1),
        ]
        for column, value in enumerate(values, start=1):
            daily.cell(row=row, column=column, value=value)
        daily.cell(row=row, column=1).number_format = "yyyy-mm-dd"
    total_row = len(report.days) + 2
    daily.cell(row=total_row, column=1, value="合計").font = HEADER
    daily.cell(row=total_row, column=7, value=report.online_total).font = HEADER
    daily.cell(row=total_row, column=8, value=report.support_total).font = HEADER
    daily.cell(
        row=total_row, column=9, value=report.online_total + report.support_total
    ).font = HEADER
    _widths(daily, [12, 6, 8, 14, 36, 14, 14, 10, 8, 20])

    procedures = book.create_sheet("手続別")
    _header(procedures, 1, ["窓口", "手続", "結果", "人数"])
    ordered = sorted(
        report.by_procedure.items(),
        key=lambda item: (item[0][0], str(item[0][1]), str(item[0][2])),
    )
    for row, ((channel, procedure, outcome), count) in enumerate(ordered, start=2):
        procedures.cell(row=row, column=1, value=CHANNEL_LABELS[channel])
        procedures.cell(row=row, column=2, value=PROCEDURE_LABELS.get(procedure, procedure))
        procedures.cell(row=row, column=3, value=OUTCOME_LABELS.get(outcome, outcome))
        procedures.cell(row=row, column=4, value=count)
    _widths(procedures, [16, 28, 12, 8])

    windows = book.create_sheet("稼働状況")
    _header(windows, 1, ["窓口端末", "開設時間（分）", "稼働時間（分）", "稼働率"])
    row = 2
    for window in report.uptime.windows:
        windows.cell(row=row, column=1, value=window.kiosk_id)
        windows.cell(row=row, column=2, value=round(window.scheduled_minutes, 1))
        windows.cell(row=row, column=3, value=round(window.serviceable_minutes, 1))
        ratio = windows.cell(row=row, column=4, value=window.ratio)
        ratio.number_format = "0.0%"
        row += 1
    row += 1
    _header(windows, row, ["窓口端末", "停止開始", "停止終了", "時間（分）", "原因"])
    for window in report.uptime.windows:
        for outage in window.outages:
            row += 1
            zone = report.zone
            values = [
                window.kiosk_id,
                outage.start.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                outage.end.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                round(outage.minutes, 1),
                outage.cause,
            ]
            for column, value in enumerate(values, start=1):
                windows.cell(row=row, column=column, value=value)
    _widths(windows, [16, 18, 18, 12, 20])

    checks = book.create_sheet("点検")
    _header(checks, 1, ["週（月曜）", "週（日曜）", "点検対象", "実施"])
    for row, week in enumerate(report.weeks, start=2):
        checks.cell(row=row, column=1, value=week.start).number_format = "yyyy-mm-dd"
        checks.cell(row=row, column=2, value=week.end).number_format = "yyyy-mm-dd"
        checks.cell(row=row, column=3, value="対象" if week.needed else "対象外")
        checks.cell(
            row=row, column=4, value="実施" if week.done else ("未実施" if week.needed else "—")
        )
    row = len(report.weeks) + 3
    _header(checks, row, ["点検日", "端末", "結果", "点検項目", "備考"])
    for inspection in report.inspections:
        row += 1
        items = "、".join(f"{k}:{v}" for k, v in sorted(inspection.checklist.items()))
        values = [
            inspection.inspected_on,
            inspection.kiosk_id,
            "良" if inspection.result == "ok" else "不良",
            items,
            inspection.notes,
        ]
        for column, value in enumerate(values, start=1):
            checks.cell(row=row, column=column, value=value)
        checks.cell(row=row, column=1).number_format = "yyyy-mm-dd"
    _widths(checks, [14, 14, 10, 50, 30])

    incidents = book.create_sheet("事故・苦情")
    _header(incidents, 1, ["発生日時", "種別", "重大度", "端末", "概要", "再発防止策"])
    for row, incident in enumerate(report.incidents, start=2):
        local = incident.occurred_at.astimezone(report.zone)
        values = [
            local.strftime("%Y-%m-%d %H:%M"),
            "事故" if incident.kind == "incident" else "苦情",
            "重大" if incident.severity == "serious" else "軽微",
            incident.kiosk_id or "",
            incident.summary,
            incident.prevention_plan or "",
        ]
        for column, value in enumerate(values, start=1):
            cell = incidents.cell(row=row, column=column, value=value)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    _widths(incidents, [18, 8, 8, 14, 40, 60])

    billing = book.create_sheet("請求")
    b = report.bill
    lines: list[tuple[str, object]] = [
        ("オンライン窓口 月額", b.fixed_fee_yen),
        ("支援員 日額", b.daily_rate_yen),
        ("支援員 稼働日数", b.support_days),
        ("支援員 費用", b.support_fee_yen),
        ("小計", b.subtotal_yen),
        (f"消費税（{b.tax_percent}%、円未満切捨て）", b.tax_yen),
        ("合計", b.total_yen),
    ]
    for row, (label, value) in enumerate(lines, start=1):
        billing.cell(row=row, column=1, value=label).font = HEADER
        billing.cell(row=row, column=2, value=value).number_format = "#,##0"
    start = len(lines) + 2
    _header(billing, start, ["日付", "開設", "支援員出勤", "計上", "根拠"])
    for row, basis in enumerate(b.days, start=start + 1):
        values = [
            basis.date,
            "開設" if basis.open else "閉庁",
            basis.attended,
            "計上" if basis.counted else "—",
            basis.basis,
        ]
        for column, value in enumerate(values, start=1):
            billing.cell(row=row, column=column, value=value)
        billing.cell(row=row, column=1).number_format = "yyyy-mm-dd"
    _widths(billing, [34, 16, 12, 8, 50])
    return book


def xlsx_bytes(report: MonthlyReport) -> bytes:
    buffer = BytesIO()
    workbook(report).save(buffer)
    return buffer.getvalue()
