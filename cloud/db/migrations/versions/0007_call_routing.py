"""Call queue, operator presence, staffing gaps and support-staff cases.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call",
        sa.Column("call_id", sa.String(36), primary_key=True),
        sa.Column("kiosk_id", sa.String(63), nullable=False, index=True),
        sa.Column("site_id", sa.String(63), nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("terms_version", sa.String(64), nullable=False),
        sa.Column("privacy_version", sa.String(64), nullable=False),
        sa.Column(
            "operator_id",
            sa.Integer(),
            sa.ForeignKey("staff_user.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
        sa.Column("ring_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ring_count", sa.Integer(), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True, index=True),
        sa.Column("end_reason", sa.String(32), nullable=True),
        sa.Column("announced_position", sa.Integer(), nullable=True),
        sa.Column("support_requested", sa.Boolean(), nullable=False),
        sa.Column("kiosk_offer", sa.Text(), nullable=True),
        sa.Column("answer_sent", sa.Boolean(), nullable=False),
        sa.Column("procedure", sa.String(32), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("outcome_reason", sa.String(32), nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "operator_presence",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("staff_user.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("available_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("call_id", sa.String(36), nullable=True),
    )
    op.create_table(
        "staffing_gap",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(63), nullable=False, index=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "support_case",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(63), nullable=False, index=True),
        sa.Column("kiosk_id", sa.String(63), nullable=True),
        sa.Column("procedure", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("outcome_reason", sa.String(32), nullable=True),
        sa.Column(
            "recorded_by",
            sa.Integer(),
            sa.ForeignKey("staff_user.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("support_case")
    op.drop_table("staffing_gap")
    op.drop_table("operator_presence")
    op.drop_table("call")
