"""Creating a group and correcting it: its names, codes, time zone, language and settings.

The command line and the API both come here, so a group is checked the same way whichever way
it came. A code already used by another group is refused without saying which group has it.
Nothing planned is touched here: the planner re-plans every tick, so a new time zone or new
quiet hours move the sends not yet sent, and a new join code is the only one that joins.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, fields
from datetime import datetime, time
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.conversation.keywords import is_join_code
from service.messages.wording import LANGUAGES
from service.models import Coordinator, Group, Membership, MembershipStatus, new_keypad_code
from service.people import audit
from service.phones import InvalidPhone, mask, normalize
from service.text import said, sentence_of

log = logging.getLogger(__name__)

MAX_NAME = 120  # Group.name
MAX_PUBLIC_NAME = 60  # Group.public_name
DEFAULT_QUIET_HOURS = "21:00-08:00"
PRIVATE = ("name", "public_name", "topic_words")  # never in a log line
MAX_TOPIC_WORDS = 50
MAX_TOPIC_WORD = 60


class GroupError(ValueError):
    """A user-facing reason a group was refused; field names the input as the API calls it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class CodeTaken(GroupError):
    """A join or keypad code another group has; which group is never said."""


@dataclass(frozen=True)
class GroupChanges:
    """What a coordinator sets; None leaves a value as it is (for a new group: its default).

    on_call_phone "" takes the on-call phone away. A new language is the default of members
    who join from now on: members already in keep theirs.
    """

    name: str | None = None
    public_name: str | None = None
    join_code: str | None = None
    keypad_code: str | None = None
    timezone: str | None = None
    language: str | None = None
    quiet_hours: str | None = None  # "21:00-08:00", where each participant lives
    on_call_phone: str | None = None  # as typed; "" for none
    voice_fallback: bool | None = None
    voicemail_details: bool | None = None
    texts_between_meetings_to_callers: bool | None = None
    topic_words: list[str] | None = None  # words a lock screen should not show; [] for none


# How a change is told, in the order a group is shown.
LABELS = {
    "name": said("name"),
    "public_name": said("public name"),
    "join_code": said("join code"),
    "keypad_code": said("keypad code"),
    "timezone": said("time zone"),
    "language": said("language"),
    "quiet_hours": said("quiet hours"),
    "on_call_phone": said("on-call phone"),
    "voice_fallback": said("landline fallback"),
    "voicemail_details": said("voicemail details"),
    "texts_between_meetings_to_callers": said("texts between meetings to callers"),
    "topic_words": said("topic words"),
}


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str

    def __str__(self) -> str:
        return f"{LABELS[self.field]}: {self.before} -> {self.after}"


def create_group(
    session: Session,
    coordinator: Coordinator,
    spec: GroupChanges,
    *,
    region: str,
    now: datetime,
    actor: str,
) -> tuple[Group, list[str]]:
    """Check and add a group run by coordinator; returns it and its warnings.

    Name, public name, join code and time zone are needed; a keypad code no other group has is
    drawn when none is given.
    """
    for name in ("name", "public_name", "join_code", "timezone"):
        if getattr(spec, name) is None:
            raise GroupError(said("a group needs its %(what)s", what=LABELS[name]), name)
    values = _checked(spec, region)
    if "keypad_code" not in values:
        values["keypad_code"] = unused_keypad_code(session)
    values.setdefault("language", "en")
    values.setdefault("voice_fallback", False)
    values.setdefault("voicemail_details", False)
    values.setdefault("texts_between_meetings_to_callers", False)
    if "quiet_hours" not in values:
        values["quiet_hours"] = parse_quiet_hours(DEFAULT_QUIET_HOURS)
    _refuse_taken(session, values, None)
    quiet_start, quiet_end = values.pop("quiet_hours")
    group = Group(
        coordinator_id=coordinator.id,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        created_at=now,
        **values,
    )
    session.add(group)
    _flush(session, group)
    audit.record(
        session,
        actor=actor,
        action="group.create",
        now=now,
        target_type="group",
        target_id=group.id,
        code=group.join_code,
    )
    log.info("group %s created, on-call phone %s", group.join_code, mask(group.on_call_phone))
    return group, warnings(group)


