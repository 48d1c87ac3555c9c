"""Monthly report approval (submitted → returned/approved, with its history) and the
organisation's positions and emergency contact chain.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_approval",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("invoice_number", sa.String(40), nullable=True, unique=True),
        sa.UniqueConstraint("site_id", "month"),
    )
    op.create_table(
        "report_approval_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "approval_id",
            sa.Integer(),
            sa.ForeignKey("report_approval.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
    )
    op.create_table(
        "org_position",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("staff_user.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("position", sa.String(24), nullable=False),
        sa.Column("base", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(24), nullable=False),
        sa.Column("chain_order", sa.Integer(), nullable=True),
        sa.Column("duty", sa.String(200), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("org_position")
    op.drop_table("report_approval_event")
    op.drop_table("report_approval")
