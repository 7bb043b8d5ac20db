"""plans skip unchanged campaigns: what each campaign was last planned from, and notes of changes
to a group's members and their consent, written by triggers so that no writer can forget them

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A note of a change to a membership column a plan reads (a new name or language plans nothing),
# or to a participant's consent or pause, for each group the person is in. Notes take random
# keys, not a sequence's: writers never wait for one another.
_SQLITE = [
    """CREATE TRIGGER plan_changes_membership_added AFTER INSERT ON memberships
    BEGIN
        INSERT INTO plan_changes (id, group_id) VALUES (lower(hex(randomblob(16))), NEW.group_id);
    END""",
    """CREATE TRIGGER plan_changes_membership_changed
    AFTER UPDATE OF participant_id, group_id, status, timezone, channel, created_at ON memberships
    BEGIN
        INSERT INTO plan_changes (id, group_id) VALUES (lower(hex(randomblob(16))), NEW.group_id);
        INSERT INTO plan_changes (id, group_id)
            SELECT lower(hex(randomblob(16))), OLD.group_id WHERE OLD.group_id <> NEW.group_id;
    END""",
    """CREATE TRIGGER plan_changes_membership_removed AFTER DELETE ON memberships
    BEGIN
        INSERT INTO plan_changes (id, group_id) VALUES (lower(hex(randomblob(16))), OLD.group_id);
    END""",
    """CREATE TRIGGER plan_changes_participant_changed
    AFTER UPDATE OF consent, encouragement_paused_until ON participants
    WHEN OLD.consent IS NOT NEW.consent
        OR OLD.encouragement_paused_until IS NOT NEW.encouragement_paused_until
    BEGIN
        INSERT INTO plan_changes (id, group_id)
            SELECT lower(hex(randomblob(16))), group_id FROM memberships WHERE participant_id = NEW.id;
    END""",
]
_SQLITE_DROP = [
    "DROP TRIGGER plan_changes_participant_changed",
    "DROP TRIGGER plan_changes_membership_removed",
    "DROP TRIGGER plan_changes_membership_changed",
    "DROP TRIGGER plan_changes_membership_added",
]

_POSTGRES = [
    """CREATE FUNCTION plan_change_of_membership() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO plan_changes (id, group_id) VALUES (replace(gen_random_uuid()::text, '-', ''), OLD.group_id);
        END IF;
        IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.group_id <> OLD.group_id) THEN
            INSERT INTO plan_changes (id, group_id) VALUES (replace(gen_random_uuid()::text, '-', ''), NEW.group_id);
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER plan_changes_memberships
    AFTER INSERT OR DELETE OR UPDATE OF participant_id, group_id, status, timezone, channel, created_at ON memberships
    FOR EACH ROW EXECUTE FUNCTION plan_change_of_membership()""",
    """CREATE FUNCTION plan_change_of_participant() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO plan_changes (id, group_id)
            SELECT replace(gen_random_uuid()::text, '-', ''), group_id FROM memberships WHERE participant_id = NEW.id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER plan_changes_participants
    AFTER UPDATE OF consent, encouragement_paused_until ON participants
    FOR EACH ROW WHEN (
        OLD.consent IS DISTINCT FROM NEW.consent
        OR OLD.encouragement_paused_until IS DISTINCT FROM NEW.encouragement_paused_until
    ) EXECUTE FUNCTION plan_change_of_participant()""",
]
_POSTGRES_DROP = [
    "DROP TRIGGER plan_changes_participants ON participants",
    "DROP FUNCTION plan_change_of_participant()",
    "DROP TRIGGER plan_changes_memberships ON memberships",
    "DROP FUNCTION plan_change_of_membership()",
]


def upgrade() -> None:
    op.create_table(
        "campaign_plans",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("planned_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_plans_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_campaign_plans")),
    )
    op.create_table(
        "plan_changes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_changes")),
    )
    op.create_index(op.f("ix_plan_changes_group_id"), "plan_changes", ["group_id"], unique=False)
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES if postgres else _SQLITE:
        op.execute(statement)
    # Every existing campaign is planned afresh once: it has no record of its last plan yet.


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES_DROP if postgres else _SQLITE_DROP:
        op.execute(statement)
    op.drop_index(op.f("ix_plan_changes_group_id"), table_name="plan_changes")
    op.drop_table("plan_changes")
    op.drop_table("campaign_plans")