def update_group(
    session: Session, group: Group, changes: GroupChanges, *, region: str, now: datetime, actor: str
) -> tuple[list[Change], list[str]]:
    """Change what was given, all or nothing; returns what changed and the group's warnings."""
    values = _checked(changes, region)
    _refuse_taken(session, values, group.id)
    before, was = shown(group), _stored(group)
    if "quiet_hours" in values:
        values["quiet_start"], values["quiet_end"] = values.pop("quiet_hours")
    for name, value in values.items():
        setattr(group, name, value)
    after, now_is = shown(group), _stored(group)
    changed = [
        Change(name, before[name], after[name]) for name in LABELS if was[name] != now_is[name]
    ]
    if changed:
        _flush(session, group)
        audit.record(
            session,
            actor=actor,
            action="group.update",
            now=now,
            target_type="group",
            target_id=group.id,
            fields=[c.field for c in changed],
        )
        # Names can say what a group is about: the log says only that they changed.
        told = [LABELS[c.field] if c.field in PRIVATE else str(c) for c in changed]
        log.info("group %s changed: %s", group.join_code, "; ".join(told))
    return changed, warnings(group)


def warnings(group: Group) -> list[str]:
    """What a coordinator should know about how the group is set up."""
    if group.on_call_phone:
        return []
    return [
        said(
            "%(code)s has no on-call phone: an urgent message (crisis words) will alert "
            "nobody by text until one is set",
            code=group.join_code,
        )
    ]


def active_member_counts(session: Session, group_ids: list[int]) -> dict[int, int]:
    """How many active members each of these groups has (a group with none is left out)."""
    rows = session.execute(
        select(Membership.group_id, func.count())
        .where(Membership.group_id.in_(group_ids), Membership.status == MembershipStatus.ACTIVE)
        .group_by(Membership.group_id)
    )
    return {group_id: int(count) for group_id, count in rows}


def shown(group: Group) -> dict[str, str]:
    """The group's settings as a coordinator reads them; phones masked."""
    return {
        "name": group.name,
        "public_name": group.public_name,
        "join_code": group.join_code,
        "keypad_code": group.keypad_code or "(none)",
        "timezone": group.timezone,
        "language": group.language,
        "quiet_hours": f"{group.quiet_start:%H:%M}-{group.quiet_end:%H:%M}",
        "on_call_phone": mask(group.on_call_phone),
        "voice_fallback": "on" if group.voice_fallback else "off",
        "voicemail_details": "on" if group.voicemail_details else "off",
        "texts_between_meetings_to_callers": (
            "on" if group.texts_between_meetings_to_callers else "off"
        ),
        "topic_words": ", ".join(group.topic_words or []) or "(none)",
    }


def _stored(group: Group) -> dict[str, object]:
    """The group's settings as stored, to tell what changed (masked phones can look alike)."""
    stored: dict[str, object] = {name: getattr(group, name, None) for name in LABELS}
    stored["quiet_hours"] = (group.quiet_start, group.quiet_end)
    return stored


def unused_keypad_code(session: Session) -> str:
    """A keypad code no other group has (900,000 to choose from: a clash is rare, not never)."""
    taken = set(session.scalars(select(Group.keypad_code).where(Group.keypad_code.is_not(None))))
    code = new_keypad_code()
    while code in taken:
        code = new_keypad_code()
    return code


def parse_quiet_hours(value: str) -> tuple[time, time]:
    """ "21:00-08:00" as its two times; a range that ends before it starts crosses midnight."""
    parts = value.split("-")
    try:
        if len(parts) != 2 or not all(len(p.strip()) == 5 for p in parts):
            raise ValueError(value)
        start, end = (time.fromisoformat(p.strip()) for p in parts)
    except ValueError:
        raise GroupError(
            said("%(value)r is not a range of hours such as 21:00-08:00", value=value),
            "quiet_hours",
        ) from None
    if start == end:
        raise GroupError(
            said("%(value)r: quiet hours must start and end at different times", value=value),
            "quiet_hours",
        )
    return start, end


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_names() -> list[str]:
    """Every time zone a group may have, sorted (for a list to choose from)."""
    return sorted(_zones())


