"""What a provider's error says about a person: opted out, a landline, a number that is not valid.

A text that fails because the number is a landline becomes a call where the group allows it,
and the group's coordinator is told either way.
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
    """A text failed because the number is a landline: call instead where the group allows it,
    and tell the group's coordinator either way."""
    if participant.channel is Channel.VOICE:
        return
    groups = [m.group for m in participant.memberships if m.status is not MembershipStatus.LEFT]
    switch = any(group.voice_fallback for group in groups)
    if switch:
        participant.channel = Channel.VOICE
        log.info("%s cannot take texts: switched to calls", mask(participant.phone))
        useful = row is not None and (row.expires_at is None or row.expires_at > moment)
        if row is not None and row.kind is OutboxKind.REMINDER and useful:
            enqueue_call_instead(session, row, moment)
    for group in groups:
        notify_coordinator(session, group, participant, switched=switch, moment=moment)


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
