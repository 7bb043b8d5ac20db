"""The database schema: typed SQLAlchemy models, with the constraints in the schema."""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, date, datetime, time
from typing import Any, ClassVar
from uuid import uuid4

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as checked strings, not native enums, so SQLite and PostgreSQL hold the same schema.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=24,
        values_callable=lambda members: [m.value for m in members],
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Channel(enum.StrEnum):
    SMS = "sms"
    VOICE = "voice"


class ConsentState(enum.StrEnum):
    UNKNOWN = "unknown"  # never confirmed: may be invited, not sent group messages
    GRANTED = "granted"
    REVOKED = "revoked"


class MembershipStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    LEFT = "left"


class ConsentChange(enum.StrEnum):
    OPT_IN = "opt_in"
    OPT_OUT = "opt_out"


class ConsentSource(enum.StrEnum):
    KEYWORD = "keyword"
    KEYPAD = "keypad"
    COORDINATOR = "coordinator"
    PROVIDER_ERROR = "provider_error"
    IMPORT = "import"


class OutboxState(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    EXPIRED = "expired"
    CANCELED = "canceled"
    UNKNOWN = "unknown"
    RECONCILED = "reconciled"


class OutboxKind(enum.StrEnum):
    REPLY = "reply"  # answered in the webhook's TwiML
    INVITATION = "invitation"  # asks someone not yet consenting to reply YES
    ONE_OFF = "one_off"  # a coordinator's text to a group
    ALERT = "alert"  # to a coordinator's on-call phone
    REMINDER = "reminder"
    ENCOURAGEMENT = "encouragement"
    BROADCAST = "broadcast"


class CampaignKind(enum.StrEnum):
    REMINDER = "reminder"
    ENCOURAGEMENT = "encouragement"
    BROADCAST = "broadcast"


class CampaignStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class Attendance(enum.StrEnum):
    YES = "yes"
    NO = "no"


class Role(enum.StrEnum):
    ADMIN = "admin"  # sees every group
    COORDINATOR = "coordinator"  # sees the groups they run


class Coordinator(Base):
    __tablename__ = "coordinators"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(
        _enum(Role, "coordinator_role"), default=Role.COORDINATOR, server_default="coordinator"
    )
    # A scrypt hash; None until a password is set, and until then only API tokens let them in.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Consecutive wrong passwords; enough of them lock the account until locked_until.
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None]
    # Neither password nor tokens let a disabled coordinator in; their groups stay theirs.
    disabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Counts the times the account was disabled: each ends every browser sign-in made before it,
    # so enabling the account again does not bring an old sign-in back.
    sign_in_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Their own phone, for the daily text saying how many replies wait (counts only, never words).
    phone: Mapped[str | None] = mapped_column(String(16))
    daily_text: Mapped[bool] = mapped_column(default=False, server_default=false())
    daily_text_sent_on: Mapped[date | None]  # in the zone of their first group, once a day

    groups: Mapped[list[Group]] = relationship(back_populates="coordinator")


