"""The month's bill: the online counter's fixed fee, plus the support staff's daily rate ×
the days they actually worked, plus consumption tax.

A day counts when support staff attended and city hall was open at least part of the day:
a day closed for the whole day (a holiday, a storm) does not count; a day that opened late
or closed early counts as one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from cloud.calendar.days import Closure, days
from cloud.calendar.schedule import SiteSchedule
from cloud.settings import BillingSettings


@dataclass(frozen=True, slots=True)
class BillingDay:
    date: date
    open: bool
    attended: int  # support staff who recorded the day
    counted: bool
    basis: str  # why it counts or not, in Japanese for the city

    def as_json(self) -> dict[str, object]:
        return {
            "date": self.date.isoformat(),
            "open": self.open,
            "support_staff": self.attended,
            "counted": self.counted,
            "basis": self.basis,
        }


@dataclass(frozen=True, slots=True)
class Bill:
    site_id: str
    month: str
    fixed_fee_yen: int
    daily_rate_yen: int
    support_days: int
    support_fee_yen: int
    subtotal_yen: int
    tax_percent: int
    tax_yen: int
    total_yen: int
    days: tuple[BillingDay, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "site_id": self.site_id,
            "month": self.month,
            "fixed_fee_yen": self.fixed_fee_yen,
            "support_daily_rate_yen": self.daily_rate_yen,
            "support_days": self.support_days,
            "support_fee_yen": self.support_fee_yen,
            "subtotal_yen": self.subtotal_yen,
            "tax_percent": self.tax_percent,
            "tax_yen": self.tax_yen,
            "total_yen": self.total_yen,
            "days": [d.as_json() for d in self.days],
        }


def bill(
    *,
    site: SiteSchedule,
    month: str,
    first: date,
    last: date,
    attendance: dict[date, int],
    closures: Iterable[Closure],
    settings: BillingSettings,
) -> Bill:
    rows = []
    for day in days(site, first, last, closures):
        attended = attendance.get(day.date, 0)
        counted = attended > 0 and day.open
        if not attended:
            basis = "支援員の出勤なし"
        elif not day.open:
            basis = f"終日閉庁のため対象外（{day.reason or '閉庁日'}）"
        elif day.reason:
            basis = f"一部開庁（{day.reason}）: 1日として計上"
        else:
            basis = "開庁日: 計上"
        rows.append(BillingDay(day.date, day.open, attended, counted, basis))
    support_days = sum(1 for r in rows if r.counted)
    support_fee = support_days * settings.support_daily_rate_yen
    subtotal = settings.monthly_fee_yen + support_fee
    tax = subtotal * settings.tax_percent // 100  # rounded down to the yen
    return Bill(
        site_id=site.site_id,
        month=month,
        fixed_fee_yen=settings.monthly_fee_yen,
        daily_rate_yen=settings.support_daily_rate_yen,
        support_days=support_days,
        support_fee_yen=support_fee,
        subtotal_yen=subtotal,
        tax_percent=settings.tax_percent,
        tax_yen=tax,
        total_yen=subtotal + tax,
        days=tuple(rows),
    )
