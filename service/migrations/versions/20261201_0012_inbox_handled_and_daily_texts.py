"""inbox handled and daily texts: a reply can be marked handled; a coordinator may ask for a
daily text to their own phone when replies wait

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("coordinators") as batch:
        batch.add_column(sa.Column("phone", sa.String(16), nullable=True))
        batch.add_column(
            sa.Column("daily_text", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("daily_text_sent_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("coordinators") as batch:
        batch.drop_column("daily_text_sent_on")
        batch.drop_column("daily_text")
        batch.drop_column("phone")
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("handled_at")
