"""outbox day counts: a group's texts to its members by state and local day, kept by triggers, so
that its stats read a row a day instead of every text of the period

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATES = sa.Enum(
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "suppressed",
    "expired",
    "canceled",
    "unknown",
    "reconciled",
    name="outbox_state",
    native_enum=False,
    create_constraint=True,
    length=24,
)

# What a group's stats count (service/messages/counts.py says the same in Python): texts to the
# members (not replies, not on-call alerts), handed to Twilio on their sent_at, or held back or
# expired on their due_at. The key of the advisory lock a fold holds: "peercnts" in ASCII.
_TO_MEMBERS = "('reminder', 'encouragement', 'broadcast', 'one_off', 'invitation')"
_HANDED_OVER = "('sent', 'delivered', 'undelivered', 'failed', 'unknown', 'reconciled')"
_HELD = "('suppressed', 'expired')"
_FOLD_LOCK = 8098991046864565363


def _counted(row: str) -> str:
    return (
        f"({row}.group_id IS NOT NULL AND {row}.kind IN {_TO_MEMBERS} AND "
        f"(({row}.state IN {_HANDED_OVER} AND {row}.sent_at IS NOT NULL) "
        f"OR {row}.state IN {_HELD}))"
    )


def _at(row: str) -> str:
    return f"CASE WHEN {row}.state IN {_HELD} THEN {row}.due_at ELSE {row}.sent_at END"


def _changed(differs: str) -> str:
    return " OR ".join(
        f"OLD.{column} {differs} NEW.{column}"
        for column in ("state", "group_id", "kind", "sent_at", "due_at")
    )


_INTO = "INSERT INTO outbox_count_changes (group_id, state, at, n)"
# A group's counts are days of its zone: a new zone counts its whole history again.
_RECOUNT = (
    f"{_INTO} SELECT group_id, state, {_at('outbox_messages')}, 1 FROM outbox_messages "
    f"WHERE {_counted('outbox_messages')}"
)

_SQLITE = [
    f"""CREATE TRIGGER outbox_counts_added AFTER INSERT ON outbox_messages
    WHEN {_counted("NEW")}
    BEGIN
        {_INTO} VALUES (NEW.group_id, NEW.state, {_at("NEW")}, 1);
    END""",
    f"""CREATE TRIGGER outbox_counts_changed
    AFTER UPDATE OF state, group_id, kind, sent_at, due_at ON outbox_messages
    WHEN ({_counted("OLD")} OR {_counted("NEW")}) AND ({_changed("IS NOT")})
    BEGIN
        {_INTO} SELECT OLD.group_id, OLD.state, {_at("OLD")}, -1 WHERE {_counted("OLD")};
        {_INTO} SELECT NEW.group_id, NEW.state, {_at("NEW")}, 1 WHERE {_counted("NEW")};
    END""",
    f"""CREATE TRIGGER outbox_counts_removed AFTER DELETE ON outbox_messages
    WHEN {_counted("OLD")}
    BEGIN
        {_INTO} VALUES (OLD.group_id, OLD.state, {_at("OLD")}, -1);
    END""",
    f"""CREATE TRIGGER outbox_counts_rezoned AFTER UPDATE OF timezone ON groups
    WHEN OLD.timezone IS NOT NEW.timezone
    BEGIN
        DELETE FROM outbox_day_counts WHERE group_id = NEW.id;
        DELETE FROM outbox_count_changes WHERE group_id = NEW.id;
        {_RECOUNT} AND group_id = NEW.id;
    END""",
]
_SQLITE_DROP = [
    "DROP TRIGGER outbox_counts_rezoned",
    "DROP TRIGGER outbox_counts_removed",
    "DROP TRIGGER outbox_counts_changed",
    "DROP TRIGGER outbox_counts_added",
]

_POSTGRES = [
    f"""CREATE FUNCTION outbox_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            IF {_counted("OLD")} THEN
                {_INTO} VALUES (OLD.group_id, OLD.state, {_at("OLD")}, -1);
            END IF;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            IF {_counted("NEW")} THEN
                {_INTO} VALUES (NEW.group_id, NEW.state, {_at("NEW")}, 1);
            END IF;
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER outbox_counts_added AFTER INSERT ON outbox_messages
    FOR EACH ROW WHEN ({_counted("NEW")}) EXECUTE FUNCTION outbox_count_change()""",
    f"""CREATE TRIGGER outbox_counts_changed
    AFTER UPDATE OF state, group_id, kind, sent_at, due_at ON outbox_messages
    FOR EACH ROW WHEN (({_counted("OLD")} OR {_counted("NEW")}) AND ({_changed("IS DISTINCT FROM")}))
    EXECUTE FUNCTION outbox_count_change()""",
    f"""CREATE TRIGGER outbox_counts_removed AFTER DELETE ON outbox_messages
    FOR EACH ROW WHEN ({_counted("OLD")}) EXECUTE FUNCTION outbox_count_change()""",
    # The recount waits for a fold in progress (it holds the lock) so that it sees, and replaces,
    # what that fold wrote; one statement, so that the changes it deletes and the texts it counts
    # again are read at the same moment: a writer's commit cannot fall between them.
    f"""CREATE FUNCTION outbox_counts_rezoned() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock({_FOLD_LOCK});
        WITH folded AS (DELETE FROM outbox_day_counts WHERE group_id = NEW.id),
             waiting AS (DELETE FROM outbox_count_changes WHERE group_id = NEW.id)
        {_RECOUNT} AND group_id = NEW.id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER outbox_counts_rezoned AFTER UPDATE OF timezone ON groups
    FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)
    EXECUTE FUNCTION outbox_counts_rezoned()""",
]
_POSTGRES_DROP = [
    "DROP TRIGGER outbox_counts_rezoned ON groups",
    "DROP FUNCTION outbox_counts_rezoned()",
    "DROP TRIGGER outbox_counts_removed ON outbox_messages",
    "DROP TRIGGER outbox_counts_changed ON outbox_messages",
    "DROP TRIGGER outbox_counts_added ON outbox_messages",
    "DROP FUNCTION outbox_count_change()",
]


def upgrade() -> None:
    op.create_table(
        "outbox_count_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("state", _STATES, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_count_changes")),
    )
    op.create_index("ix_outbox_count_changes_group_at", "outbox_count_changes", ["group_id", "at"])
    op.create_table(
        "outbox_day_counts",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("state", _STATES, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_outbox_day_counts_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "day", "state", name=op.f("pk_outbox_day_counts")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES if postgres else _SQLITE:
        op.execute(statement)
    # The history so far, counted once: the first fold files it by day.
    op.execute(_RECOUNT)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES_DROP if postgres else _SQLITE_DROP:
        op.execute(statement)
    op.drop_table("outbox_day_counts")
    op.drop_index("ix_outbox_count_changes_group_at", table_name="outbox_count_changes")
    op.drop_table("outbox_count_changes")
