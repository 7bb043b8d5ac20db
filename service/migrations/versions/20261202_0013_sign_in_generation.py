"""sign-in generation: disabling a coordinator ends their browser sign-ins for good, so enabling
the account again does not bring an old one back

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("coordinators") as batch:
        batch.add_column(
            sa.Column("sign_in_generation", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("coordinators") as batch:
        batch.drop_column("sign_in_generation")
