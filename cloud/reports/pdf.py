"""The monthly report as a PDF with charts, in Japanese (IPA Gothic, a Debian font package).

Charts are drawn with matplotlib (Agg, no display) and placed by reportlab: residents helped
per day by channel, and each window's uptime against the opening hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display on a server

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.figure import Figure
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Image,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from cloud.reports.monthly import CHANNEL_LABELS, OUTCOME_LABELS, PROCEDURE_LABELS, MonthlyReport

FONT_CANDIDATES = (
    Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),
)
FONT = "IPAGothic"


class MissingFontError(RuntimeError):
    pass


def _font_path() -> Path:
    for path in FONT_CANDIDATES:
        if path.exists():
            return path
    raise MissingFontError(
        "no Japanese font for the PDF: install the Debian package fonts-ipafont-gothic"
    )


def _register_font() -> Path:
    path = _font_path()
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(path)))
    return path


def _chart_daily(report: MonthlyReport, font: font_manager.FontProperties) -> BytesIO:
    labels = [str(d.schedule.date.day) for d in report.days]
    online = [d.online for d in report.days]
    support = [d.support for d in report.days]
    figure, axis = plt.subplots(figsize=(7.2, 2.8), dpi=150)
    axis.bar(labels, online, label="オンライン窓口", color="#0b4f8a")
    axis.bar(labels, support, bottom=online, label="支援員", color="#f59e0b")
    axis.set_title("日別 対応人数", fontproperties=font)
    axis.set_xlabel("日", fontproperties=font)
    axis.set_ylabel("人", fontproperties=font)
    axis.legend(prop=font)
    axis.tick_params(axis="x", labelsize=6)
    figure.tight_layout()
    return _png(figure)


def _chart_uptime(report: MonthlyReport, font: font_manager.FontProperties) -> BytesIO:
    windows = report.uptime.windows
    names = [w.kiosk_id for w in windows] or ["—"]
    values = [100 * (w.ratio or 0.0) for w in windows] or [0.0]
    figure, axis = plt.subplots(figsize=(7.2, 0.6 + 0.45 * len(names)), dpi=150)
    axis.barh(names, values, color="#15803d")
    axis.set_xlim(0, 100)
    axis.set_title("窓口別 稼働率（開設時間に対する%）", fontproperties=font)
    for index, value in enumerate(values):
        axis.text(min(value, 92), index, f"{value:.1f}%", va="center", fontsize=7)
    figure.tight_layout()
    return _png(figure)


def _png(figure: Figure) -> BytesIO:
    buffer = BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    buffer.seek(0)
    return buffer


def _table(rows: Sequence[Sequence[object]], widths: list[float]) -> Table:
    table = Table([[str(c) for c in row] for row in rows], colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 8),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DCE6F1")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def pdf_bytes(report: MonthlyReport) -> bytes:
    font_path = _register_font()
    font = font_manager.FontProperties(fname=str(font_path))
    title = ParagraphStyle("title", fontName=FONT, fontSize=15, leading=20)
    heading = ParagraphStyle("heading", fontName=FONT, fontSize=11, leading=16, spaceBefore=6)
    body = ParagraphStyle("body", fontName=FONT, fontSize=8, leading=11)
    uptime = report.uptime.ratio
    story: list[object] = [
        Paragraph(f"業務実績報告　{report.site_name}　{report.month}", title),
        Paragraph(
            f"対象期間 {report.first.isoformat()} 〜 {report.last.isoformat()}　"
            f"作成 {report.generated_at.astimezone(report.zone):%Y-%m-%d %H:%M}",
            body,
        ),
        Spacer(1, 4 * mm),
        _table(
            [
                ["項目", "値"],
                ["開設日数", report.opening_days],
                ["オンライン窓口 対応人数", report.online_total],
                ["支援員 対応人数", report.support_total],
                ["窓口稼働率", "—" if uptime is None else f"{uptime:.1%}"],
                ["オペレーター不在時間", f"{report.staffing_gap_minutes:.0f} 分"],
                ["点検未実施週", len(report.weeks_missed)],
                ["事故・苦情", f"{len(report.incidents)} 件"],
                ["請求額（税込）", f"{report.bill.total_yen:,} 円"],
            ],
            [60 * mm, 60 * mm],
        ),
        Paragraph("日別 対応人数", heading),
        Image(_chart_daily(report, font), width=180 * mm, height=70 * mm),
        Paragraph("窓口別 稼働率", heading),
        Image(
            _chart_uptime(report, font),
            width=180 * mm,
            height=(15 + 11 * max(1, len(report.uptime.windows))) * mm,
        ),
        Paragraph("手続別 対応人数", heading),
        _table(
            [["窓口", "手続", "結果", "人数"]]
            + [
                [
                    CHANNEL_LABELS[channel],
                    PROCEDURE_LABELS.get(procedure, procedure),
                    OUTCOME_LABELS.get(outcome, outcome),
                    count,
                ]
                for (channel, procedure, outcome), count in sorted(
                    report.by_procedure.items(), key=lambda i: (i[0][0], str(i[0][1]))
                )
            ],
            [35 * mm, 60 * mm, 30 * mm, 20 * mm],
        ),
    ]
    serious = [i for i in report.incidents if i.severity == "serious"]
    if serious:
        story.append(Paragraph("重大事故・苦情と再発防止策", heading))
        for incident in serious:
            story.append(
                Paragraph(
                    f"{incident.occurred_at.astimezone(report.zone):%Y-%m-%d %H:%M}　"
                    f"{incident.summary}<br/>再発防止策: {incident.prevention_plan or ''}",
                    body,
                )
            )
    story.append(Paragraph("請求", heading))
    b = report.bill
    story.append(
        _table(
            [
                ["内訳", "金額（円）"],
                ["オンライン窓口 月額", f"{b.fixed_fee_yen:,}"],
                [f"支援員 {b.support_days} 日 × {b.daily_rate_yen:,}", f"{b.support_fee_yen:,}"],
                [f"消費税 {b.tax_percent}%", f"{b.tax_yen:,}"],
                ["合計", f"{b.total_yen:,}"],
            ],
            [80 * mm, 40 * mm],
        )
    )
    buffer = BytesIO()
    SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, title="業務実績報告"
    ).build(story)
    return buffer.getvalue()
