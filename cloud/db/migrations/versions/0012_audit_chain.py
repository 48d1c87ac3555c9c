"""The audit log's hash chain.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_entry") as batch:
        batch.add_column(sa.Column("chain_hash", sa.String(64), nullable=True))
        batch.create_index("ix_audit_entry_chain_hash", ["chain_hash"])


def downgrade() -> None:
    with op.batch_alter_table("audit_entry") as batch:
        batch.drop_index("ix_audit_entry_chain_hash")
        batch.drop_column("chain_hash")
