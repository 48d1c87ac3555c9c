"""A report month, "YYYY-MM", as its first and last dates."""

from __future__ import annotations

import calendar
import re
from datetime import date

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


def month_range(month: str) -> tuple[date, date]:
    if not re.match(MONTH_PATTERN, month):
        raise ValueError("a month is written YYYY-MM")
    year, number = int(month[:4]), int(month[5:])
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])
