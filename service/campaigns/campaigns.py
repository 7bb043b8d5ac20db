"""Campaigns: creating, changing, pausing, resuming and deleting one; offsets; rotation.

The command line and the API both create and change campaigns here, so a campaign is checked
the same way whichever way it came: its offsets, its wording, its pools and its cadence.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.orm import Session

from service.campaigns.recurrence import Schedule, ScheduleError, validate
from service.campaigns.wording import WordingError, check_template, discretion_warnings
from service.messages.outbox import withdraw
from service.messages.segments import SegmentCount
from service.messages.wording import LANGUAGES
from service.models import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    Group,
    MeetingSchedule,
    OutboxMessage,
    OutboxState,
)
from service.people import audit
from service.text import said, sentence_of

MAX_NAME = 120  # Campaign.name
LONGEST_WINDOW_HOURS = 7 * 24
LAST_STAGE_DAY = 365
DEFAULT_ENCOURAGEMENT_TIME = time(12, 0)
# A broadcast's time this close behind now is now (a clock a little ahead, a slow typist).
PAST_GRACE = timedelta(minutes=1)

_RELATIVE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")
_AT_DAY = re.compile(r"(\d+)d@([01]?\d|2[0-3]):([0-5]\d)")


class OffsetError(ValueError):
    """A reminder offset a coordinator wrote cannot be read; the message shows the forms."""


@dataclass(frozen=True)
class Offset:
    """When a reminder goes, relative to its meeting.

    Two forms, as coordinators say them: "2h" or "1d2h30m" (that long before the meeting), and
    "1d@18:00" (so many days before, at that wall-clock time where the participant lives).
    """

    text: str
    before: timedelta | None = None
    days_before: int | None = None
    at: time | None = None

    @classmethod
    def parse(cls, text: str) -> Offset:
        words = text.strip().lower().replace(" ", "")
        if match := _AT_DAY.fullmatch(words):
            days, hour, minute = (int(g) for g in match.groups())
            if days > 60:
                raise OffsetError(said("%(text)r: at most 60 days before a meeting", text=text))
            return cls(words, days_before=days, at=time(hour, minute))
        match = _RELATIVE.fullmatch(words)
        if not words or match is None:
            raise OffsetError(
                said(
                    "%(text)r is not an offset; write e.g. 2h, 30m, 1d2h, or 1d@18:00 "
                    "(the day before at 6 pm)",
                    text=text,
                )
            )
        days, hours, minutes = (int(g) if g else 0 for g in match.groups())
        before = timedelta(days=days, hours=hours, minutes=minutes)
        if before <= timedelta(0) or before > timedelta(days=60):
            raise OffsetError(
                said("%(text)r: an offset is more than 0 and at most 60 days", text=text)
            )
        return cls(words, before=before)

    def planned(self, meeting_start: datetime, zone: str) -> datetime:
        """The moment this reminder is meant for, before the meeting starting at meeting_start."""
        if self.before is not None:
            return meeting_start - self.before
        assert self.days_before is not None and self.at is not None
        local_day = meeting_start.astimezone(ZoneInfo(zone)).date() - timedelta(self.days_before)
        # Wall time where the participant lives: "the day before at 18:00" is 18:00 for them.
        return datetime.combine(local_day, self.at, tzinfo=ZoneInfo(zone))

    @property
    def longest(self) -> timedelta:
        """How far before a meeting this offset can reach, for planning windows."""
        if self.before is not None:
            return self.before
        assert self.days_before is not None
        return timedelta(days=self.days_before + 1)


def rotation_pick(pool_size: int, campaign_id: int, participant_id: int, n: int) -> int:
    """Which pool line the n-th encouragement is: no line twice before every line was sent.

    Each pass through the pool is its own shuffle, seeded by campaign, participant and pass, so
    the same send always gets the same line (planning twice changes nothing) and different
    people do not all get the same line on the same day.
    """
    if pool_size <= 0:
        raise ValueError("the pool is empty")
    cycle, place = divmod(n, pool_size)
    order = list(range(pool_size))
    random.Random(f"{campaign_id}:{participant_id}:{cycle}").shuffle(order)
    return order[place]


class CampaignError(ValueError):
    """A user-facing reason a campaign was refused.

    field names the input that was wrong, as CampaignSpec calls it ("name", "offsets",
    "wording", "wording.en", "pool.es", "cadence", "stages", "at", "window_hours", "send_at"),
    or is None when the group itself is not ready (a reminder needs its meetings).
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class CampaignSpec:
    """What a coordinator asks for; inputs that do not apply to the kind are not read."""

    kind: CampaignKind
    name: str
    offsets: list[str] = field(default_factory=list)  # reminder: "2h", "1d@18:00", ...
    rsvp: bool = False  # reminder: ask C to confirm, N if not coming
    wording: dict[str, str] = field(default_factory=dict)  # language -> own template
    pools: dict[str, list[str]] = field(default_factory=dict)  # language -> encouragements
    cadence: str | None = None  # encouragement: an RRULE in each participant's zone
    at: time | None = None  # encouragement: local time of day (default 12:00)
    stages: list[int] = field(default_factory=list)  # encouragement: days since joining
    window_hours: int = 12  # encouragement: how long a text stays worth sending
    send_at: datetime | None = None  # broadcast: aware; None is now


