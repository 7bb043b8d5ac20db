"""Helpers for tests: signed webhooks, a recording gateway, a movable clock, settings."""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from service.cli.main import cli
from service.config import Settings
from service.models import (
    Campaign,
    CampaignKind,
    Channel,
    ConsentChange,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Coordinator,
    Group,
    MeetingSchedule,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
)
from service.people.participants import joining
from service.phones import phone_hash
from service.sending.gateway import GatewayError, OutgoingCall, OutgoingText, Receipt

AUTH_TOKEN = "12345678901234567890123456789012"
PUBLIC_URL = "https://peerline.example.org"
METRICS_TOKEN = "metrics-scraper-token-0123456789"
INSTANCES = tempfile.TemporaryDirectory(prefix="peerline-tests-")  # removed when the run ends


@dataclass
class RecordingGateway:
    """A gateway that keeps what it was asked to send, and can be told to fail."""

    sent: list[OutgoingText] = field(default_factory=list)
    calls: list[OutgoingCall] = field(default_factory=list)
    failures: dict[str, GatewayError] = field(default_factory=dict)

    def send_text(self, text: OutgoingText) -> Receipt:
        if text.to in self.failures:
            raise self.failures[text.to]
        self.sent.append(text)
        return Receipt(sid="SM" + secrets.token_hex(16), status="queued")

    sender = "+15005550006"

    def place_call(self, call: OutgoingCall) -> Receipt:
        if call.to in self.failures:
            raise self.failures[call.to]
        self.calls.append(call)
        return Receipt(sid="CA" + secrets.token_hex(16), status="queued")

    def lookup_call(self, to: str, since: datetime) -> Receipt | None:
        if any(call.to == to for call in self.calls):
            return Receipt(sid="CA" + secrets.token_hex(16), status="completed")
        return None

    def lookup(self, text: OutgoingText, since: datetime) -> Receipt | None:
        for sent in self.sent:
            if (sent.to, sent.body) == (text.to, text.body):
                return Receipt(sid="SM" + secrets.token_hex(16), status="sent")
        return None

    def to(self, phone: str) -> list[str]:
        return [t.body for t in self.sent if t.to == phone]


@dataclass
class Clock:
    """The time the app sees; tests move it."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 3, 17, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


def make_settings(database_url: str, **overrides: str | None) -> Settings:
    """Test settings; an override of None leaves that setting to its default."""
    env: dict[str, str | None] = {
        "PEERLINE_DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": "+15005550006",
        "PEERLINE_PUBLIC_URL": PUBLIC_URL,
        "PEERLINE_LOG_LEVEL": "DEBUG",
        # The tests of the rate limits turn them on: a limit holds real seconds between sends,
        # and a loaded machine's thread that wakes late for its slot gives the send back to the
        # queue, where a test that moves a clock and dispatches once would not find it sent.
        "PEERLINE_SEND_RATE": "off",
        "PEERLINE_CALL_RATE": "off",
        "PEERLINE_METRICS_TOKEN": METRICS_TOKEN,
        # Each app's own folder: a journal kept by one test's app is never another's.
        "PEERLINE_INSTANCE_DIR": tempfile.mkdtemp(dir=INSTANCES.name),
        **overrides,
    }
    return Settings.from_env(
        {name: value for name, value in env.items() if value is not None}, mode="test"
    )


def invoke(runner: FlaskCliRunner, *args: str) -> Any:
    """Run a peerline command against the test app."""
    return runner.invoke(cli, list(args))


def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


def post_signed(client: FlaskClient, path: str, params: dict[str, str]) -> TestResponse:
    """POST form params to path, signed for the public URL exactly as Twilio signs."""
    return client.post(
        path,
        data=params,
        headers={"X-Twilio-Signature": sign(PUBLIC_URL + path, params)},
    )


def new_sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


def text_in(
    client: FlaskClient, sender: str, body: str, sid: str | None = None, **extra: str
) -> TestResponse:
    """Send a text to Peerline from sender, as Twilio would deliver it."""
    params = {
        "MessageSid": sid or new_sid(),
        "AccountSid": "AC" + "a" * 32,
        "From": sender,
        "To": "+15005550006",
        "Body": body,
        "NumMedia": "0",
        **extra,
    }
    return post_signed(client, "/twilio/sms", params)


# -- factories ----------------------------------------------------------------------------------


def make_group(
    session: Session,
    code: str = "CIRCLE",
    *,
    language: str = "en",
    timezone: str = "America/New_York",
    on_call_phone: str | None = None,
    coordinator_email: str = "robin@example.org",
) -> Group:
    coordinator = session.scalar(select(Coordinator).where(Coordinator.email == coordinator_email))
    if coordinator is None:
        coordinator = Coordinator(email=coordinator_email, name="Robin Coordinator")
        session.add(coordinator)
        session.flush()
    group = Group(
        coordinator_id=coordinator.id,
        name=f"{code.title()} recovery group",
        public_name=f"{code.title()} Group",
        join_code=code,
        timezone=timezone,
        language=language,
        on_call_phone=on_call_phone,
    )
    session.add(group)
    session.commit()
    return group


def make_participant(
    session: Session,
    phone: str,
    *groups: Group,
    name: str | None = "Sam Rivera",
    language: str = "en",
    consent: ConsentState = ConsentState.GRANTED,
    status: MembershipStatus = MembershipStatus.ACTIVE,
    timezone: str = "America/New_York",
    channel: Channel = Channel.SMS,
) -> Participant:
    """Someone in groups, each reaching them by the person's own language, zone and channel."""
    participant = Participant(
        phone=phone,
        phone_hash=phone_hash(phone, "insecure-test-key"),
        name=name,
        language=language,
        timezone=timezone,
        channel=channel,
        consent=consent,
    )
    session.add(participant)
    session.flush()
    for group in groups:
        membership = joining(participant, group.id, now=participant.created_at, name=name)
        membership.status = status
        session.add(membership)
    session.commit()
    return participant


