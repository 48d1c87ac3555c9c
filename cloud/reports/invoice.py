"""The invoice (請求書) of an approved month, as a PDF in Japanese (IPA Gothic, as `pdf.py`).

The amounts are the approved snapshot's billing figures (`billing.py`): the online counter's
fixed monthly fee, the support staff's days × daily rate, and consumption tax. Issuer,
recipient and bank account come from the billing settings.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from cloud.calendar.schedule import load_site
from cloud.reports.approval import ReportApproval, State
from cloud.reports.pdf import FONT, _register_font
from cloud.settings import BillingSettings


def _yen(value: int) -> str:
    return f"{value:,}"


def _month_label(month: str) -> str:
    return f"{int(month[:4])}年{int(month[5:])}月分"


def _due(issued: date, days: int) -> date:
    due = issued + timedelta(days=days)
    return due.replace(day=calendar.monthrange(due.year, due.month)[1]) if days else due


def invoice_figures(approval: ReportApproval) -> dict[str, Any]:
    """The approved figures the invoice shows."""
    if approval.state != State.APPROVED or approval.invoice_number is None:
        raise ValueError("only an approved month has an invoice")
    bill: dict[str, Any] = approval.snapshot["bill"]
    return bill


def invoice_pdf(
    approval: ReportApproval, settings: BillingSettings, sites_dir: Path | None = None
) -> bytes:
    bill = invoice_figures(approval)
    _register_font()
    assert approval.decided_at is not None
    zone = load_site(approval.site_id, sites_dir=sites_dir).zone
    issued = approval.decided_at.astimezone(zone).date()
    site_name = approval.snapshot.get("site_name", approval.site_id)
    title = ParagraphStyle("title", fontName=FONT, fontSize=22, leading=28, alignment=1)
    big = ParagraphStyle("big", fontName=FONT, fontSize=14, leading=20)
    body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=13)
    right = ParagraphStyle("right", parent=body, alignment=2)

    issuer_lines = [settings.issuer_name, settings.issuer_address]
    if settings.issuer_phone:
        issuer_lines.append(f"電話 {settings.issuer_phone}")
    if settings.issuer_registration_number:
        issuer_lines.append(f"登録番号 {settings.issuer_registration_number}")
    header = Table(
        [
            [
                Paragraph(f"<u>{settings.recipient}</u>", big),
                Paragraph(
                    f"請求書番号 {approval.invoice_number}<br/>請求日 {issued:%Y年%m月%d日}",
                    right,
                ),
            ],
            ["", Paragraph("<br/>".join(line for line in issuer_lines if line), right)],
        ],
        colWidths=[95 * mm, 85 * mm],
    )
    header.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    total = Table(
        [["ご請求金額（税込）", f"¥{_yen(bill['total_yen'])}-"]],
        colWidths=[60 * mm, 70 * mm],
    )
    total.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 14),
                ("LINEBELOW", (0, 0), (-1, 0), 1.2, colors.black),
                ("ALIGN", (1, 0), (1, 0), "RIGHT"),
            ]
        )
    )
    lines = Table(
        [
            ["品目", "数量", "単位", "単価（円）", "金額（円）"],
            [
                "オンライン窓口 運営業務（月額）",
                "1",
                "月",
                _yen(bill["fixed_fee_yen"]),
                _yen(bill["fixed_fee_yen"]),
            ],
            [
                "支援員 配置業務",
                str(bill["support_days"]),
                "日",
                _yen(bill["daily_rate_yen"]),
                _yen(bill["support_fee_yen"]),
            ],
            ["小計（税抜）", "", "", "", _yen(bill["subtotal_yen"])],
            [f"消費税（{bill['tax_percent']}%）", "", "", "", _yen(bill["tax_yen"])],
            ["合計（税込）", "", "", "", _yen(bill["total_yen"])],
        ],
        colWidths=[75 * mm, 18 * mm, 15 * mm, 32 * mm, 40 * mm],
    )
    lines.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 9),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DCE6F1")),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#F2F2F2")),
            ]
        )
    )
    tax_summary = Table(
        [
            ["税率区分", "対象金額（税抜）", "消費税額"],
            [f"{bill['tax_percent']}%対象", _yen(bill["subtotal_yen"]), _yen(bill["tax_yen"])],
        ],
        colWidths=[40 * mm, 45 * mm, 40 * mm],
    )
    tax_summary.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 8),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
            ]
        )
    )
    counted = (
        ", ".join(f"{int(d[5:7])}/{int(d[8:])}" for d in bill.get("counted_days", [])) or "なし"
    )
    notes = [
        f"件名: マイナンバーカード手続 遠隔窓口業務委託料"
        f"（{site_name} {_month_label(approval.month)}）",
        f"お支払期限: {_due(issued, settings.payment_days):%Y年%m月%d日}",
    ]
    if settings.bank_account:
        notes.append(f"お振込先: {settings.bank_account}")
    notes += [
        f"支援員 計上日（{bill['support_days']}日）: {counted}",
        f"業務実績報告 第{approval.revision}版（{approval.submitted_by} 提出）を "
        f"{approval.decided_by} が {issued:%Y年%m月%d日} に承認",
    ]
    story: list[object] = [
        Paragraph("請求書", title),
        Spacer(1, 6 * mm),
        header,
        Spacer(1, 6 * mm),
        Paragraph("下記のとおりご請求申し上げます。", body),
        Spacer(1, 3 * mm),
        total,
        Spacer(1, 6 * mm),
        lines,
        Spacer(1, 4 * mm),
        tax_summary,
        Spacer(1, 6 * mm),
        *[Paragraph(n, body) for n in notes],
    ]
    buffer = BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        title=f"請求書 {approval.invoice_number}",
        author=settings.issuer_name,
    ).build(story)
    return buffer.getvalue()
