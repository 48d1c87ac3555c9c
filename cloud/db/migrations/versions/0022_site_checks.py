"""Pop-up site connection tests: runs and each kiosk's report (probe token hash only).

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_check_run",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("peripherals", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_site_check_run")),
    )
    op.create_index(op.f("ix_site_check_run_site_id"), "site_check_run", ["site_id"], unique=False)
    op.create_table(
        "site_check_kiosk",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("kiosk_id", sa.String(63), nullable=False),
        sa.Column("command_id", sa.String(36), nullable=False),
        sa.Column("probe_token_hash", sa.String(64), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["site_check_run.run_id"],
            name=op.f("fk_site_check_kiosk_run_id_site_check_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "kiosk_id", name=op.f("pk_site_check_kiosk")),
        sa.UniqueConstraint("command_id", name=op.f("uq_site_check_kiosk_command_id")),
        sa.UniqueConstraint("probe_token_hash", name=op.f("uq_site_check_kiosk_probe_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("site_check_kiosk")
    op.drop_index(op.f("ix_site_check_run_site_id"), table_name="site_check_run")
    op.drop_table("site_check_run")
