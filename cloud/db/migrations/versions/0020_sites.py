"""Pop-up and permanent sites as data: lifecycle state, kiosks per site, history.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site",
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site")),
    )
    op.create_table(
        "site_kiosk",
        sa.Column("kiosk_id", sa.String(63), nullable=False),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("hostname", sa.String(253), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.site_id"],
            name=op.f("fk_site_kiosk_site_id_site"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kiosk_id", name=op.f("pk_site_kiosk")),
    )
    op.create_index(op.f("ix_site_kiosk_site_id"), "site_kiosk", ["site_id"], unique=False)
    op.create_table(
        "site_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.site_id"],
            name=op.f("fk_site_event_site_id_site"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_event")),
    )
    op.create_index(op.f("ix_site_event_site_id"), "site_event", ["site_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_site_event_site_id"), table_name="site_event")
    op.drop_table("site_event")
    op.drop_index(op.f("ix_site_kiosk_site_id"), table_name="site_kiosk")
    op.drop_table("site_kiosk")
    op.drop_table("site")
