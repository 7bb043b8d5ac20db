"""The replies that need a human: urgent ones first, then those that may ask to stop, marked
read, answered through the outbox."""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, String, and_, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from service.campaigns.wording import check_template, word_for
from service.conversation.keywords import Intent
from service.messages.outbox import enqueue
from service.models import (
    ConsentState,
    Coordinator,
    Group,
    InboundMessage,
    Membership,
    OutboxKind,
    OutboxMessage,
    Participant,
)
from service.people.accounts import visible_group_ids
from service.text import said

# Shown beside a message whose words may ask to stop everything: nothing was stopped.
MAYBE_STOP_NOTE = (
    "MAYBE STOP: the words may ask us to stop all texts and calls, but nothing was stopped. "
    "Unless the message was urgent, the sender was told that replying STOP (PARAR in Spanish) "
    "stops everything. If unsure, ask them."
)


def may_ask_to_stop(message: InboundMessage) -> bool:
    """Say whether the message's words may ask to stop everything (and nothing stopped)."""
    return message.intent == Intent.MAYBE_OPT_OUT.value


class InboxError(Exception):
    """A reply that may not go; the message says why, for the coordinator."""


def needing_a_human(
    group_ids: Collection[int] | None, *, unread_only: bool = False
) -> Select[InboundMessage]:
    """What people wrote that a human should read: urgent first, then what may ask to stop,
    then newest first.

    group_ids None means every group (an admin); otherwise only those groups' messages.
    """
    query = select(InboundMessage).where(
        InboundMessage.needs_reply.is_(True), InboundMessage.handled_at.is_(None)
    )
    if group_ids is not None:
        query = query.where(InboundMessage.group_id.in_(list(group_ids)))
    if unread_only:
        query = query.where(InboundMessage.read.is_(False))
    query = query.order_by(
        InboundMessage.urgent.desc(),
        (InboundMessage.intent == Intent.MAYBE_OPT_OUT.value).desc(),
        InboundMessage.received_at.desc(),
        InboundMessage.id.desc(),
    )
    return query


class InboxState(enum.StrEnum):
    """Where a message needing a human stands, as the inbox filters it."""

    URGENT = "urgent"
    UNREAD = "unread"
    READ = "read"  # read, not answered, not handled
    REPLIED = "replied"  # a coordinator answered it by text
    HANDLED = "handled"  # a coordinator marked it done: it no longer waits


def _replied() -> ColumnElement[bool]:
    # A coordinator's answer carries the message's id in its send key (see reply below).
    key = literal("inbox:") + cast(InboundMessage.id, String) + literal(":%")
    return exists().where(OutboxMessage.send_key.like(key))


# The inbox's order, every column descending: urgent first, then what may ask to stop, then
# unread before read, then newest; order_key is a message's place in it (for a cursor).
ORDER = (
    InboundMessage.urgent,
    InboundMessage.intent == Intent.MAYBE_OPT_OUT.value,
    ~InboundMessage.read,
    InboundMessage.received_at,
    InboundMessage.id,
)


def order_key(message: InboundMessage) -> tuple[bool, bool, bool, datetime, int]:
    return (
        message.urgent,
        may_ask_to_stop(message),
        not message.read,
        message.received_at,
        message.id,
    )


def listing(
    group_ids: Collection[int] | None, state: InboxState | None = None
) -> Select[InboundMessage]:
    """The inbox in one state (None: every message still waiting), urgent first, then what may
    ask to stop, then unread before read, newest first."""
    query = select(InboundMessage).where(InboundMessage.needs_reply.is_(True))
    if group_ids is not None:
        query = query.where(InboundMessage.group_id.in_(list(group_ids)))
    waiting = InboundMessage.handled_at.is_(None)
    if state is InboxState.HANDLED:
        query = query.where(InboundMessage.handled_at.is_not(None))
    else:
        query = query.where(waiting)
    if state is InboxState.URGENT:
        query = query.where(InboundMessage.urgent.is_(True))
    elif state is InboxState.UNREAD:
        query = query.where(InboundMessage.read.is_(False))
    elif state is InboxState.READ:
        query = query.where(and_(InboundMessage.read.is_(True), ~_replied()))
    elif state is InboxState.REPLIED:
        query = query.where(_replied())
    return query.order_by(*(column.desc() for column in ORDER))