def create_campaign(
    session: Session,
    group: Group,
    spec: CampaignSpec,
    *,
    now: datetime,
    actor: str,
    topic_words: Sequence[str] = (),
) -> tuple[Campaign, list[str], dict[str, SegmentCount]]:
    """Check and add a campaign for group; returns it, warnings, and its wording's cost.

    Words a lock screen should not show (the group's internal name, topic_words) are warned of.

    A warning (a text longer than one segment, say) does not stop the campaign; each starts
    with the field it is about, e.g. "wording.es: This message is 2 segments: ...". The cost is
    counted per language of the campaign's own wording, as it reads for a sample person.
    """
    campaign = Campaign(group_id=group.id, kind=spec.kind, created_at=now, updated_at=now)
    warnings: list[str] = []
    summaries: dict[str, SegmentCount] = {}
    _apply(spec, campaign, group, warnings, summaries, now=now, topic_words=topic_words)
    if spec.kind is CampaignKind.REMINDER:
        has_meetings = session.scalar(
            select(MeetingSchedule.id).where(MeetingSchedule.group_id == group.id)
        )
        if has_meetings is None:
            raise CampaignError(
                said(
                    "%(code)s has no meetings yet; a reminder campaign needs them",
                    code=group.join_code,
                )
            )
    session.add(campaign)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="campaigns.create",
        now=now,
        target_type="campaign",
        target_id=campaign.id,
        kind=spec.kind.value,
        name=campaign.name,
    )
    return campaign, warnings, summaries


def _apply(
    spec: CampaignSpec,
    campaign: Campaign,
    group: Group,
    warnings: list[str],
    summaries: dict[str, SegmentCount],
    *,
    now: datetime,
    send_at_before: datetime | None = None,
    topic_words: Sequence[str] = (),
) -> None:
    """Check spec and set what it asks for on campaign; raises CampaignError at the first fault.

    send_at_before is a broadcast's time as it stands: kept as it is, it is not refused for
    having passed (the broadcast went, or is going, at it).
    """
    name = spec.name.strip()
    if not name or len(name) > MAX_NAME:
        raise CampaignError(
            said("a campaign's name has 1 to %(longest)d characters", longest=MAX_NAME), "name"
        )
    campaign.name = name
    if spec.kind is CampaignKind.REMINDER:
        campaign.offsets = _offsets(spec.offsets)
        campaign.rsvp = spec.rsvp
        campaign.wording = _wording(spec.wording, warnings, summaries, meeting=True)
        _discretion(campaign.wording, "wording", group, topic_words, warnings)
    elif spec.kind is CampaignKind.ENCOURAGEMENT:
        campaign.wording = {
            language: "\n".join(_pool(language, lines)) for language, lines in spec.pools.items()
        }
        _discretion(campaign.wording, "pool", group, topic_words, warnings)
        if not 1 <= spec.window_hours <= LONGEST_WINDOW_HOURS:
            raise CampaignError(
                said(
                    "an encouragement stays worth sending for 1 to %(longest)d hours",
                    longest=LONGEST_WINDOW_HOURS,
                ),
                "window_hours",
            )
        campaign.window_minutes = spec.window_hours * 60
        campaign.cadence_time = _time_of_day(spec.at)
        if (spec.cadence is None) == (not spec.stages):
            raise CampaignError(
                said("an encouragement campaign needs a cadence or stages (one of them)"),
                "cadence",
            )
        campaign.cadence = _cadence(spec.cadence, group) if spec.cadence is not None else None
        campaign.stages = _stages(spec.stages) if spec.cadence is None else []
    else:
        campaign.wording = _wording(spec.wording, warnings, summaries, meeting=False)
        _discretion(campaign.wording, "wording", group, topic_words, warnings)
        if not campaign.wording:
            raise CampaignError(
                said("a broadcast needs its words in at least one language"), "wording"
            )
        if send_at_before is not None and spec.send_at == send_at_before:
            return
        if spec.send_at is not None and spec.send_at.utcoffset() is None:
            raise CampaignError(said("a broadcast's time must say its time zone"), "send_at")
        if spec.send_at is not None and spec.send_at < now - PAST_GRACE:
            local = spec.send_at.astimezone(ZoneInfo(group.timezone))
            raise CampaignError(
                said(
                    "%(when)s (%(zone)s) has passed; a broadcast goes now or later (up to "
                    "%(grace)d minute ago is taken as now)",
                    when=f"{local:%Y-%m-%d %H:%M}",
                    zone=group.timezone,
                    grace=PAST_GRACE.seconds // 60,
                ),
                "send_at",
            )
        campaign.send_at = max(spec.send_at or now, now).astimezone(UTC)


