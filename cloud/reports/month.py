"""A report month, "YYYY-MM", as its first and last dates."""

from __future__ import annotations

import calendar
import re
from datetime import date

# Years 1900-2099: the service's own span, and far from the ends of `date` (year 0 does not
# exist, and a month of year 1 or 9999 overflows once shifted to UTC or to the next month).
MONTH_PATTERN = r"^(19|20)\d{2}-(0[1-9]|1[0-2])$"


def month_range(month: str) -> tuple[date, date]:
    if not re.match(MONTH_PATTERN, month):
        raise ValueError("a month is written YYYY-MM")
    year, number = int(month[:4]), int(month[5:])
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])
