"""`madoguchi report …`: reports for the city."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Reports for the city.", no_args_is_help=True)


@app.command("uptime")
def uptime_command(
    site: Annotated[str, typer.Option("--site", help="Site id")],
    start: Annotated[str, typer.Option("--from", help="First date, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="Last date, YYYY-MM-DD")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
    sites_dir: Annotated[Path | None, typer.Option(help="Site schedules (YAML)")] = None,
) -> None:
    """Uptime of each window against the opening hours, with the outages and their causes,
    from the control plane's database (MADOGUCHI_CLOUD_DATABASE_URL)."""
    from cloud.calendar.schedule import UnknownSiteError
    from cloud.reports.service import as_json as report_json
    from cloud.reports.service import uptime_report
    from cloud.settings import CloudSettings
    from madoguchi.commands.database import in_transaction

    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        typer.echo("--from and --to must be dates as YYYY-MM-DD", err=True)
        raise typer.Exit(2) from None
    if first > last:
        typer.echo("--from must not be after --to", err=True)
        raise typer.Exit(2)
    try:
        report = in_transaction(
            CloudSettings().database_url,
            lambda db: uptime_report(
                db=db, site_id=site, start=first, end=last, sites_dir=sites_dir
            ),
        )
    except UnknownSiteError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report_json(report), ensure_ascii=False, indent=1))
        return

    def percent(value: float | None) -> str:
        return "—" if value is None else f"{value:.1%}"

    typer.echo(
        f"{site} {first}〜{last}: 開設 {report.scheduled_minutes:.0f} 分, "
        f"稼働率 {percent(report.ratio)}"
    )
    for window in report.windows:
        typer.echo(
            f"  {window.kiosk_id}: {window.serviceable_minutes:.0f} / "
            f"{window.scheduled_minutes:.0f} 分 ({percent(window.ratio)})"
        )
        for outage in window.outages:
            typer.echo(
                f"    停止 {outage.start:%m-%d %H:%M}〜{outage.end:%H:%M} "
                f"({outage.minutes:.0f} 分) {outage.cause}"
            )


def _monthly_report(site: str, month: str, sites_dir: Path | None):  # type: ignore[no-untyped-def]
    from cloud.calendar.schedule import UnknownSiteError
    from cloud.reports.month import month_range
    from cloud.reports.monthly import monthly_report
    from cloud.settings import CloudSettings
    from madoguchi.commands.database import in_transaction

    try:
        month_range(month)
    except ValueError:
        typer.echo("--month must be YYYY-MM", err=True)
        raise typer.Exit(2) from None
    settings = CloudSettings()
    try:
        return in_transaction(
            settings.database_url,
            lambda db: monthly_report(
                db=db,
                site_id=site,
                month=month,
                billing=settings.billing,
                sites_dir=sites_dir or settings.calendar.sites_dir,
            ),
        )
    except UnknownSiteError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@app.command("monthly")
def monthly_command(
    site: Annotated[str, typer.Option("--site", help="Site id")],
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    out: Annotated[Path, typer.Option("--out", help="FILE.xlsx or FILE.pdf")],
    sites_dir: Annotated[Path | None, typer.Option(help="Site schedules (YAML)")] = None,
) -> None:
    """The monthly performance report (業務実績報告) as .xlsx or PDF, from the control
    plane's database (MADOGUCHI_CLOUD_DATABASE_URL)."""
    from cloud.reports.pdf import pdf_bytes
    from cloud.reports.xlsx import xlsx_bytes

    if out.suffix not in (".xlsx", ".pdf"):
        typer.echo("--out must end in .xlsx or .pdf", err=True)
        raise typer.Exit(2)
    report = _monthly_report(site, month, sites_dir)
    out.write_bytes(xlsx_bytes(report) if out.suffix == ".xlsx" else pdf_bytes(report))
    typer.echo(
        f"{out}: {site} {month} 開設 {report.opening_days} 日, "
        f"オンライン {report.online_total} 人, 支援員 {report.support_total} 人, "
        f"請求 {report.bill.total_yen:,} 円"
    )


@app.command("billing")
def billing_command(
    site: Annotated[str, typer.Option("--site", help="Site id")],
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON with the day-by-day basis")] = False,
    sites_dir: Annotated[Path | None, typer.Option(help="Site schedules (YAML)")] = None,
) -> None:
    """The month's bill: fixed fee + support staff days × daily rate + consumption tax."""
    bill = _monthly_report(site, month, sites_dir).bill
    if as_json:
        typer.echo(json.dumps(bill.as_json(), ensure_ascii=False, indent=1))
        return
    typer.echo(
        f"{site} {month}: 月額 {bill.fixed_fee_yen:,} + 支援員 {bill.support_days} 日 × "
        f"{bill.daily_rate_yen:,} = {bill.subtotal_yen:,}, 消費税 {bill.tax_yen:,}, "
        f"合計 {bill.total_yen:,} 円"
    )


@app.command("organisation")
def organisation_command(
    out: Annotated[Path, typer.Option("--out", help="FILE.pdf")],
) -> None:
    """The staffing chart and emergency plan (運営体制図・緊急連絡体制) as PDF, from the
    staff records in the control plane's database (MADOGUCHI_CLOUD_DATABASE_URL)."""
    from datetime import UTC, datetime

    from cloud.organisation.pdf import organisation_pdf
    from cloud.organisation.service import organisation
    from cloud.settings import CloudSettings
    from madoguchi.commands.database import in_transaction

    if out.suffix != ".pdf":
        typer.echo("--out must end in .pdf", err=True)
        raise typer.Exit(2)
    org = in_transaction(CloudSettings().database_url, lambda db: organisation(db=db))
    out.write_bytes(organisation_pdf(org, datetime.now(UTC)))
    typer.echo(f"{out}: {len(org.members)} 人, 緊急連絡網 {len(org.chain)} 人")


@app.command("invoice")
def invoice_command(
    site: Annotated[str, typer.Option("--site", help="Site id")],
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    out: Annotated[Path, typer.Option("--out", help="FILE.pdf")],
) -> None:
    """The invoice (請求書) of an approved month as PDF (exit 1 while not approved)."""
    from cloud.reports.approval import State, find
    from cloud.reports.invoice import invoice_pdf
    from cloud.settings import CloudSettings
    from madoguchi.commands.database import in_transaction

    settings = CloudSettings()
    row = in_transaction(settings.database_url, lambda db: find(db=db, site_id=site, month=month))
    if row is None or row.state != State.APPROVED:
        typer.echo(f"{site} {month} is not approved: no invoice", err=True)
        raise typer.Exit(1)
    out.write_bytes(invoice_pdf(row, settings.billing, sites_dir=settings.calendar.sites_dir))
    typer.echo(f"{out}: {row.invoice_number} 合計 {row.snapshot['bill']['total_yen']:,} 円")
