"""The demo's sample data: two groups, their people and campaigns, and an API token to try."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy.orm import Session

from service.config import Settings
from service.db import sessions
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
    Participant,
)
from service.people.accounts import find_coordinator, issue_token, set_password
from service.people.participants import joining
from service.phones import phone_hash

# Numbers reserved for fiction (555-01xx), so the demo can never text a real person.
PEOPLE = [
    ("+12025550101", "Alex Rivera", "en", "America/New_York", ConsentState.GRANTED, "CIRCLE"),
    ("+12025550105", "Robin Diaz", "en", "America/New_York", ConsentState.GRANTED, "CIRCLE"),
    ("+12025550102", "Sam Lee", "en", "America/New_York", ConsentState.GRANTED, "CIRCLE"),
    ("+12025550103", "Jordan Kim", "en", "America/Chicago", ConsentState.REVOKED, "CIRCLE"),
    ("+12025550104", "Lucia Gomez", "es", "America/Los_Angeles", ConsentState.GRANTED, "MARTES"),
]
NEWCOMER = "+12025550199"
DEMO_COORDINATOR = "coordinator@example.org"
# The demo's dashboard sign-in, printed in its banner: the demo's data is fiction, on this machine.
DEMO_PASSWORD = "peerline-demo"  # noqa: S105
CALLER = "+12025550105"  # gets the reminder as a phone call
CIRCLE_KEYPAD_CODE = "246810"  # what a caller types to join Tuesday Circle


def demo_token(session: Session, now: datetime) -> str:
    """A fresh API token for the demo's coordinator, to try the API with."""
    coordinator = find_coordinator(session, DEMO_COORDINATOR)
    _, plain = issue_token(session, coordinator, "demo", now)
    session.commit()
    return plain


def seed(app: Flask) -> list[str]:
    """Fill an empty database with demo data; returns the phones to try, newcomer first."""
    settings: Settings = app.extensions["peerline.settings"]
    now = datetime.now(UTC)
    with sessions(app)() as session:
        coordinator = Coordinator(email=DEMO_COORDINATOR, name="Robin Demo", created_at=now)
        if settings.mode == "demo":  # a known password is for the demo alone
            set_password(coordinator, DEMO_PASSWORD)
        session.add(coordinator)
        session.flush()
        groups = {
            "CIRCLE": Group(
                coordinator_id=coordinator.id,
                name="Tuesday evening recovery circle",
                public_name="Tuesday Circle",
                join_code="CIRCLE",
                timezone="America/New_York",
                language="en",
                on_call_phone="+12025550100",
                keypad_code=CIRCLE_KEYPAD_CODE,
                voice_fallback=True,
            ),
            "MARTES": Group(
                coordinator_id=coordinator.id,
                name="Grupo de apoyo de los martes",
                public_name="Grupo Martes",
                join_code="MARTES",
                timezone="America/Los_Angeles",
                language="es",
            ),
        }
        session.add_all(groups.values())
        session.flush()
        for phone, name, language, zone, consent, code in PEOPLE:
            hashed = phone_hash(phone, settings.secret_key)
            person = Participant(
                phone=phone,
                phone_hash=hashed,
                name=name,
                language=language,
                timezone=zone,
                consent=consent,
                channel=Channel.VOICE if phone == CALLER else Channel.SMS,
                created_at=now,
            )
            session.add(person)
            session.flush()
            membership = joining(person, groups[code].id, now=now, name=name)
            membership.status = MembershipStatus.ACTIVE
            session.add(membership)
            session.add(
                ConsentEvent(
                    participant_id=person.id,
                    phone_hash=hashed,
                    change=ConsentChange.OPT_IN,
                    source=ConsentSource.COORDINATOR,
                    words="demo: signed consent form",
                    created_at=now,
                )
            )
            if consent is ConsentState.REVOKED:
                session.add(
                    ConsentEvent(
                        participant_id=person.id,
                        phone_hash=hashed,
                        change=ConsentChange.OPT_OUT,
                        source=ConsentSource.KEYWORD,
                        words="STOP",
                        created_at=now,
                    )
                )
        _seed_campaigns(session, groups["CIRCLE"], now)
        session.commit()
    return [NEWCOMER] + [p[0] for p in PEOPLE]


def _seed_campaigns(session: Session, circle: Group, now: datetime) -> None:
    """A meeting ten minutes from now with a reminder a minute from now, and encouragement."""
    local = now.astimezone(ZoneInfo(circle.timezone)).replace(second=0, microsecond=0, tzinfo=None)
    # No quiet hours in the demo, so a newcomer sees texts arrive at any hour.
    circle.quiet_start = circle.quiet_end = time(0, 0)
    session.add(
        MeetingSchedule(
            group_id=circle.id,
            rrule="FREQ=DAILY",
            first_start=local + timedelta(minutes=11),
            duration_minutes=60,
            location="Room 5",
        )
    )
    session.add(
        Campaign(
            group_id=circle.id,
            kind=CampaignKind.REMINDER,
            name="Demo reminders",
            offsets=["10m"],
            rsvp=True,
            created_at=now,
        )
    )
    session.add(
        Campaign(
            group_id=circle.id,
            kind=CampaignKind.ENCOURAGEMENT,
            name="Demo encouragement",
            stages=[0, 1],
            cadence_time=(local + timedelta(minutes=3)).time(),
            created_at=now,
        )
    )
