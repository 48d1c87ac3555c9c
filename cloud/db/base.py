"""The declarative base, with a naming convention so migrations name constraints stably."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def import_all_models() -> None:
    """Import every domain's models so `Base.metadata` knows all tables."""
    # The imports register the tables; nothing else is used from them.
    import cloud.alerts.models
    import cloud.attendance.models
    import cloud.audit.models
    import cloud.auth.models
    import cloud.calendar.models
    import cloud.enrollment.models
    import cloud.fleet.models
    import cloud.inspections.models
    import cloud.maintenance.models
    import cloud.manuals.models
    import cloud.organisation.models
    import cloud.privacy.models
    import cloud.reports.approval
    import cloud.routing.models
    import cloud.shifts.models
    import cloud.site_checks.models
    import cloud.sites.models  # noqa: F401
