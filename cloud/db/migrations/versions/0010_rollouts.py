"""Agent rollouts in throttled waves.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollout",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("url", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("wave_size", sa.Integer(), nullable=False),
        sa.Column("wave_interval_s", sa.Integer(), nullable=False),
        sa.Column("max_failures", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_wave_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "rollout_target",
        sa.Column(
            "rollout_id",
            sa.Integer(),
            sa.ForeignKey("rollout.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kiosk_id", sa.String(63), primary_key=True),
        sa.Column("wave", sa.Integer(), nullable=True),
        sa.Column("command_id", sa.String(36), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rollout_target")
    op.drop_table("rollout")
