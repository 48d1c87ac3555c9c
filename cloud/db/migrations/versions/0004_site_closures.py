"""Site closures recorded by city staff.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_closure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("from_time", sa.Time(), nullable=True),
        sa.Column("until_time", sa.Time(), nullable=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_closure")),
    )
    op.create_index(op.f("ix_site_closure_site_id"), "site_closure", ["site_id"])
    op.create_index(op.f("ix_site_closure_date"), "site_closure", ["date"])


def downgrade() -> None:
    op.drop_table("site_closure")