def _checked(spec: GroupChanges, region: str) -> dict[str, Any]:
    """The given values, checked and as stored; a GroupError for the first one that is wrong."""
    values: dict[str, Any] = {}
    given = {
        f.name: getattr(spec, f.name) for f in fields(spec) if getattr(spec, f.name) is not None
    }
    for name, limit in (("name", MAX_NAME), ("public_name", MAX_PUBLIC_NAME)):
        if name in given:
            text = given[name].strip()
            if not 0 < len(text) <= limit:
                raise GroupError(
                    said(
                        "a group's %(what)s has 1 to %(limit)d characters",
                        what=LABELS[name],
                        limit=limit,
                    ),
                    name,
                )
            values[name] = text
    if "join_code" in given:
        code = given["join_code"].strip().upper()
        if not (code.isascii() and code.isalnum() and 3 <= len(code) <= 12):
            raise GroupError(said("a join code is 3 to 12 letters or digits"), "join_code")
        if not is_join_code(code):
            raise GroupError(
                said(
                    "%(code)s is a word participants text for something else (such as STOP, "
                    "HELP or YES); choose another join code",
                    code=code,
                ),
                "join_code",
            )
        values["join_code"] = code
    if "keypad_code" in given:
        digits = given["keypad_code"].strip()
        if not (digits.isascii() and digits.isdigit() and 4 <= len(digits) <= 8):
            raise GroupError(said("a keypad code is 4 to 8 digits"), "keypad_code")
        if digits.startswith("0"):
            raise GroupError(said("a keypad code cannot start with 0"), "keypad_code")
        values["keypad_code"] = digits
    if "timezone" in given:
        if given["timezone"] not in _zones():
            raise GroupError(
                said(
                    "%(zone)r is not a time zone; use a name such as America/New_York",
                    zone=given["timezone"],
                ),
                "timezone",
            )
        values["timezone"] = given["timezone"]
    if "language" in given:
        if given["language"] not in LANGUAGES:
            raise GroupError(
                said("language must be one of: %(languages)s", languages=", ".join(LANGUAGES)),
                "language",
            )
        values["language"] = given["language"]
    if "quiet_hours" in given:
        values["quiet_hours"] = parse_quiet_hours(given["quiet_hours"])
    if "on_call_phone" in given:
        raw = given["on_call_phone"]
        try:
            values["on_call_phone"] = normalize(raw, region) if raw.strip() else None
        except InvalidPhone as error:
            raise GroupError(sentence_of(error), "on_call_phone") from None
    for name in ("voice_fallback", "voicemail_details", "texts_between_meetings_to_callers"):
        if name in given:
            values[name] = bool(given[name])
    if "topic_words" in given:
        words = list(dict.fromkeys(" ".join(w.split()) for w in given["topic_words"] if w.strip()))
        if len(words) > MAX_TOPIC_WORDS or any(len(w) > MAX_TOPIC_WORD for w in words):
            raise GroupError(
                said(
                    "at most %(most)d topic words, each of up to %(longest)d characters",
                    most=MAX_TOPIC_WORDS,
                    longest=MAX_TOPIC_WORD,
                ),
                "topic_words",
            )
        values["topic_words"] = words
    return values


def _refuse_taken(session: Session, values: dict[str, Any], group_id: int | None) -> None:
    for name in ("join_code", "keypad_code"):
        if name not in values:
            continue
        other = select(Group.id).where(getattr(Group, name) == values[name])
        if group_id is not None:
            other = other.where(Group.id != group_id)
        if session.scalar(other) is not None:
            raise CodeTaken(
                said(
                    "the code %(code)s is taken; choose another %(what)s",
                    code=values[name],
                    what=LABELS[name],
                ),
                name,
            )


def _flush(session: Session, group: Group) -> None:
    """Write the group now, so that a code another request took meanwhile is refused here."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise CodeTaken(
            said(
                "the code %(code)s is taken; choose another join code (or the keypad code is "
                "taken)",
                code=group.join_code,
            ),
            "join_code",
        ) from None
