"""rsvps outlive an erased participant, unattributed

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_rsvps_participant_id_participants"


def upgrade() -> None:
    with op.batch_alter_table("rsvps") as batch:
        batch.drop_constraint(FK, type_="foreignkey")
        batch.alter_column("participant_id", existing_type=sa.Integer(), nullable=True)
        batch.create_foreign_key(
            FK, "participants", ["participant_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    op.execute("DELETE FROM rsvps WHERE participant_id IS NULL")
    with op.batch_alter_table("rsvps") as batch:
        batch.drop_constraint(FK, type_="foreignkey")
        batch.alter_column("participant_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(FK, "participants", ["participant_id"], ["id"], ondelete="CASCADE")
