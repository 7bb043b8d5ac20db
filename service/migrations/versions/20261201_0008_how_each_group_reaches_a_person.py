"""how each group reaches a person: a membership's own language, time zone and channel

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column(
                "channel",
                sa.Enum(
                    "sms",
                    "voice",
                    name="channel",
                    native_enum=False,
                    create_constraint=True,
                    length=24,
                ),
                nullable=True,
            )
        )
    # Every group reached the person the one way there was.
    op.execute(
        "UPDATE memberships SET "
        "language = (SELECT p.language FROM participants p WHERE p.id = memberships.participant_id), "
        "timezone = (SELECT p.timezone FROM participants p WHERE p.id = memberships.participant_id), "
        "channel = (SELECT p.channel FROM participants p WHERE p.id = memberships.participant_id)"
    )
    with op.batch_alter_table("memberships") as batch:
        batch.alter_column("language", existing_type=sa.String(length=8), nullable=False)
        batch.alter_column("timezone", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column(
            "channel",
            existing_type=sa.Enum(
                "sms", "voice", name="channel", native_enum=False, create_constraint=True, length=24
            ),
            nullable=False,
        )
        batch.create_check_constraint("language", "language IN ('en', 'es')")


def downgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.drop_constraint(batch.f("ck_memberships_language"), type_="check")
        batch.drop_constraint(batch.f("ck_memberships_channel"), type_="check")
        batch.drop_column("channel")
        batch.drop_column("timezone")
        batch.drop_column("language")
