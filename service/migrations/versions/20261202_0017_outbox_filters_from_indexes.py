"""outbox filters from indexes: a group's sends by due time and a state's by group and due time,
each read through an index in the lists' order; the index of group_id alone goes, as the first
column of the group's index serves it

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        # (state, group_id) is this one's first half: its counts read the wider index.
        batch.drop_index("ix_outbox_messages_state_group")
        batch.create_index(
            "ix_outbox_messages_state_group_due", ["state", "group_id", "due_at", "id"]
        )
        batch.create_index("ix_outbox_messages_group_due", ["group_id", "due_at", "id"])
        batch.drop_index("ix_outbox_messages_group_id")


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.create_index("ix_outbox_messages_group_id", ["group_id"])
        batch.drop_index("ix_outbox_messages_group_due")
        batch.drop_index("ix_outbox_messages_state_group_due")
        batch.create_index("ix_outbox_messages_state_group", ["state", "group_id"])
