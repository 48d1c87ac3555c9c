"""Pop-up and permanent sites as data: lifecycle state and connection-test reports.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-25
"""

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled in by the change that adds the tables


def downgrade() -> None:
    pass
