"""message bodies removed: when a text's words were blanked after the retention period

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("outbox_messages", "inbound_messages"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("body_removed_at", sa.DateTime(timezone=True), nullable=True)
            )


def downgrade() -> None:
    for table in ("outbox_messages", "inbound_messages"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("body_removed_at")