def make_schedule(
    session: Session,
    group: Group,
    rule: str = "FREQ=WEEKLY;BYDAY=TU",
    first: datetime = datetime(2026, 3, 3, 18, 30),
    location: str | None = "Room 5",
) -> MeetingSchedule:
    meeting = MeetingSchedule(
        group_id=group.id, rrule=rule, first_start=first, duration_minutes=90, location=location
    )
    session.add(meeting)
    session.commit()
    return meeting


def make_campaign(session: Session, group: Group, kind: CampaignKind, **fields: Any) -> Campaign:
    campaign = Campaign(group_id=group.id, kind=kind, name=f"{kind.value} campaign", **fields)
    session.add(campaign)
    session.commit()
    return campaign


def reloaded(session: Session, phone: str) -> Participant:
    """The participant with this number, as the database has them now."""
    session.expire_all()
    found = session.scalar(select(Participant).where(Participant.phone == phone))
    assert found is not None
    return found


def ledger(session: Session, person: Participant) -> list[tuple[ConsentChange, ConsentSource]]:
    """Their consent changes, oldest first, and how each came."""
    return [
        (e.change, e.source)
        for e in session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.phone_hash == person.phone_hash)
            .order_by(ConsentEvent.id)
        )
    ]


def make_history(
    session: Session, campaign: Campaign, people: list[Participant], meetings: list[datetime]
) -> int:
    """A reminder campaign's past, as the dispatcher leaves it: for each meeting (UTC, in the
    past) and person, one reminder sent, one expired unsent, and one still queued but past its
    expiry (a worker was down). Returns how many rows were written."""
    rows = []
    for start in meetings:
        key = start.astimezone(ZoneInfo("America/New_York")).strftime("%Y%m%dT%H%M")
        for person in people:
            for index, (state, reason) in enumerate(
                [
                    (OutboxState.SENT, None),
                    (OutboxState.EXPIRED, "could not be sent in time"),
                    (OutboxState.QUEUED, None),
                ]
            ):
                due = start - timedelta(hours=2 + index)
                rows.append(
                    OutboxMessage(
                        send_key=f"r{campaign.id}:{person.id}:{key}:{index}",
                        kind=OutboxKind.REMINDER,
                        participant_id=person.id,
                        group_id=campaign.group_id,
                        campaign_id=campaign.id,
                        occurrence_key=key,
                        body="Old words." if state is OutboxState.SENT else None,
                        state=state,
                        state_reason=reason,
                        due_at=due,
                        expires_at=start,
                        sent_at=due if state is OutboxState.SENT else None,
                        created_at=due - timedelta(days=1),
                        updated_at=due,
                    )
                )
    session.add_all(rows)
    session.commit()
    return len(rows)
