"""Staff accounts, tokens, kiosk registry, state changes and events.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_user")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_user_username")),
    )
    op.create_table(
        "api_token",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_user.id"],
            ondelete="CASCADE",
            name=op.f("fk_api_token_user_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_api_token")),
    )
    op.create_index(op.f("ix_api_token_user_id"), "api_token", ["user_id"])
    op.create_table(
        "kiosk",
        sa.Column("kiosk_id", sa.String(63), nullable=False),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("bd_seq", sa.BigInteger(), nullable=False),
        sa.Column("online_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent_version", sa.String(64), nullable=False),
        sa.Column("os_version", sa.String(128), nullable=False),
        sa.Column("peripherals", sa.JSON(), nullable=False),
        sa.Column("host", sa.JSON(), nullable=True),
        sa.Column("last_telemetry_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kiosk_id", name=op.f("pk_kiosk")),
    )
    op.create_index(op.f("ix_kiosk_site_id"), "kiosk", ["site_id"])
    op.create_table(
        "kiosk_state_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kiosk_id", sa.String(63), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cause", sa.String(16), nullable=False),
        sa.Column("bd_seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["kiosk_id"],
            ["kiosk.kiosk_id"],
            ondelete="CASCADE",
            name=op.f("fk_kiosk_state_change_kiosk_id_kiosk"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_state_change")),
    )
    op.create_index(op.f("ix_kiosk_state_change_at"), "kiosk_state_change", ["at"])
    op.create_table(
        "kiosk_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kiosk_id", sa.String(63), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("peripheral", sa.String(32), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_event")),
        sa.UniqueConstraint("kiosk_id", "seq", name=op.f("uq_kiosk_event_kiosk_id")),
    )
    op.create_index(op.f("ix_kiosk_event_kiosk_id"), "kiosk_event", ["kiosk_id"])


def downgrade() -> None:
    op.drop_table("kiosk_event")
    op.drop_table("kiosk_state_change")
    op.drop_table("kiosk")
    op.drop_table("api_token")
    op.drop_table("staff_user")