@dataclass
class CampaignChanges:
    """What a coordinator changes in a campaign; None leaves a field as it is.

    wording and pools replace only the languages given (empty words go back to the default);
    offsets and stages replace the whole list; a cadence replaces stages and stages a cadence.
    kind is read only to refuse a change of it: a campaign keeps the kind it was made with.
    """

    kind: CampaignKind | None = None
    name: str | None = None
    offsets: list[str] | None = None
    rsvp: bool | None = None
    wording: dict[str, str] | None = None
    pools: dict[str, list[str]] | None = None
    cadence: str | None = None
    at: time | None = None
    stages: list[int] | None = None
    window_hours: int | None = None
    send_at: datetime | None = None


# What each kind has; a change to anything else is refused, not quietly left unread.
_KIND_FIELDS = {
    CampaignKind.REMINDER: {"name", "offsets", "rsvp", "wording"},
    CampaignKind.ENCOURAGEMENT: {"name", "pools", "cadence", "at", "stages", "window_hours"},
    CampaignKind.BROADCAST: {"name", "wording", "send_at"},
}
# The columns an edit may change.
_EDITABLE = (
    "name", "offsets", "rsvp", "wording", "cadence", "cadence_time", "stages", "window_minutes",
    "send_at",
)  # fmt: skip
# Rows not gone, whose words are made when they go (the planner may bring back withdrawn ones).
_NOT_GONE = (OutboxState.QUEUED, OutboxState.CANCELED, OutboxState.EXPIRED)


@dataclass
class CampaignEdit:
    """What an edit came to: warnings and cost as on creation, and what it did to the outbox."""

    warnings: list[str]
    words: dict[str, SegmentCount]
    withdrawn: int  # planned texts taken back: their time no longer fits
    reworded: int  # planned texts already worded, to be worded again in the new words


