"""Training mode: training kiosks, training calls, operators in training mode.

A kiosk flagged `training` (by an administrator) never counts in uptime, reports, billing or
alerts; its calls carry `call.training` (copied from the kiosk when the call is requested)
and are routed only to operators whose console is in training mode
(`operator_presence.training`), who in turn never get a real call.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "kiosk", sa.Column("training", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column(
        "call", sa.Column("training", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_index("ix_call_training", "call", ["training"])
    op.add_column(
        "operator_presence",
        sa.Column("training", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("operator_presence") as batch:
        batch.drop_column("training")
    op.drop_index("ix_call_training", table_name="call")
    with op.batch_alter_table("call") as batch:
        batch.drop_column("training")
    with op.batch_alter_table("kiosk") as batch:
        batch.drop_column("training")