def states_of(session: Session, found: Collection[InboundMessage]) -> dict[int, InboxState]:
    """Each message's state, the most pressing first: handled, urgent, unread, replied, read."""
    ids = [m.id for m in found]
    answered = (
        set(
            session.scalars(select(InboundMessage.id).where(InboundMessage.id.in_(ids), _replied()))
        )
        if ids
        else set()
    )
    states = {}
    for m in found:
        if m.handled_at is not None:
            states[m.id] = InboxState.HANDLED
        elif m.urgent:
            states[m.id] = InboxState.URGENT
        elif not m.read:
            states[m.id] = InboxState.UNREAD
        elif m.id in answered:
            states[m.id] = InboxState.REPLIED
        else:
            states[m.id] = InboxState.READ
    return states


def mark_handled(message: InboundMessage, now: datetime) -> None:
    """Mark the message done (and read); marking it again keeps the first moment."""
    message.read = True
    if message.handled_at is None:
        message.handled_at = now


@dataclass(frozen=True)
class Said:
    """One message of a person's thread with a group, either way."""

    at: datetime
    incoming: bool
    body: str | None  # None: a campaign's text not yet worded
    outbox: OutboxMessage | None = None
    inbound: InboundMessage | None = None


def automatic_answers(
    session: Session, participant_id: int, came: Collection[InboundMessage]
) -> list[OutboxMessage]:
    """Peerline's automatic answers to these messages of the person's.

    An automatic answer has no group of its own (it answers the person, whichever group they
    wrote about); its send key names the message it answers, so a thread finds it through the
    messages the group may see, and only those.
    """
    sids = {m.message_sid for m in came}
    if not sids:
        return []
    rows = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.participant_id == participant_id,
            OutboxMessage.kind == OutboxKind.REPLY,
            OutboxMessage.send_key.startswith("reply:"),
        )
    )
    return [row for row in rows if row.send_key.split(":")[1] in sids]


def recent_thread(session: Session, message: InboundMessage, limit: int = 10) -> list[Said]:
    """The last messages both ways between the message's writer and its group, oldest first.

    Only this group's: what the person wrote to, or was sent by, another group never shows.
    """
    if message.participant_id is None or message.group_id is None:
        return []
    came = list(
        session.scalars(
            select(InboundMessage)
            .where(
                InboundMessage.participant_id == message.participant_id,
                InboundMessage.group_id == message.group_id,
            )
            .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
            .limit(limit)
        )
    )
    answered = automatic_answers(session, message.participant_id, came)
    went = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.participant_id == message.participant_id,
            OutboxMessage.group_id == message.group_id,
            or_(OutboxMessage.sent_at.is_not(None), OutboxMessage.body.is_not(None)),
        )
        .order_by(OutboxMessage.due_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    )
    thread = [Said(m.received_at, True, m.body, inbound=m) for m in came] + [
        Said(r.sent_at or r.due_at, False, r.body, outbox=r) for r in [*went, *answered]
    ]
    thread.sort(key=lambda s: s.at)
    return thread[-limit:]


def messages(
    session: Session,
    group_ids: Collection[int] | None,
    *,
    unread_only: bool = False,
    limit: int = 50,
) -> list[InboundMessage]:
    query = needing_a_human(group_ids, unread_only=unread_only)
    return list(session.scalars(query.limit(limit)))


def mark_read(message: InboundMessage) -> None:
    message.read = True


def answers(session: Session, message: InboundMessage) -> int:
    """How many answers a coordinator has sent to message."""
    return int(
        session.scalar(
            select(func.count()).where(OutboxMessage.send_key.like(f"inbox:{message.id}:%"))
        )
        or 0
    )