class ApiToken(Base):
    """A coordinator's secret for the API; only its SHA-256 is kept, so a leaked table is no key."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("coordinator_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    coordinator_id: Mapped[int] = mapped_column(ForeignKey("coordinators.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(8))  # lets a person tell their tokens apart
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    coordinator: Mapped[Coordinator] = relationship()


def new_keypad_code() -> str:
    """Six random digits, not starting with 0, so that no keypad code is a menu key's prefix."""
    return str(secrets.randbelow(900_000) + 100_000)


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (
        CheckConstraint("length(join_code) BETWEEN 3 AND 12", name="join_code_length"),
        CheckConstraint("language IN ('en', 'es')", name="language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    coordinator_id: Mapped[int] = mapped_column(ForeignKey("coordinators.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(120))  # internal: coordinators only
    public_name: Mapped[str] = mapped_column(String(60))  # the only name participants see
    join_code: Mapped[str] = mapped_column(String(12), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="en")
    on_call_phone: Mapped[str | None] = mapped_column(String(16))
    # What a caller types to join by phone: digits only, as keypads have no letters to spare.
    keypad_code: Mapped[str | None] = mapped_column(
        String(8), unique=True, default=lambda: new_keypad_code()
    )
    # A number that cannot take texts (30006, 21614) is switched to calls, if the group allows.
    voice_fallback: Mapped[bool] = mapped_column(default=False, server_default=false())
    # A voicemail names the group and the place only if its coordinator says so.
    voicemail_details: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Encouragement and broadcasts reach a member who takes calls by text instead, if their
    # number takes texts; a landline is always called.
    texts_between_meetings_to_callers: Mapped[bool] = mapped_column(
        default=False, server_default=false()
    )
    # Local to each participant; TCPA calling hours by default, and applied to texts too.
    # Words a lock screen should not show (what the group is about): campaign wording that has
    # one, or the internal name, is warned of. Coordinators only, like the internal name.
    topic_words: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    quiet_start: Mapped[time] = mapped_column(default=time(21, 0), server_default="21:00:00")
    quiet_end: Mapped[time] = mapped_column(default=time(8, 0), server_default="08:00:00")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    coordinator: Mapped[Coordinator] = relationship(back_populates="groups")
    memberships: Mapped[list[Membership]] = relationship(back_populates="group")
    # Read only: a reply about a meeting loads it with the person, in the same query.
    schedule: Mapped[MeetingSchedule | None] = relationship(viewonly=True, uselist=False)


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (CheckConstraint("language IN ('en', 'es')", name="language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(120))
    # The person's own language, time zone and channel: set by the first group that enrolled
    # them, then changed only by the person (text or keypad), an admin, or a coordinator of
    # every group they are in. Used where no one group speaks (HELP, a caller's own menu).
    language: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64))
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"), default=Channel.SMS)
    # What Twilio told us about the number: 21614/30006 (cannot take texts), 21211 (invalid).
    landline: Mapped[bool] = mapped_column(default=False)
    number_invalid: Mapped[bool] = mapped_column(default=False)
    # The ledger is the history; this is its latest word, kept beside it in the same transaction.
    consent: Mapped[ConsentState] = mapped_column(
        _enum(ConsentState, "consent_state"), default=ConsentState.UNKNOWN
    )
    # PAUSE stops encouragement (never reminders) until this moment.
    encouragement_paused_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(back_populates="participant")


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("participant_id", "group_id"),
        CheckConstraint("language IN ('en', 'es')", name="language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    status: Mapped[MembershipStatus] = mapped_column(
        _enum(MembershipStatus, "membership_status"), default=MembershipStatus.PENDING
    )
    # This group's name for the person: what its coordinator gave, seen by no other group.
    name: Mapped[str | None] = mapped_column(String(120))
    # How this group reaches the person: what its coordinator set, or the person's own choice
    # (which the person's words or keys write into every group at once). The participant's own
    # columns hold the person's choice; a group's reminders read these.
    language: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    participant: Mapped[Participant] = relationship(back_populates="memberships")
    group: Mapped[Group] = relationship(back_populates="memberships")


class ConsentEvent(Base):
    """One change of consent; rows are only ever added."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), index=True
    )
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    # The group whose door the change came through (a join code, a coordinator's note, an
    # import); None for a change made everywhere at once (STOP, START, a carrier's report).
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="SET NULL"), index=True
    )
    change: Mapped[ConsentChange] = mapped_column(_enum(ConsentChange, "consent_change"))
    source: Mapped[ConsentSource] = mapped_column(_enum(ConsentSource, "consent_source"))
    words: Mapped[str | None] = mapped_column(Text)  # what the person said or the coordinator noted
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


@event.listens_for(ConsentEvent, "before_update")
def _ledger_is_append_only(mapper: Mapper[Any], connection: Any, target: ConsentEvent) -> None:
    raise RuntimeError("the consent ledger is append-only")


class MeetingSchedule(Base):
    """When a group meets: an RFC 5545 rule in the group's own wall-clock time."""

    __tablename__ = "meeting_schedules"
    __table_args__ = (CheckConstraint("duration_minutes BETWEEN 1 AND 1440", name="duration"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), unique=True)
    rrule: Mapped[str] = mapped_column(String(500))
    first_start: Mapped[datetime] = mapped_column(DateTime(timezone=False))  # local wall time
    duration_minutes: Mapped[int] = mapped_column(default=90)
    location: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    changes: Mapped[list[MeetingChange]] = relationship(
        back_populates="schedule", cascade="all, delete-orphan"
    )


class MeetingChange(Base):
    """One occurrence cancelled or moved; the occurrence keeps its identity."""

    __tablename__ = "meeting_changes"
    __table_args__ = (UniqueConstraint("schedule_id", "occurrence_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("meeting_schedules.id", ondelete="CASCADE"))
    occurrence_key: Mapped[str] = mapped_column(String(13))
    cancelled: Mapped[bool] = mapped_column(default=False)
    new_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))
    new_location: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    schedule: Mapped[MeetingSchedule] = relationship(back_populates="changes")


class Campaign(Base):
    """Reminders before each meeting, encouragement between them, or one broadcast."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    kind: Mapped[CampaignKind] = mapped_column(_enum(CampaignKind, "campaign_kind"))
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[CampaignStatus] = mapped_column(
        _enum(CampaignStatus, "campaign_status"), default=CampaignStatus.ACTIVE
    )
    # Reminders: offsets before each meeting, e.g. ["1d@18:00", "2h"].
    offsets: Mapped[list[str]] = mapped_column(JSON, default=list)
    rsvp: Mapped[bool] = mapped_column(default=False)
    # Wording per language: {"en": "...", "es": "..."}; encouragement: a pool, one per line.
    wording: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Encouragement: a cadence in each participant's own zone, or stages in days since joining.
    cadence: Mapped[str | None] = mapped_column(String(500))
    cadence_time: Mapped[time | None]
    stages: Mapped[list[int]] = mapped_column(JSON, default=list)
    window_minutes: Mapped[int] = mapped_column(default=12 * 60)
    # Broadcast: when it goes (None: now).
    send_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Deleted: hidden and never planned, but kept, so what it sent keeps its campaign.
    deleted_at: Mapped[datetime | None]


class CampaignPlan(Base):
    """What a campaign was last planned from, so that a planner can skip it when nothing changed.

    fingerprint hashes the campaign's own inputs (the campaign, its group's quiet hours and zone,
    the meeting schedule and its changes); changes to members and their consent reach it through
    plan_changes instead. planned_until is where that plan's horizon ended.
    """

    __tablename__ = "campaign_plans"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64))
    planned_until: Mapped[datetime]


class PlanChange(Base):
    """A note that something a group's plan depends on changed: written by database triggers on
    memberships and participants (migration 0016) and by withdraw(); the planner reads and
    deletes them, and plans that group's campaigns again.

    Append-only, with a random key rather than a sequence: writers never wait for each other,
    and a note whose transaction commits late is still there for the next planner to see.
    """

    __tablename__ = "plan_changes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: uuid4().hex)
    group_id: Mapped[int] = mapped_column(index=True)


class Rsvp(Base):
    """A participant's answer for one meeting occurrence."""

    __tablename__ = "rsvps"
    __table_args__ = (
        UniqueConstraint("participant_id", "group_id", "occurrence_key"),
        # A headcount reads a group's answers to a few meetings, not every answer ever given.
        Index("ix_rsvps_group_occurrence", "group_id", "occurrence_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None once the person was erased: the answer stays, unattributed, in past headcounts.
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), index=True
    )
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    occurrence_key: Mapped[str] = mapped_column(String(13))
    answer: Mapped[Attendance] = mapped_column(_enum(Attendance, "attendance"))
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundMessage(Base):
    """A text a participant (or a stranger) sent us: the coordinators' inbox."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(34), unique=True)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="SET NULL"), index=True
    )
    from_phone: Mapped[str | None] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    intent: Mapped[str] = mapped_column(String(16))
    needs_reply: Mapped[bool] = mapped_column(default=False)  # kept for a human, not a keyword
    urgent: Mapped[bool] = mapped_column(default=False)
    read: Mapped[bool] = mapped_column(default=False)
    auto_acknowledged: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when a coordinator marks it handled: it leaves the waiting replies, kept for the thread.
    handled_at: Mapped[datetime | None]
    # Set when the retention period blanked its words (the row, and what it counts for, stay).
    body_removed_at: Mapped[datetime | None]


# A row is live while its words may yet go out (queued, being sent, or its fate unknown until
# Twilio's records are looked up); every other state is settled for good.
LIVE_STATES = (OutboxState.QUEUED, OutboxState.SENDING, OutboxState.UNKNOWN)
SETTLED_STATES = tuple(state for state in OutboxState if state not in LIVE_STATES)

# The live rows, written out rather than bound so that a query's plan matches the partial
# indexes' own predicates (ix_outbox_messages_due, ix_outbox_messages_in_flight) even when it
# is prepared and generic: whatever reads through them reads as many rows as are live.
QUEUED_ROWS = text("outbox_messages.state = 'queued'")
IN_FLIGHT_ROWS = text("outbox_messages.state IN ('sending', 'unknown')")


class OutboxMessage(Base):
    """One outgoing text or call; a row before it is anything else."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("body IS NOT NULL OR campaign_id IS NOT NULL", name="body_or_campaign"),
        # Only queued rows are ever looked up by due time; the index stays small as history grows.
        Index(
            "ix_outbox_messages_due",
            "due_at",
            sqlite_where=text("state = 'queued'"),
            postgresql_where=text("state = 'queued'"),
        ),
        # Claimed rows whose lease ran out, and unknown rows due a lookup, are found through
        # this one; it holds only the handful of rows in flight.
        Index(
            "ix_outbox_messages_in_flight",
            "lease_until",
            sqlite_where=text("state IN ('sending', 'unknown')"),
            postgresql_where=text("state IN ('sending', 'unknown')"),
        ),
        # Sends lists the latest due first: read backwards, the first page is the first rows.
        Index("ix_outbox_messages_latest", "due_at", "id"),
        # Today's last 30 days read only a group's rows of the period, not its whole history.
        Index("ix_outbox_messages_group_sent", "group_id", "sent_at"),
        # A group's sends, latest due first, and since or until a time (the API's outbox, a
        # cursor's next page) read only that group's rows of the period, in order.
        Index("ix_outbox_messages_group_due", "group_id", "due_at", "id"),
        # Sends counts the rows of a state (of some groups) from the index alone; a state's rows
        # of a group (state=failed, stats' held back) come in due order from it too.
        Index("ix_outbox_messages_state_group_due", "state", "group_id", "due_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    send_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[OutboxKind] = mapped_column(_enum(OutboxKind, "outbox_kind"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"), default=Channel.SMS)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), index=True
    )
    # Found by group through ix_outbox_messages_group_due, whose first column it is.
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    occurrence_key: Mapped[str | None] = mapped_column(String(13))
    to_phone: Mapped[str | None] = mapped_column(String(16))
    # Campaign texts are worded when they go, in the person's language of that moment.
    body: Mapped[str | None] = mapped_column(Text)
    segments: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[OutboxState] = mapped_column(
        _enum(OutboxState, "outbox_state"), default=OutboxState.QUEUED
    )
    state_reason: Mapped[str | None] = mapped_column(String(200))
    # Who holds the row now: the claim that set it to 'sending' (or took it for a lookup).
    attempt_id: Mapped[str | None] = mapped_column(String(36))
    claimed_at: Mapped[datetime | None]
    # A 'sending' row whose lease ran out belongs to a worker that died: it is looked up, not
    # resent. For an 'unknown' row, the time of its next lookup in Twilio's message list.
    lease_until: Mapped[datetime | None]
    # Calls: who answered (Twilio's AnsweredBy: human, machine_end_beep, ...), and whether a
    # voicemail was left.
    answered_by: Mapped[str | None] = mapped_column(String(32))
    voicemail_left: Mapped[bool] = mapped_column(default=False, server_default=false())
    attempts: Mapped[int] = mapped_column(default=0)
    provider_sid: Mapped[str | None] = mapped_column(String(34), unique=True)
    error_code: Mapped[int | None]
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None]
    # Set when the retention period blanked its words (the row, and what it counts for, stay).
    body_removed_at: Mapped[datetime | None]


