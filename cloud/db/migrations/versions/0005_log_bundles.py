"""Log bundles sent by kiosks for collect_logs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kiosk_log_bundle",
        sa.Column("command_id", sa.String(36), nullable=False),
        sa.Column("kiosk_id", sa.String(63), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("command_id", name=op.f("pk_kiosk_log_bundle")),
    )
    op.create_index(op.f("ix_kiosk_log_bundle_kiosk_id"), "kiosk_log_bundle", ["kiosk_id"])


def downgrade() -> None:
    op.drop_table("kiosk_log_bundle")
