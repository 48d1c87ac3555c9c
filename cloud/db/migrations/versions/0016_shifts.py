"""Shifts (placeholder: filled in by its feature).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-25
"""

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
