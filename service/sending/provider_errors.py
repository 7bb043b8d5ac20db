"""What a provider's error says about a person: opted out, a landline, a number that is not valid.

A text that fails because the number is a landline becomes a call in each group that allows it,
and each group's coordinator is told either way.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy.orm import Session

from service.messages.outbox import enqueue
from service.messages.wording import Wording
from service.models import (
    Channel,
    ConsentSource,
    Group,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
)
from service.people import consent
from service.people.participants import first_word, name_in
from service.phones import mask
from service.sending.gateway import INVALID_TO, LANDLINE_OR_UNREACHABLE, NOT_MOBILE, UNSUBSCRIBED

log = logging.getLogger(__name__)


def landline_fallback(
    session: Session, participant: Participant, row: OutboxMessage | None, moment: datetime
) -> None:
    """A text failed because the number is a landline: each group that allows it calls
    instead, and each group's coordinator is told what their group does."""
    texting = [
        m
        for m in participant.memberships
        if m.status is not MembershipStatus.LEFT and m.channel is Channel.SMS
    ]
    switched = [m for m in texting if m.group.voice_fallback]
    for membership in switched:
        membership.channel = Channel.VOICE
    if switched:
        participant.channel = Channel.VOICE  # their number takes calls, not texts
        log.info("%s cannot take texts: switched to calls", mask(participant.phone))
    if row is not None and _call_instead(row, switched, moment):
        enqueue_call_instead(session, row, moment)
    for membership in texting:
        notify_coordinator(
            session, membership.group, participant, switched=membership in switched, moment=moment
        )


def _call_instead(row: OutboxMessage, switched: list[Membership], moment: datetime) -> bool:
    """A reminder that failed as a text, still in time, to a group now calling the person."""
    in_time = row.expires_at is None or row.expires_at > moment
    calling = any(m.group_id == row.group_id for m in switched)
    return row.kind is OutboxKind.REMINDER and in_time and calling


def enqueue_call_instead(session: Session, row: OutboxMessage, moment: datetime) -> None:
    """The same reminder again, as a call, worded when it goes."""
    call = OutboxMessage(
        send_key=f"{row.send_key}:call"[:200],
        kind=row.kind,
        channel=Channel.VOICE,
        participant_id=row.participant_id,
        group_id=row.group_id,
        campaign_id=row.campaign_id,
        occurrence_key=row.occurrence_key,
        body=None if row.campaign_id is not None else row.body,
        state=OutboxState.QUEUED,
        due_at=moment,
        expires_at=row.expires_at,
        created_at=moment,
        updated_at=moment,
    )
    with session.begin_nested():
        session.add(call)


def notify_coordinator(
    session: Session, group: Group, participant: Participant, *, switched: bool, moment: datetime
) -> None:
    """A text to the group's on-call phone, naming the person only by the last digits."""
    if not group.on_call_phone:
        log.warning(
            "%s in %s cannot take texts and %s has no on-call phone to tell",
            mask(participant.phone),
            group.join_code,
            group.join_code,
        )
        return
    wording: Wording = current_app.extensions["peerline.wording"]
    # The group's own name for them: a coordinator learns nothing another group wrote.
    who = first_word(name_in(session, participant.id, group.id)) or "A participant"
    body = wording.render(
        "landline_notice",
        group.language,
        participant=f"{who} ({mask(participant.phone)[-4:]})",
        group=group.public_name,
        switched=switched,
    )
    enqueue(
        session,
        send_key=f"landline:{participant.id}:{group.id}",
        kind=OutboxKind.ALERT,
        body=body,
        group_id=group.id,
        to_phone=group.on_call_phone,
        now=moment,
    )


def apply_error_code(
    session: Session,
    participant: Participant | None,
    code: int | None,
    moment: datetime,
    row: OutboxMessage | None = None,
) -> None:
    """Learn what a provider error says about the person: opted out, a landline, a bad number.

    row is the text that failed, which a landline fallback sends again as a call.
    """
    if participant is None or code is None:
        return
    if code == UNSUBSCRIBED:
        consent.opt_out(
            session,
            participant,
            source=ConsentSource.PROVIDER_ERROR,
            words=f"Twilio error {code}",
            now=moment,
        )
    elif code in (NOT_MOBILE, LANDLINE_OR_UNREACHABLE):
        newly = not participant.landline
        participant.landline = True
        if newly:
            landline_fallback(session, participant, row, moment)
    elif code == INVALID_TO:
        participant.number_invalid = True
        log.warning(
            "participant %s has an invalid number %s", participant.id, mask(participant.phone)
        )
