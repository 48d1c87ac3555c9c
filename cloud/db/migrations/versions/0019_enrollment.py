"""Kiosk enrollment: one-time tokens (hash only), issued certificates, identity state.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enrollment_token",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kiosk_id", sa.String(63), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("certificate_serial", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_enrollment_token_token_hash")),
    )
    op.create_index(
        op.f("ix_enrollment_token_kiosk_id"), "enrollment_token", ["kiosk_id"], unique=False
    )
    op.create_table(
        "kiosk_certificate",
        sa.Column("serial", sa.String(40), nullable=False),
        sa.Column("kiosk_id", sa.String(63), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_kiosk_certificate")),
    )
    op.create_index(
        op.f("ix_kiosk_certificate_kiosk_id"), "kiosk_certificate", ["kiosk_id"], unique=False
    )
    op.create_table(
        "kiosk_identity",
        sa.Column("kiosk_id", sa.String(63), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("kiosk_id", name=op.f("pk_kiosk_identity")),
    )


def downgrade() -> None:
    op.drop_table("kiosk_identity")
    op.drop_index(op.f("ix_kiosk_certificate_kiosk_id"), table_name="kiosk_certificate")
    op.drop_table("kiosk_certificate")
    op.drop_index(op.f("ix_enrollment_token_kiosk_id"), table_name="enrollment_token")
    op.drop_table("enrollment_token")
