"""Fleet alerts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kiosk_id", sa.String(63), nullable=False),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_open", sa.Boolean(), nullable=False),
        sa.Column("notified_resolved", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
    )
    op.create_index(op.f("ix_alert_kiosk_id"), "alert", ["kiosk_id"])
    op.create_index(op.f("ix_alert_opened_at"), "alert", ["opened_at"])
    op.create_index(op.f("ix_alert_resolved_at"), "alert", ["resolved_at"])


def downgrade() -> None:
    op.drop_table("alert")
