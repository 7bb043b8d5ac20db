"""What Peerline does with a text a participant sends: consent, joining, help, the inbox.

A text that may ask to stop everything but cannot be told (``Intent.MAYBE_OPT_OUT``) changes
nothing by itself: it goes to the inbox marked with its intent, and its writer is told, in
their language, that a person will read it and that STOP ends all texts and calls. It never
gets the "we got your message" acknowledgement, which would suggest nothing else is needed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, joinedload

from service.campaigns.composer import Meetings, next_meeting_for, when_words
from service.campaigns.headcount import record_answer
from service.campaigns.recurrence import Occurrence
from service.conversation.keywords import DEFAULT_CRISIS_WORDS, Intent, Reading, read_message
from service.messages.outbox import enqueue, withdraw
from service.messages.wording import Wording
from service.models import (
    ConsentSource,
    ConsentState,
    Group,
    InboundMessage,
    MeetingSchedule,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
)
from service.people import consent
from service.people.participants import first_word, joining
from service.phones import mask, phone_hash

log = logging.getLogger(__name__)

# A PAUSE without a number lasts until RESUME.
INDEFINITELY = timedelta(days=365 * 100)
# A C or N answers the last reminder sent this recently (its meeting not yet over).
REMINDED_WITHIN = timedelta(days=8)

# Twilio's Advanced Opt-Out already answered these; we only record what changed.
_ADVANCED_OPT_OUT = {"STOP": Intent.OPT_OUT, "START": Intent.OPT_IN, "HELP": Intent.HELP}


@dataclass(frozen=True)
class IncomingText:
    message_sid: str
    from_phone: str
    body: str
    opt_out_type: str | None = None  # set by Twilio's Advanced Opt-Out
    # The replies it already got (while the database was away): recorded instead of new ones.
    answered: tuple[str, ...] | None = None


@dataclass
class Outcome:
    """What handling one text decided: the replies for the TwiML answer."""

    replies: list[str] = field(default_factory=list)


@dataclass
class Conversation:
    """Handles incoming texts; one instance per request, holding its session and settings."""

    session: Session
    wording: Wording
    hash_key: str
    now: datetime
    crisis_words: tuple[str, ...] | None = None  # None: the keyword engine's own list
    public_url: str | None = None  # the dashboard's address, for the link in an on-call alert

    def handle(self, text: IncomingText, *, seen_before: bool = True) -> Outcome:
        """Act on one incoming text and decide the replies; the caller commits.

        seen_before=False skips asking whether the MessageSid was handled already: the caller
        then relies on the unique MessageSid, rolling back and asking again (with True) when
        the commit clashes. A text is nearly always new, so the usual text costs one query less.
        """
        if seen_before and self._seen(text.message_sid):
            log.info("message %s was handled already; ignoring the replay", text.message_sid)
            return Outcome()

        reading = read_message(text.body, self.crisis_words or DEFAULT_CRISIS_WORDS)
        managed = _ADVANCED_OPT_OUT.get((text.opt_out_type or "").upper())
        if managed is not None:
            reading = Reading(managed, language=reading.language, crisis=reading.crisis)
        # The person with their memberships and groups, in one query: every branch below reads
        # them, and reading them one by one costs a round trip each; an answer about a meeting
        # reads the groups' schedules and their changes too.
        groups = joinedload(Participant.memberships).joinedload(Membership.group)
        if reading.intent in (Intent.CONFIRM, Intent.DECLINE):
            groups = groups.joinedload(Group.schedule).joinedload(MeetingSchedule.changes)
        participant = (
            self.session.scalars(
                select(Participant).where(Participant.phone == text.from_phone).options(groups)
            )
            .unique()
            .one_or_none()
        )
        language = participant.language if participant else (reading.language or "en")
        inbound = InboundMessage(
            message_sid=text.message_sid,
            participant_id=participant.id if participant else None,
            from_phone=text.from_phone,
            body=text.body,
            intent=reading.intent.value,
            # The on-call alert sends a coordinator to the inbox, whatever else the text did.
            needs_reply=reading.crisis,
            urgent=reading.crisis,
            received_at=self.now,
        )

        outcome = Outcome()
        if participant is None:
            participant = self._from_stranger(text, reading, language, inbound, outcome)
        else:
            self._from_participant(participant, text, reading, inbound, outcome)
        # Added once what it records is decided, so that it is written by one INSERT.
        self.session.add(inbound)
        if managed is not None:
            # Twilio already answered; a second reply would be a duplicate confirmation.
            outcome.replies.clear()
        if reading.crisis:
            lang = participant.language if participant else language
            outcome.replies.insert(0, self._say("crisis", lang))
            if participant is not None:
                self._alert_coordinators(participant, inbound)

        self.session.flush()
        sent = outcome.replies if text.answered is None else list(text.answered)
        for n, reply in enumerate(sent):
            enqueue(
                self.session,
                send_key=f"reply:{text.message_sid}:{n}",
                kind=OutboxKind.REPLY,
                body=reply,
                participant=participant,
                to_phone=text.from_phone,
                now=self.now,
                state=OutboxState.SENT,
                new_key=True,  # the MessageSid is unique: no other text's replies share it
            )
        log.info(
            "text %s from %s read as %s%s",
            text.message_sid,
            mask(text.from_phone),
            reading.intent.value,
            " (urgent)" if reading.crisis else "",
        )
        return outcome

    # -- strangers -----------------------------------------------------------------------------

    def _from_stranger(
        self,
        text: IncomingText,
        reading: Reading,
        language: str,
        inbound: InboundMessage,
        outcome: Outcome,
    ) -> Participant | None:
        """Answer a number we do not know; only JOIN (or a code) enrols it."""
        hashed = phone_hash(text.from_phone, self.hash_key)
        if reading.intent is Intent.OPT_OUT:
            if consent.opt_out_stranger(
                self.session, hashed, source=ConsentSource.KEYWORD, words=text.body, now=self.now
            ):
                outcome.replies.append(self._say("opted_out", language))
            return None
        if reading.intent is Intent.MAYBE_OPT_OUT:
            # Nobody texts a stranger, but an admin should see that someone may want us to stop.
            inbound.needs_reply = True
            if not reading.crisis:
                outcome.replies.append(self._say("maybe_stop", language))
            return None
        group = self._group_for_join(reading)
        if group is None:
            if reading.intent is Intent.JOIN and reading.code:
                outcome.replies.append(self._say("unknown_code", language, code=reading.code))
            elif not reading.crisis:
                outcome.replies.append(self._say("help", language))
            return None
        # A group's language answers its JOIN (JOIN is the keyword every poster shows); words
        # in Spanish are answered in Spanish whatever the group.
        spoken = reading.language if reading.language not in (None, "en") else None
        participant = Participant(
            phone=text.from_phone,
            phone_hash=hashed,
            language=spoken or group.language,
            timezone=group.timezone,
            created_at=self.now,
        )
        if consent.revoked_hash(self.session, hashed):
            # They stopped us before we knew them; asking to join is a new request, not consent.
            participant.consent = ConsentState.REVOKED
        self.session.add(participant)
        self.session.flush()
        inbound.participant_id = participant.id
        inbound.group_id = group.id
        self._join(participant, group, outcome)
        return participant

    # -- participants --------------------------------------------------------------------------

    def _from_participant(
        self,
        participant: Participant,
        text: IncomingText,
        reading: Reading,
        inbound: InboundMessage,
        outcome: Outcome,
    ) -> None:
        lang = participant.language
        inbound.group_id = self._home_group_id(participant)
        intent = reading.intent

        if intent is Intent.OPT_OUT:
            if consent.opt_out(
                self.session,
                participant,
                source=ConsentSource.KEYWORD,
                words=text.body,
                now=self.now,
            ):
                outcome.replies.append(self._say("opted_out", lang))
            return
        if intent is Intent.YES:
            pending = self._memberships(participant, MembershipStatus.PENDING)
            if pending:
                self._confirm(participant, pending, text.body, outcome)
                return
            if participant.consent is not ConsentState.GRANTED:
                intent = Intent.OPT_IN
        if intent is Intent.OPT_IN:
            if consent.opt_in(
                self.session,
                participant,
                source=ConsentSource.KEYWORD,
                words=text.body,
                now=self.now,
            ):
                active = self._memberships(participant, MembershipStatus.ACTIVE)
                groups = ", ".join(m.group.public_name for m in active)
                outcome.replies.append(self._say("opted_in", lang, groups=groups))
            else:
                outcome.replies.append(self._say("already_subscribed", lang))
            return
        if intent is Intent.HELP:
            outcome.replies.append(self._say("help", lang))
            return
        if intent is Intent.JOIN or (intent is Intent.MESSAGE and reading.code):
            group = self._group_for_join(reading)
            if group is not None:
                inbound.group_id = group.id
                self._join(participant, group, outcome)
                return
            if intent is Intent.JOIN:
                outcome.replies.append(self._say("unknown_code", lang, code=reading.code))
                return
        if intent is Intent.LEAVE:
            self._leave(participant, reading.code, outcome)
            return
        if intent in (Intent.CONFIRM, Intent.DECLINE):
            self._rsvp(participant, intent is Intent.CONFIRM, outcome)
            return
        if intent is Intent.PAUSE:
            self._pause(participant, reading.weeks, outcome)
            return
        if intent is Intent.RESUME:
            participant.encouragement_paused_until = None
            outcome.replies.append(self._say("resumed", lang))
            return
        if intent is Intent.MAYBE_OPT_OUT:
            self._maybe_opt_out(participant, inbound, outcome)
            return
        self._to_inbox(participant, inbound, outcome)

    def _rsvp(self, participant: Participant, coming: bool, outcome: Outcome) -> None:
        """Record attendance for the meeting the person was last reminded of, if it is not over;
        else for their next meeting, in whichever group meets first."""
        upcoming = self._reminded_of(participant) or next_meeting_for(
            self.session, participant, self.now
        )
        if upcoming is None:
            outcome.replies.append(self._say("no_meeting", participant.language))
            return
        group, occurrence = upcoming
        record_answer(self.session, participant.id, group.id, occurrence.key, coming, self.now)
        # Said as the group's reminder said it: its language, its zone for the person.
        reach = next((m for m in participant.memberships if m.group_id == group.id), participant)
        when = when_words(reach, reach.language, occurrence.starts_at, self.now)
        name = "rsvp_confirmed" if coming else "rsvp_declined"
        outcome.replies.append(self._say(name, reach.language, group=group.public_name, when=when))

    def _reminded_of(self, participant: Participant) -> tuple[Group, Occurrence] | None:
        """The meeting of the last reminder that went to someone in several groups, if it is not
        over: a C to one group's reminder answers that group, whichever meets first. Someone in
        one group has one next meeting, and costs no query."""
        active = {
            m.group_id: m.group
            for m in participant.memberships
            if m.status is MembershipStatus.ACTIVE
        }
        if len(active) < 2:
            return None
        last = self.session.execute(
            select(OutboxMessage.group_id, OutboxMessage.occurrence_key)
            .where(
                OutboxMessage.participant_id == participant.id,
                OutboxMessage.kind == OutboxKind.REMINDER,
                OutboxMessage.sent_at.is_not(None),
                OutboxMessage.sent_at > self.now - REMINDED_WITHIN,
            )
            .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
            .limit(1)
        ).first()
        if last is None or last.group_id not in active or last.occurrence_key is None:
            return None
        group = active[last.group_id]
        occurrence = Meetings(self.session).find(group, last.occurrence_key)
        if occurrence is None or occurrence.cancelled or occurrence.ends_at <= self.now:
            return None
        return group, occurrence

    def _pause(self, participant: Participant, weeks: int | None, outcome: Outcome) -> None:
        """Stop encouragement (never reminders) for some weeks, or until RESUME."""
        until = self.now + timedelta(weeks=weeks) if weeks else None
        participant.encouragement_paused_until = until or self.now + INDEFINITELY
        withdraw(
            self.session,
            and_(
                OutboxMessage.participant_id == participant.id,
                OutboxMessage.kind == OutboxKind.ENCOURAGEMENT,
            ),
            "paused by participant",
            self.now,
        )
        shown = (
            format_date(
                until.astimezone(ZoneInfo(participant.timezone)),
                "long",
                locale=participant.language,
            )
            if until
            else None
        )
        outcome.replies.append(self._say("paused", participant.language, until=shown))

    def _join(self, participant: Participant, group: Group, outcome: Outcome) -> None:
        membership = self.session.scalar(
            select(Membership).where(
                Membership.participant_id == participant.id, Membership.group_id == group.id
            )
        )
        if membership is None:
            membership = joining(participant, group.id, now=self.now)
            self.session.add(membership)
        lang = participant.language
        if (
            membership.status is MembershipStatus.ACTIVE
            and participant.consent is ConsentState.GRANTED
        ):
            outcome.replies.append(self._say("already_member", lang, group=group.public_name))
            return
        membership.status = MembershipStatus.PENDING
        membership.updated_at = self.now
        outcome.replies.append(self._say("join_pending", lang, group=group.public_name))

    def _confirm(
        self,
        participant: Participant,
        pending: list[Membership],
        words: str,
        outcome: Outcome,
    ) -> None:
        consent.opt_in(
            self.session,
            participant,
            source=ConsentSource.KEYWORD,
            words=words,
            now=self.now,
            group_id=pending[0].group_id if len(pending) == 1 else None,
        )
        for membership in pending:
            membership.status = MembershipStatus.ACTIVE
            membership.updated_at = self.now
        names = ", ".join(m.group.public_name for m in pending)
        outcome.replies.append(self._say("join_confirmed", participant.language, group=names))

    def _leave(self, participant: Participant, code: str | None, outcome: Outcome) -> None:
        lang = participant.language
        current = [
            m
            for m in participant.memberships
            if m.status in (MembershipStatus.ACTIVE, MembershipStatus.PENDING)
        ]
        if code is None:
            if len(current) != 1:
                choices = ", ".join(f"{m.group.join_code} ({m.group.public_name})" for m in current)
                outcome.replies.append(
                    self._say("leave_which", lang, choices=choices)
                    if current
                    else self._say("not_member", lang, code=None)
                )
                return
            leaving = current[0]
        else:
            match = [m for m in current if m.group.join_code == code]
            if not match:
                outcome.replies.append(self._say("not_member", lang, code=code))
                return
            leaving = match[0]
        leaving.status = MembershipStatus.LEFT
        leaving.updated_at = self.now
        others = len(current) > 1
        outcome.replies.append(
            self._say("left", lang, group=leaving.group.public_name, others=others)
        )

    def _maybe_opt_out(
        self, participant: Participant, inbound: InboundMessage, outcome: Outcome
    ) -> None:
        """Put a text that may ask to stop before a person; tell its writer how to stop for sure.

        Consent is unchanged. The answer goes every time, not once a day like the
        acknowledgement: it is the one way the writer learns that nothing has stopped yet.
        """
        inbound.needs_reply = True
        if participant.consent is ConsentState.REVOKED or inbound.urgent:
            return  # no automatic words to someone who stopped us; the crisis reply says enough
        outcome.replies.append(self._say("maybe_stop", participant.language))

    def _to_inbox(
        self, participant: Participant, inbound: InboundMessage, outcome: Outcome
    ) -> None:
        inbound.needs_reply = True
        if participant.consent is ConsentState.REVOKED or inbound.urgent:
            return  # no automatic words to someone who stopped us; the crisis reply says enough
        if self._acknowledged_today(participant):
            return
        inbound.auto_acknowledged = True
        outcome.replies.append(self._say("acknowledged", participant.language))

    # -- helpers -------------------------------------------------------------------------------

    def _say(self, name: str, language: str, **variables: object) -> str:
        return self.wording.render(name, language, **variables)

    def _seen(self, message_sid: str) -> bool:
        found = self.session.scalar(
            select(InboundMessage.id).where(InboundMessage.message_sid == message_sid)
        )
        return found is not None

    def _group_for_join(self, reading: Reading) -> Group | None:
        if reading.code is None or reading.intent not in (Intent.JOIN, Intent.MESSAGE):
            return None
        return self.session.scalar(select(Group).where(Group.join_code == reading.code))

    def _memberships(self, participant: Participant, status: MembershipStatus) -> list[Membership]:
        return [m for m in participant.memberships if m.status is status]

    def _home_group_id(self, participant: Participant) -> int | None:
        ranked = sorted(
            participant.memberships,
            key=lambda m: (m.status is not MembershipStatus.ACTIVE, -m.updated_at.timestamp()),
        )
        return ranked[0].group_id if ranked else None

    def _acknowledged_today(self, participant: Participant) -> bool:
        zone = ZoneInfo(participant.timezone)
        local = self.now.astimezone(zone)
        start_of_day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        count = self.session.scalar(
            select(func.count())
            .select_from(InboundMessage)
            .where(
                InboundMessage.participant_id == participant.id,
                InboundMessage.auto_acknowledged.is_(True),
                InboundMessage.received_at >= start_of_day,
            )
        )
        return bool(count)

    def _alert_coordinators(self, participant: Participant, inbound: InboundMessage) -> None:
        """Queue a text to the on-call phone of each of the person's groups that has one.

        It names the person by first name only and links to the message's page: neither their
        words nor their number go out on a lock screen.
        """
        self.session.flush()  # the message's id, for its link
        for membership in participant.memberships:
            group = membership.group
            if membership.status is MembershipStatus.LEFT or not group.on_call_phone:
                continue
            local = self.now.astimezone(ZoneInfo(group.timezone))
            who = first_word(membership.name) or "a participant"  # this group's own name
            # The message is filed under one group; the others' coordinators find it in their
            # inbox only if it is theirs to see.
            page = f"/inbox/{inbound.id}" if inbound.group_id == group.id else "/inbox"
            body = self._say(
                "coordinator_alert",
                group.language,
                participant=who,
                group=group.public_name,
                time=format_time(local, format="short", locale=group.language),
                link=f"{self.public_url}{page}" if self.public_url else None,
            )
            enqueue(
                self.session,
                send_key=f"alert:{inbound.message_sid}:{group.id}",
                kind=OutboxKind.ALERT,
                body=body,
                group_id=group.id,
                to_phone=group.on_call_phone,
                now=self.now,
            )


def answer_without_database(
    body: str, wording: Wording, crisis_words: tuple[str, ...] | None = None
) -> list[str]:
    """The replies a text gets from its words alone, while the database is away.

    A crisis gets its resources, STOP and START their confirmations and HELP its answer, in
    the language the words were written in; a text that may ask to stop is told how to stop
    for sure; anything else is told it arrived. What the text changes (consent, an answer
    about a meeting, its place in the inbox) is done when the text is replayed.
    """
    reading = read_message(body, crisis_words or DEFAULT_CRISIS_WORDS)
    language = reading.language or "en"
    replies = [wording.render("crisis", language)] if reading.crisis else []
    said = {
        Intent.OPT_OUT: "opted_out",
        Intent.OPT_IN: "opted_in",
        Intent.HELP: "help",
        Intent.MAYBE_OPT_OUT: "maybe_stop",
    }.get(reading.intent, "received")
    replies.append(wording.render(said, language, groups=None))
    return replies