def update_campaign(
    session: Session,
    campaign: Campaign,
    changes: CampaignChanges,
    *,
    now: datetime,
    actor: str,
    topic_words: Sequence[str] = (),
) -> CampaignEdit:
    """Change a campaign, checked as creating one is; what was planned follows, what went stays.

    Planned texts whose time no longer fits are withdrawn ("campaign changed") and the planner
    plans the new ones on its next run; planned texts already worded are worded again when
    they go. Nothing sent or sending is touched. A refused change changes nothing.
    """
    if changes.kind is not None and changes.kind is not campaign.kind:
        raise CampaignError(
            said(
                "a campaign's kind cannot change (this one is a %(kind)s); create a new "
                "campaign of the kind you want and delete this one",
                kind=campaign.kind.value,
            ),
            "kind",
        )
    given = {name for name, value in vars(changes).items() if value is not None} - {"kind"}
    if not given:
        raise CampaignError(said("nothing to change"))
    if foreign := sorted(given - _KIND_FIELDS[campaign.kind]):
        raise CampaignError(
            said(
                "a %(kind)s campaign has no %(field)s", kind=campaign.kind.value, field=foreign[0]
            ),
            foreign[0],
        )
    if changes.cadence is not None and changes.stages is not None:
        raise CampaignError(said("an encouragement has a cadence or stages, not both"), "cadence")

    spec = _spec_of(campaign)
    spec.name = changes.name if changes.name is not None else spec.name
    spec.offsets = changes.offsets if changes.offsets is not None else spec.offsets
    spec.rsvp = changes.rsvp if changes.rsvp is not None else spec.rsvp
    spec.wording = {**spec.wording, **(changes.wording or {})}
    spec.pools = {**spec.pools, **(changes.pools or {})}
    if changes.cadence is not None:
        spec.cadence, spec.stages = changes.cadence, []
    if changes.stages is not None:
        spec.cadence, spec.stages = None, changes.stages
    spec.at = changes.at if changes.at is not None else spec.at
    if changes.window_hours is not None:
        spec.window_hours = changes.window_hours
    spec.send_at = changes.send_at if changes.send_at is not None else spec.send_at

    # Checked on a copy, so that a refusal leaves the campaign as it was.
    as_it_is = {name: getattr(campaign, name) for name in _EDITABLE}
    checked = Campaign(kind=campaign.kind, **as_it_is)
    warnings: list[str] = []
    words: dict[str, SegmentCount] = {}
    group = session.get_one(Group, campaign.group_id)
    _apply(
        spec,
        checked,
        group,
        warnings,
        words,
        now=now,
        send_at_before=campaign.send_at,
        topic_words=topic_words,
    )

    before = {name: getattr(campaign, name) for name in _EDITABLE}
    for name in _EDITABLE:
        setattr(campaign, name, getattr(checked, name))
    campaign.updated_at = now
    withdrawn = _withdraw_what_moved(session, campaign, before, now)
    reworded = 0
    if (before["wording"], before["rsvp"]) != (campaign.wording, campaign.rsvp):
        reworded = _word_again(session, campaign, now)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="campaigns.update",
        now=now,
        target_type="campaign",
        target_id=campaign.id,
        changed=[name for name in _EDITABLE if before[name] != getattr(campaign, name)],
    )
    return CampaignEdit(warnings, words, withdrawn, reworded)


def _spec_of(campaign: Campaign) -> CampaignSpec:
    """The campaign as it stands, as the request that would create it."""
    spec = CampaignSpec(
        kind=campaign.kind,
        name=campaign.name,
        offsets=list(campaign.offsets),
        rsvp=campaign.rsvp,
        cadence=campaign.cadence,
        at=campaign.cadence_time,
        stages=list(campaign.stages),
        window_hours=campaign.window_minutes // 60,
        send_at=campaign.send_at,
    )
    if campaign.kind is CampaignKind.ENCOURAGEMENT:  # its wording holds the pools' lines
        spec.pools = {language: text.split("\n") for language, text in campaign.wording.items()}
    else:
        spec.wording = dict(campaign.wording)
    return spec


def _withdraw_what_moved(
    session: Session, campaign: Campaign, before: dict[str, Any], now: datetime
) -> int:
    """Withdraw the campaign's planned texts whose time the edit changed."""
    mine = OutboxMessage.campaign_id == campaign.id
    if campaign.kind is CampaignKind.REMINDER:
        # A reminder's send key ends with its offset's place in the list (the planner's key):
        # only the places whose offset changed, or that are gone, lose their planned texts.
        old, new = before["offsets"], campaign.offsets
        moved = [
            index
            for index in range(max(len(old), len(new)))
            if index >= len(old) or index >= len(new) or old[index] != new[index]
        ]
        if not moved:
            return 0
        places = or_(*(OutboxMessage.send_key.endswith(f":{index}") for index in moved))
        return withdraw(session, and_(mine, places), "campaign changed", now)
    timing = ("cadence", "cadence_time", "stages", "window_minutes", "send_at")
    if all(before[name] == getattr(campaign, name) for name in timing):
        return 0
    return withdraw(session, mine, "campaign changed", now)


