"""Third-party invites to a call and the signaling relay between console and guest.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_invite",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("call_id", sa.String(36), nullable=False, index=True),
        sa.Column(
            "created_by",
            sa.Integer(),
            sa.ForeignKey("staff_user.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "call_signal",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("call_id", sa.String(36), nullable=False, index=True),
        sa.Column("recipient", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sdp", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("call_signal")
    op.drop_table("call_invite")
