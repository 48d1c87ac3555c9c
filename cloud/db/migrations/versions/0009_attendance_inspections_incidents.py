"""Support staff attendance, weekly inspections, incidents and complaints.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "support_attendance",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(63), nullable=False, index=True),
        sa.Column("day", sa.Date(), nullable=False, index=True),
        sa.Column(
            "staff_id",
            sa.Integer(),
            sa.ForeignKey("staff_user.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("site_id", "day", "staff_id"),
    )
    op.create_table(
        "inspection",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(63), nullable=False, index=True),
        sa.Column("kiosk_id", sa.String(63), nullable=False),
        sa.Column("inspected_on", sa.Date(), nullable=False, index=True),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("result", sa.String(8), nullable=False),
        sa.Column("notes", sa.String(500), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(63), nullable=False, index=True),
        sa.Column("kiosk_id", sa.String(63), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("prevention_plan", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("incident")
    op.drop_table("inspection")
    op.drop_table("support_attendance")