def reply(
    session: Session,
    message: InboundMessage,
    text: str,
    now: datetime,
    *,
    answered_before: int | None = None,
) -> OutboxMessage:
    """Queue a coordinator's answer to message; refused when its writer may not be texted.

    answered_before, when given, is how many answers the coordinator saw already sent: a form
    posted twice (or by two coordinators at once) is refused rather than texted twice.

    The answer is checked and worded as every coordinator's text is (service.campaigns.wording):
    {{ first_name }} and {{ group }}, up to Twilio's 1,600 characters; a WordingError says why
    the words cannot go. A reply has no shorter limit of its own: the coordinator sees its cost
    before it goes, and a long answer is theirs to give.
    """
    check_template(text, meeting=False)
    participant = (
        session.get(Participant, message.participant_id) if message.participant_id else None
    )
    if participant is None:
        raise InboxError(
            said("this person is not a participant (or was erased): there is no one to text")
        )
    if participant.consent is ConsentState.REVOKED:
        raise InboxError(
            said(
                "this person opted out (STOP): Peerline will not text them; "
                "they can text START to hear from us again"
            )
        )
    if participant.consent is not ConsentState.GRANTED:
        raise InboxError(said("this person has not confirmed they want texts (no YES yet)"))
    group = session.get(Group, message.group_id) if message.group_id is not None else None
    membership = (
        session.scalar(
            select(Membership).where(
                Membership.participant_id == participant.id, Membership.group_id == group.id
            )
        )
        if group is not None
        else None
    )
    body = word_for(
        text, group=group, membership=membership, language=participant.language, now=now
    )
    answered = answers(session, message)
    if answered_before is not None and answered != answered_before:
        raise InboxError(said("a reply to this message was already sent; see it in the thread"))
    row = enqueue(
        session,
        send_key=f"inbox:{message.id}:{answered + 1}",
        kind=OutboxKind.ONE_OFF,
        body=body,
        participant=participant,
        group_id=message.group_id,
        now=now,
    )
    if row is None:  # the same key twice in one moment: another reply just went in
        raise InboxError(
            said("another reply to this message was queued at the same moment; try again")
        )
    message.read = True
    return row


# The daily text goes in this window of local hours (the zone of the coordinator's first group):
# from the morning on, so a worker that was down at nine still sends it, never at night.
DAILY_TEXT_HOURS = range(9, 21)


def daily_text_words(waiting: int, link: str | None) -> str:
    """The daily text: a count, never a participant's words or number."""
    count = (
        "1 reply is waiting in Peerline"
        if waiting == 1
        else f"{waiting} replies are waiting in Peerline"
    )
    return f"{count}: {link}" if link else f"{count}."


def daily_texts(session: Session, now: datetime, public_url: str | None = None) -> int:
    """Queue today's text to each coordinator who asked for one and has replies waiting, once a
    local day; return how many were queued. The caller commits."""
    queued = 0
    asked = session.scalars(
        select(Coordinator).where(
            Coordinator.daily_text.is_(True),
            Coordinator.phone.is_not(None),
            Coordinator.disabled.is_(False),
        )
    )
    for coordinator in asked:
        zone = session.scalar(
            select(Group.timezone)
            .where(Group.coordinator_id == coordinator.id)
            .order_by(Group.id)
            .limit(1)
        )
        today = now.astimezone(ZoneInfo(zone or "UTC"))
        if today.hour not in DAILY_TEXT_HOURS or coordinator.daily_text_sent_on == today.date():
            continue
        coordinator.daily_text_sent_on = today.date()  # looked today, whether or not any wait
        waiting = session.scalar(
            select(func.count()).select_from(
                needing_a_human(visible_group_ids(session, coordinator)).order_by(None).subquery()
            )
        )
        if not waiting:
            continue
        row = enqueue(
            session,
            send_key=f"daily:{coordinator.id}:{today.date().isoformat()}",
            kind=OutboxKind.ALERT,
            body=daily_text_words(int(waiting), f"{public_url}/inbox" if public_url else None),
            to_phone=coordinator.phone,
            now=now,
        )
        queued += row is not None
    return queued