class OutboxCountChange(Base):
    """One move of a text to a group's members into or out of a counted state: +1 as it is
    handed to Twilio (counted on its sent_at) or held back or expired (on its due_at), -1 as it
    leaves that state or time. Written by database triggers on outbox_messages and groups
    (migration 0018), never by the application, so no writer can forget one; a fold a minute
    later moves them into OutboxDayCount. Until then the stats read them as they are.

    A sequence's key: a writer takes the next number without waiting for another's commit.
    """

    __tablename__ = "outbox_count_changes"
    __table_args__ = (Index("ix_outbox_count_changes_group_at", "group_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    group_id: Mapped[int]
    state: Mapped[OutboxState] = mapped_column(_enum(OutboxState, "outbox_state"))
    at: Mapped[datetime]
    n: Mapped[int] = mapped_column(SmallInteger)


class OutboxDayCount(Base):
    """How many of a group's texts to its members reached a state on one day of the group's time
    zone: what a group's stats read instead of its whole history in the outbox."""

    __tablename__ = "outbox_day_counts"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)
    state: Mapped[OutboxState] = mapped_column(_enum(OutboxState, "outbox_state"), primary_key=True)
    n: Mapped[int]


class SendBudget(Base):
    """One sender's rate limit, shared by every worker: the earliest moment its next segment
    may leave, in seconds since the epoch (each send moves it on by segments / rate)."""

    __tablename__ = "send_budgets"

    sender: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_at: Mapped[float] = mapped_column(Float, default=0.0)


class AuditEntry(Base):
    """Who did what to which record, for admins to read."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[int | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
