"""The staffing chart and emergency plan (運営体制図・緊急連絡体制) as a printable PDF."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from zoneinfo import ZoneInfo

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from cloud.organisation.models import Position
from cloud.organisation.service import Member, Organisation
from cloud.reports.pdf import FONT, _register_font

ZONE = ZoneInfo("Asia/Tokyo")
TITLE = "運営体制図・緊急連絡体制"
# What everyone does when something goes wrong; the chain below says whom to call.
EMERGENCY_STEPS = (
    "異常（窓口の停止、通話の断絶、個人情報に関わる事故、災害）を発見した者は、直ちに"
    "緊急連絡網の順位1の者へ業務用電話で連絡する。",
    "応答がない場合は10分を待たずに次の順位の者へ連絡し、連絡がつくまで順に続ける。",
    "責任者は状況を市の担当課へ報告し、必要に応じて技術員の対応または保守拠点からの"
    "出動を指示する。",
    "窓口を停止するときは、支援員が来庁者へ案内し、復旧後は責任者が市へ復旧を報告する。",
)


def _members_text(members: list[Member]) -> list[str]:
    return [m.display_name for m in members] or ["（未配置）"]


def chart(organisation: Organisation, width: float = 180 * mm) -> Drawing:
    """The organisation as boxes: the responsible manager above the four teams."""
    groups = organisation.by_position()
    manager = next(g for g in groups if g[0] == Position.MANAGER)
    teams = [g for g in groups if g[0] != Position.MANAGER]
    rows = max([len(_members_text(g[2])) for g in teams] + [1])
    box_h = 20 + 9 * rows
    height = 24 + 20 + box_h + 6
    drawing = Drawing(width, height)
    top_w, top_h = 70 * mm, 22
    top_x, top_y = (width - top_w) / 2, height - top_h - 2
    drawing.add(Rect(top_x, top_y, top_w, top_h, fillColor=colors.HexColor("#DCE6F1")))
    names = "・".join(_members_text(manager[2]))
    drawing.add(
        String(width / 2, top_y + 13, manager[1], fontName=FONT, fontSize=9, textAnchor="middle")
    )
    drawing.add(String(width / 2, top_y + 4, names, fontName=FONT, fontSize=8, textAnchor="middle"))
    gap = 4 * mm
    box_w = (width - gap * (len(teams) - 1)) / len(teams)
    bus_y = top_y - 10
    drawing.add(Line(width / 2, top_y, width / 2, bus_y))
    drawing.add(Line(box_w / 2, bus_y, width - box_w / 2, bus_y))
    for index, (position, label, members) in enumerate(teams):
        x = index * (box_w + gap)
        y = bus_y - 10 - box_h
        drawing.add(Line(x + box_w / 2, bus_y, x + box_w / 2, y + box_h))
        fill = colors.HexColor("#FEF3C7") if position == Position.MAINTENANCE_BASE else colors.white
        drawing.add(Rect(x, y, box_w, box_h, fillColor=fill))
        drawing.add(String(x + 4, y + box_h - 10, label, fontName=FONT, fontSize=9))
        for line, name in enumerate(_members_text(members)):
            drawing.add(String(x + 8, y + box_h - 22 - 9 * line, name, fontName=FONT, fontSize=7.5))
    return drawing


def _table(rows: list[list[str]], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
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


def organisation_pdf(organisation: Organisation, generated_at: datetime) -> bytes:
    _register_font()
    title = ParagraphStyle("title", fontName=FONT, fontSize=15, leading=20)
    heading = ParagraphStyle("heading", fontName=FONT, fontSize=11, leading=16, spaceBefore=8)
    body = ParagraphStyle("body", fontName=FONT, fontSize=8.5, leading=12)
    chain = organisation.chain
    story: list[object] = [
        Paragraph(TITLE, title),
        Paragraph(
            f"マイナンバーカード手続 遠隔窓口　作成 {generated_at.astimezone(ZONE):%Y-%m-%d %H:%M}"
            "　（職員記録から作成）",
            body,
        ),
        Paragraph("1. 運営体制", heading),
        chart(organisation),
        Spacer(1, 3 * mm),
        _table(
            [["役職", "氏名", "拠点", "業務用電話"]]
            + [[m.position_label, m.display_name, m.base, m.phone] for m in organisation.members],
            [30 * mm, 45 * mm, 60 * mm, 40 * mm],
        ),
        Paragraph("2. 緊急連絡網（連絡順位順）", heading),
        _table(
            [["順位", "氏名", "役職", "拠点", "業務用電話", "緊急時の役割"]]
            + [
                [
                    str(m.chain_order),
                    m.display_name,
                    m.position_label,
                    m.base,
                    m.phone,
                    Paragraph(m.duty, body),
                ]
                for m in chain
            ],
            [12 * mm, 35 * mm, 25 * mm, 35 * mm, 30 * mm, 45 * mm],
        )
        if chain
        else Paragraph("緊急連絡網は未登録です。", body),
        Paragraph("3. 緊急時の対応", heading),
        *[Paragraph(f"({n}) {step}", body) for n, step in enumerate(EMERGENCY_STEPS, 1)],
        Spacer(1, 3 * mm),
        Paragraph("電話番号は業務用のもののみを記載しています。", body),
    ]
    buffer = BytesIO()
    SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, title=TITLE
    ).build(story)
    return buffer.getvalue()
