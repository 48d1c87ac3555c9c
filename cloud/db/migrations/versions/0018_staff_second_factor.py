"""Staff second factor (TOTP), OIDC-linked accounts, session scope and idle timeout.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_user") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(255), nullable=True))
        batch.add_column(sa.Column("totp_confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("oidc_subject", sa.String(512), nullable=True))
        batch.create_unique_constraint("uq_staff_user_oidc_subject", ["oidc_subject"])
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("scope", sa.String(16), nullable=False, server_default="full"))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("idle_timeout_s", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("idle_timeout_s")
        batch.drop_column("last_used_at")
        batch.drop_column("scope")
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_constraint("uq_staff_user_oidc_subject", type_="unique")
        batch.drop_column("oidc_subject")
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_confirmed_at")
        batch.drop_column("totp_secret")
