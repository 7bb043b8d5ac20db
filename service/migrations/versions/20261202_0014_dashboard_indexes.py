"""dashboard indexes: Sends reads the latest due first and counts a state's rows, Today a
group's last 30 days and a headcount a group's answers to a few meetings, each through an index

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.create_index("ix_outbox_messages_latest", ["due_at", "id"], unique=False)
        batch.create_index("ix_outbox_messages_group_sent", ["group_id", "sent_at"], unique=False)
        batch.create_index("ix_outbox_messages_state_group", ["state", "group_id"], unique=False)
    with op.batch_alter_table("rsvps") as batch:
        batch.create_index(
            "ix_rsvps_group_occurrence", ["group_id", "occurrence_key"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("rsvps") as batch:
        batch.drop_index("ix_rsvps_group_occurrence")
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_index("ix_outbox_messages_state_group")
        batch.drop_index("ix_outbox_messages_group_sent")
        batch.drop_index("ix_outbox_messages_latest")
