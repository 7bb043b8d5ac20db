"""campaigns deleted but kept: a deleted campaign is hidden and never planned, its sends kept

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Without the mark, a deleted campaign would be planned again: it is left paused instead.
    op.execute("UPDATE campaigns SET status = 'paused' WHERE deleted_at IS NOT NULL")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("deleted_at")
