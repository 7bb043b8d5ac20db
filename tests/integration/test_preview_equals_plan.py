"""The preview is the plan: on random small groups and campaigns, what a preview counts, pages
and words is what the planner writes into the real outbox for the same clock and horizon."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from service.campaigns.composer import compose
from service.campaigns.planner import plan, plan_changed
from service.campaigns.preview import (
    PreviewLine,
    page_of_lines,
    preview,
    preview_as,
    summary,
)
from service.models import (
    CampaignKind,
    Channel,
    ConsentState,
    Group,
    Membership,
    MembershipStatus,
    OutboxMessage,
    OutboxState,
)
from tests.support import Clock, make_campaign, make_group, make_participant, make_schedule

ZONES = ["America/New_York", "America/Los_Angeles", "Europe/London", "Asia/Kolkata",
         "Australia/Sydney"]  # fmt: skip
OFFSETS = ["30m", "2h", "6h40m", "45m", "1d@18:00", "1d@21:00", "2d@09:00"]
RULES = ["FREQ=WEEKLY;BYDAY=TU", "FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,TH"]
LATE = "its time has passed: it goes out right away"
codes = itertools.count()

members = st.lists(
    st.fixed_dictionaries(
        {
            "timezone": st.sampled_from(ZONES),
            "channel": st.sampled_from([Channel.SMS, Channel.SMS, Channel.VOICE]),
            "language": st.sampled_from(["en", "es"]),
            "consent": st.sampled_from([ConsentState.GRANTED] * 4 + [ConsentState.UNKNOWN]),
            "status": st.sampled_from([MembershipStatus.ACTIVE] * 4 + [MembershipStatus.LEFT]),
            "name": st.sampled_from([None, "Sam Rivera", "Lucia Gomez", "Kim"]),
            "joined_days_ago": st.integers(0, 10),
        }
    ),
    min_size=1,
    max_size=5,
)
campaigns = st.one_of(
    st.fixed_dictionaries(
        {
            "kind": st.just(CampaignKind.REMINDER),
            "offsets": st.lists(st.sampled_from(OFFSETS), min_size=1, max_size=3, unique=True),
            "rsvp": st.booleans(),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just(CampaignKind.ENCOURAGEMENT),
            "cadence": st.sampled_from(["FREQ=WEEKLY;BYDAY=WE", "FREQ=DAILY", None]),
            "cadence_time": st.sampled_from([time(7, 30), time(12, 0), time(22, 15)]),
            "stages": st.just([0, 1, 3, 7]),
            "window_minutes": st.sampled_from([60, 12 * 60]),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just(CampaignKind.BROADCAST),
            "wording": st.just({"en": "Room 7 tonight.", "es": "Sala 7 esta noche."}),
            "send_in_hours": st.integers(-2, 72),
            "window_minutes": st.sampled_from([60, 4 * 60]),
        }
    ),
)


@pytest.mark.parametrize(
    "examples",
    [
        pytest.param(5, id="quick"),
        # Up to a dozen previews an example: about 13 s per database.
        pytest.param(25, id="full", marks=pytest.mark.slow),
    ],
)
def test_a_preview_counts_pages_and_words_what_the_planner_writes(
    session: Session, clock: Clock, examples: int
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        people=members,
        chosen=campaigns,
        rule=st.sampled_from(RULES),
        meets_at=st.sampled_from([time(7, 0), time(18, 30), time(23, 45)]),
        quiet=st.sampled_from(
            [(time(21, 0), time(8, 0)), (time(13, 0), time(19, 0)), (time(0, 0), time(0, 0))]
        ),
        hours_later=st.integers(0, 24 * 30),
        planned_before=st.one_of(st.none(), st.integers(1, 72)),
        ticked=st.booleans(),
        days=st.integers(1, 10),
    )
    def example(**drawn: Any) -> None:
        preview_is_the_plan(session, clock, **drawn)

    example()


def preview_is_the_plan(
    session: Session,
    clock: Clock,
    people: list[dict[str, Any]],
    chosen: dict[str, Any],
    rule: str,
    meets_at: time,
    quiet: tuple[time, time],
    hours_later: int,
    planned_before: int | None,
    ticked: bool,
    days: int,
) -> None:
    """A fresh group each example, its clock up to a month on (across the spring's clock
    changes); sometimes planned for real some hours before, as a running service would have:
    by plan() alone, or by the scheduler's tick (plan_changed), whose record of what it planned
    lets a preview whose end that plan reaches read it in place instead of planning again."""
    now = clock.now + timedelta(hours=hours_later)
    group = make_group(session, f"PV{next(codes):04d}")
    group.quiet_start, group.quiet_end = quiet
    session.commit()
    make_schedule(session, group, rule=rule, first=datetime(2026, 3, 2, meets_at.hour,
                                                           meets_at.minute))  # fmt: skip
    for n, person in enumerate(people):
        joined = now - timedelta(days=person["joined_days_ago"])
        details = {k: v for k, v in person.items() if k != "joined_days_ago"}
        make_participant(session, f"+1202{group.id:03d}{n:04d}", group, **details)
        session.execute(
            update(Membership)
            .where(Membership.group_id == group.id, Membership.created_at > joined)
            .values(created_at=joined)
        )
    fields = dict(chosen)
    if "send_in_hours" in fields:
        fields["send_at"] = now + timedelta(hours=fields.pop("send_in_hours"))
    campaign = make_campaign(session, group, created_at=now - timedelta(days=3), **fields)
    if planned_before is not None and ticked:
        session.commit()
        with session.get_bind().engine.connect() as connection:
            plan_changed(connection, now - timedelta(hours=planned_before))
    elif planned_before is not None:
        plan(session, now - timedelta(hours=planned_before), group_id=group.id)
        session.commit()

    before = _snapshot(session, group)
    counted = preview_as(summary(sample=3), session, group, now, days, campaign_id=campaign.id)
    every = preview(session, group, now, days, campaign_id=campaign.id)
    pages = [preview_as(page_of_lines(0, 4), session, group, now, days, campaign_id=campaign.id)]
    while (first := 4 * len(pages)) < pages[0].total:
        pages.append(
            preview_as(page_of_lines(first, 4), session, group, now, days, campaign_id=campaign.id)
        )
    assert _snapshot(session, group) == before, "a preview writes nothing"

    plan(session, now, horizon=timedelta(days=days), group_id=group.id)
    session.commit()
    planned = [r for r in _rows(session, group, campaign.id, now) if r[0].due_at < counted.end]

    worded = Counter(
        (row.due_at, member.timezone, row.kind.value, _words(session, row),
         row.state_reason or (LATE if row.state is OutboxState.QUEUED and row.due_at < now
                              else ""), member.name or "")
        for row, member in planned
    )  # fmt: skip
    assert _each(every) == worded
    assert _each([line for page in pages for line in page.lines]) == worded
    assert all(page.total == len(planned) for page in pages)
    # The sample: the first three sends, as the first page words them.
    assert sum(line.recipients for line in counted.sample) == min(3, len(planned))
    assert _each(counted.sample) <= _each(pages[0].lines)
    going = [(r, m) for r, m in planned if r.state is OutboxState.QUEUED]
    assert counted.sends == len(planned)
    assert counted.texts == sum(r.channel is Channel.SMS for r, _ in going)
    assert counted.calls == sum(r.channel is Channel.VOICE for r, _ in going)
    assert counted.people == len({r.participant_id for r, _ in going})
    assert counted.moved == sum(r.state_reason is not None for r, _ in going)
    assert counted.right_away == sum(r.due_at < now for r, _ in going)
    assert counted.expiring == len(planned) - len(going)
    hours: Counter[tuple[str, str, str]] = Counter()
    for row, member in planned:
        local = f"{row.due_at.astimezone(ZoneInfo(member.timezone)):%a %Y-%m-%d %H}:00"
        what = ("expiring" if row.state is OutboxState.EXPIRED
                else "texts" if row.channel is Channel.SMS else "calls")  # fmt: skip
        hours[member.timezone, local, what] += 1
        if row.state is OutboxState.QUEUED and row.state_reason is not None:
            hours[member.timezone, local, "moved"] += 1
    assert (
        Counter(
            {
                (hour.timezone, hour.local, what): getattr(hour, what)
                for hour in counted.hours
                for what in ("texts", "calls", "moved", "expiring")
                if getattr(hour, what)
            }
        )
        == hours
    )
    assert [h.starts_at for h in counted.hours] == sorted(h.starts_at for h in counted.hours)


def _rows(
    session: Session, group: Group, campaign_id: int, now: datetime
) -> list[tuple[OutboxMessage, Membership]]:
    """The campaign's rows still to come in the real outbox, with their memberships."""
    session.expire_all()
    return list(
        session.execute(
            select(OutboxMessage, Membership)
            .join(
                Membership,
                and_(
                    Membership.participant_id == OutboxMessage.participant_id,
                    Membership.group_id == OutboxMessage.group_id,
                ),
            )
            .where(
                OutboxMessage.campaign_id == campaign_id,
                or_(
                    and_(
                        OutboxMessage.state == OutboxState.QUEUED,
                        or_(OutboxMessage.expires_at.is_(None), OutboxMessage.expires_at > now),
                    ),
                    and_(OutboxMessage.state == OutboxState.EXPIRED, OutboxMessage.due_at >= now),
                ),
            )
        )
    )


def _snapshot(session: Session, group: Group) -> list[tuple[Any, ...]]:
    session.expire_all()
    return [
        tuple(row)
        for row in session.execute(
            select(OutboxMessage.__table__)
            .where(OutboxMessage.group_id == group.id)
            .order_by(OutboxMessage.id)
        )
    ]


def _words(session: Session, row: OutboxMessage) -> str:
    try:
        return compose(session, row, row.due_at)
    except ValueError as problem:
        return f"(cannot be worded: {problem})"


def _each(lines: list[PreviewLine]) -> Counter[tuple[datetime, str, str, str, str, str]]:
    """A preview's lines as one entry per person."""
    return Counter(
        (line.due_at, line.timezone, line.kind, line.text, line.note, name)
        for line in lines
        for name in line.names
    )