def _word_again(session: Session, campaign: Campaign, now: datetime) -> int:
    """Forget the words of the campaign's texts not yet gone, so that they go in the new ones."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.campaign_id == campaign.id,
            OutboxMessage.state.in_(_NOT_GONE),
            OutboxMessage.body.is_not(None),
        )
        .values(body=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return max(0, int(result.rowcount))  # type: ignore[attr-defined]


def delete_campaign(session: Session, campaign: Campaign, *, now: datetime, actor: str) -> int:
    """Delete a campaign; returns the planned texts withdrawn.

    The campaign stays on record, hidden and never planned again, so that what it sent stays
    in the outbox with its campaign, and in the group's counts.
    """
    campaign.deleted_at = now
    campaign.updated_at = now
    withdrawn = withdraw(session, OutboxMessage.campaign_id == campaign.id, "campaign deleted", now)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="campaigns.delete",
        now=now,
        target_type="campaign",
        target_id=campaign.id,
        name=campaign.name,
    )
    return withdrawn


def live_campaigns() -> Select[Campaign]:
    """Campaigns not deleted: the only ones anyone lists, finds, changes or plans."""
    return select(Campaign).where(Campaign.deleted_at.is_(None))


def set_campaign_status(
    session: Session, campaign: Campaign, status: CampaignStatus, *, now: datetime, actor: str
) -> int:
    """Pause or resume a campaign; returns the planned texts taken back when it is paused."""
    campaign.status = status
    campaign.updated_at = now
    released = 0
    if status is CampaignStatus.PAUSED:
        released = withdraw(
            session, OutboxMessage.campaign_id == campaign.id, "campaign paused", now
        )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"campaigns.{status.value}",
        now=now,
        target_type="campaign",
        target_id=campaign.id,
    )
    return released


def _offsets(texts: list[str]) -> list[str]:
    if not texts:
        raise CampaignError(
            said("a reminder campaign needs at least one offset, e.g. 1d@18:00"), "offsets"
        )
    try:
        return [Offset.parse(text).text for text in texts]
    except OffsetError as error:
        raise CampaignError(sentence_of(error), "offsets") from error


def _wording(
    texts: dict[str, str], warnings: list[str], summaries: dict[str, SegmentCount], *, meeting: bool
) -> dict[str, str]:
    """The coordinator's own templates, each checked by the one rule for outgoing words."""
    wording = {}
    for language, text in texts.items():
        where = f"wording.{language}"
        _known_language(language, where)
        if not text.strip():
            continue  # nothing written: the default wording is used
        try:
            checked = check_template(text, meeting=meeting, language=language)
        except WordingError as error:
            raise CampaignError(sentence_of(error), where) from error
        if checked.warning:
            warnings.append(said("%(where)s: %(warning)s", where=where, warning=checked.warning))
        summaries[language] = checked.count
        wording[language] = text.strip()
    return wording


def _discretion(
    wording: dict[str, str],
    where: str,
    group: Group,
    topic_words: Sequence[str],
    warnings: list[str],
) -> None:
    """Warn of words a lock screen would show that give the group's subject away."""
    words = [*(group.topic_words or []), *topic_words]  # the group's own, and any given
    for language, text in wording.items():
        for warning in discretion_warnings(text, internal_name=group.name, topic_words=words):
            warnings.append(
                said("%(where)s: %(warning)s", where=f"{where}.{language}", warning=warning)
            )


def _pool(language: str, lines: list[str]) -> list[str]:
    """Encouragement lines, one text each, checked as templates without a meeting."""
    where = f"pool.{language}"
    _known_language(language, where)
    if not lines:
        raise CampaignError(said("the pool has no messages"), where)
    pool = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or "\n" in text:
            raise CampaignError(
                said("line %(line)d: one message per line, none empty", line=number), where
            )
        try:
            check_template(text, meeting=False)
        except WordingError as error:
            raise CampaignError(
                said("line %(line)d: %(why)s", line=number, why=sentence_of(error)), where
            ) from error
        pool.append(text)
    return pool


def _known_language(language: str, where: str) -> None:
    if language not in LANGUAGES:
        raise CampaignError(
            said("the language must be one of: %(languages)s", languages=", ".join(LANGUAGES)),
            where,
        )


def _time_of_day(at: time | None) -> time:
    if at is None:
        return DEFAULT_ENCOURAGEMENT_TIME
    if at.tzinfo is not None:
        raise CampaignError(said("a time of day where each person lives, without a zone"), "at")
    return at


def _cadence(rule: str, group: Group) -> str:
    try:
        validate(
            Schedule(rrule=rule, first_start=datetime(2026, 1, 1, 12), timezone=group.timezone)
        )
    except ScheduleError as error:
        raise CampaignError(sentence_of(error), "cadence") from error
    return rule.strip()


def _stages(days: list[int]) -> list[int]:
    stages = sorted(set(days))
    if stages[0] < 0 or stages[-1] > LAST_STAGE_DAY:
        raise CampaignError(
            said("days since joining, from 0 to %(last)d", last=LAST_STAGE_DAY), "stages"
        )
    return stages
