"""people seen through groups: each group's own name for a person, and the group a consent
change came through

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(sa.Column("name", sa.String(length=120), nullable=True))
    with op.batch_alter_table("consent_events") as batch:
        batch.add_column(sa.Column("group_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_consent_events_group_id"), ["group_id"], unique=False)
        batch.create_foreign_key(
            batch.f("fk_consent_events_group_id_groups"),
            "groups",
            ["group_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # Every group knew the person by the one name there was.
    op.execute(
        "UPDATE memberships SET name = "
        "(SELECT participants.name FROM participants WHERE participants.id = memberships.participant_id)"
    )
    # A coordinator's note or an import came through the person's group, when they had one
    # group only; otherwise the group cannot be told, and the change is shown to no coordinator
    # as theirs.
    op.execute(
        "UPDATE consent_events SET group_id = "
        "(SELECT MIN(memberships.group_id) FROM memberships "
        " WHERE memberships.participant_id = consent_events.participant_id) "
        "WHERE source IN ('coordinator', 'import') AND participant_id IN "
        "(SELECT participant_id FROM memberships GROUP BY participant_id HAVING COUNT(*) = 1)"
    )


def downgrade() -> None:
    with op.batch_alter_table("consent_events") as batch:
        batch.drop_constraint(batch.f("fk_consent_events_group_id_groups"), type_="foreignkey")
        batch.drop_index(batch.f("ix_consent_events_group_id"))
        batch.drop_column("group_id")
    with op.batch_alter_table("memberships") as batch:
        batch.drop_column("name")
