"""TOTP recovery codes (hashes only).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-25
"""

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled in by the change that adds the tables


def downgrade() -> None:
    pass
