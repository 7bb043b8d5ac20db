"""Twilio's voice webhooks: reminder calls, their keypad answers, call status, and the IVR line.

Every route checks Twilio's signature. Past that, a caller always hears something sensible:
a missing or odd parameter, an unknown row, a key that is not on the menu, or our own fault
becomes a spoken apology and a goodbye (HTTP 200), never an error page read out by Twilio.
A caller who hangs up mid-menu simply never reaches the next action URL; the call's status
callback still arrives.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import ParamSpec

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from service.campaigns.composer import find_occurrence, next_meeting_for, when_words
from service.campaigns.headcount import record_answer
from service.campaigns.recurrence import Occurrence
from service.clock import app_clock
from service.db import DATABASE_AWAY, get_session
from service.messages.outbox import membership_of
from service.messages.wording import LANGUAGES, Wording
from service.models import (
    Channel,
    ConsentSource,
    ConsentState,
    Group,
    Membership,
    MembershipStatus,
    OutboxMessage,
    Participant,
)
from service.people import consent
from service.people.participants import choose, first_word, joining, name_in
from service.phones import InvalidPhone, mask, normalize, phone_hash
from service.voice.calls import MACHINE, record_call_status
from service.voice.scripts import Scripts
from service.web.journal import REPLAY, Journal, JournalFull
from service.web.webhook import (
    field,
    row_id,
    said,
    settings,
    sid,
    sid_elsewhere,
    signed,
    url_twilio_used,
)

log = logging.getLogger(__name__)

bp = Blueprint("voice", __name__, url_prefix="/twilio/voice")

P = ParamSpec("P")
SILENCE_TRIES = 2  # menus said again after silence before a goodbye
INVALID_TRIES = 3  # ... and after keys that are not on the menu


def scripts() -> Scripts:
    wording: Wording = current_app.extensions["peerline.wording"]
    return Scripts(wording)


def xml(body: str) -> Response:
    return Response(body, mimetype="text/xml")


def spoken(view: Callable[P, Response]) -> Callable[P, Response]:
    """Whatever goes wrong past the signature, the caller hears an apology, not an error."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return view(*args, **kwargs)
        except HTTPException as refused:  # a parameter no call of ours would carry
            log.warning(
                "voice webhook %s refused (%s); the caller hears an apology",
                request.path,
                refused.description,
            )
        except DATABASE_AWAY as error:
            with contextlib.suppress(Exception):
                get_session().rollback()
            if request.environ.get(REPLAY):
                raise  # still away: the replayer tries again later
            return _keep_keypress(error)
        except Exception:
            log.exception("voice webhook %s failed; the caller hears an apology", request.path)
        get_session().rollback()
        return xml(scripts().error(language=_lang()))

    return wrapper


# The keys kept in the journal when the database is away, by route: an answer about a meeting,
# STOP (9), and the second step of joining by keypad. Toggles (channel, language) are not kept:
# replayed twice they would undo themselves; the caller is asked to try again instead.
_KEPT_KEYS = {
    "/twilio/voice/reminder/key": ("1", "2", "9"),
    "/twilio/voice/menu": ("1", "2", "9"),
    "/twilio/voice/join/confirm": ("1",),
}


def _keep_keypress(error: Exception) -> Response:
    """The database cannot take a key: keep it in the journal, and say what we can say."""
    digits, lang = _digits(), _lang()
    if digits not in _KEPT_KEYS.get(request.path, ()):
        log.error(
            "the database is away (%s) on %s: the caller is asked to try again",
            type(error).__name__,
            request.path,
        )
        return xml(scripts().error(language=lang))
    journal: Journal = current_app.extensions["peerline.journal"]
    try:
        entry = journal.append(
            url_twilio_used(),
            request.form,
            request.headers.get("X-Twilio-Signature", ""),
            answered=[],
            now=_now(),
        )
    except (JournalFull, OSError):
        log.critical(
            "key %s on %s is LOST: the database is away and the journal cannot keep it",
            digits,
            request.path,
            exc_info=True,
        )
        return xml(scripts().error(language=lang))
    log.error(
        "the database is away (%s): key %s on %s kept in the journal as %s",
        type(error).__name__,
        digits,
        request.path,
        entry.id,
    )
    journal.replay_in_background(current_app._get_current_object())  # type: ignore[attr-defined]
    return xml(
        scripts().stopped(language=lang) if digits == "9" else scripts().goodbye(language=lang)
    )


def out_of_tries(digits: str, tries: int) -> bool:
    """Whether a menu has been said often enough: twice after silence, three times after
    keys that are not on it; then the caller hears a goodbye."""
    return tries >= (SILENCE_TRIES if digits == "" else INVALID_TRIES)


def _now() -> datetime:
    return app_clock()()


def _lang() -> str:
    lang = request.args.get("lang", "en")
    return lang if lang in LANGUAGES else "en"


def _try() -> int:
    value = request.args.get("try", "1")
    return int(value) if value.isdecimal() and value.isascii() and int(value) < 10 else 1


def _digits() -> str:
    return said("Digits", limit=20)


def _first_name(participant: Participant, group_id: int | None = None) -> str | None:
    """How a call greets them: the group's own name for them, else the one they were given."""
    session = get_session()
    return first_word(name_in(session, participant.id, group_id) or participant.name)


def stop_everything(session: Session, participant: Participant, key: str) -> None:
    consent.opt_out(
        session,
        participant,
        source=ConsentSource.KEYPAD,
        words=f"pressed {key} on a call",
        now=_now(),
    )
    log.info("%s stopped everything by keypad", mask(participant.phone))


# -- a reminder call -------------------------------------------------------------------------


def _call_row(session: Session) -> tuple[OutboxMessage, Participant] | None:
    """The outbox row a reminder call is about, if the request really is about it."""
    named = row_id()
    row = session.get(OutboxMessage, named) if named is not None else None
    if row is None or row.channel is not Channel.VOICE or row.participant_id is None:
        return None
    call_sid = sid("CallSid", "call")
    if row.provider_sid not in (None, call_sid) or sid_elsewhere(session, row, call_sid):
        log.warning("call webhook for outbox %s names another call %s", row.id, call_sid)
        return None
    participant = session.get(Participant, row.participant_id)
    return None if participant is None else (row, participant)


def _as_the_group_reaches(
    session: Session, row: OutboxMessage, participant: Participant
) -> Membership | Participant:
    """The language and zone the call's group speaks to the person in (as its text would)."""
    if row.group_id is None:
        return participant
    return membership_of(session, participant.id, row.group_id) or participant


def _occurrence(session: Session, row: OutboxMessage) -> tuple[Group, Occurrence | None]:
    group = session.get_one(Group, row.group_id)
    return group, find_occurrence(session, group, row.occurrence_key or "")


@bp.post("/reminder")
@signed
@spoken
def reminder() -> Response:
    """Someone, or something, answered a reminder call."""
    session = get_session()
    found = _call_row(session)
    if found is None:
        return xml(scripts().error(language="en"))
    row, participant = found
    reach = _as_the_group_reaches(session, row, participant)
    lang = reach.language
    answered_by = field("AnsweredBy", required=False, limit=32) or None
    row.provider_sid = row.provider_sid or sid("CallSid", "call")
    row.answered_by = answered_by
    group, occurrence = _occurrence(session, row)
    if answered_by is not None and answered_by.startswith(MACHINE):
        when = when_words(reach, lang, occurrence.starts_at, _now()) if occurrence else None
        row.voicemail_left = True
        session.commit()
        wording: Wording = current_app.extensions["peerline.wording"]
        return xml(
            scripts().voicemail(
                language=lang,
                callback_hint=wording.render("voice/callback_hint", lang),
                group=group.public_name,
                location=occurrence.location if occurrence else None,
                meeting_when=when,
                details_allowed=group.voicemail_details,
            )
        )
    session.commit()
    return xml(
        scripts().reminder_call(
            language=lang,
            first_name=_first_name(participant, row.group_id),
            group=group.public_name,
            meeting=row.body or "",
            action=f"/twilio/voice/reminder/key?outbox={row.id}&try=1&lang={lang}",
        )
    )


@bp.post("/reminder/key")
@signed
@spoken
def reminder_key() -> Response:
    """The key pressed at a reminder call's menu (or none, after the Gather timed out)."""
    session = get_session()
    found = _call_row(session)
    if found is None:
        return xml(scripts().error(language="en"))
    row, participant = found
    reach = _as_the_group_reaches(session, row, participant)
    lang, digits, tries = reach.language, _digits(), _try()
    group, occurrence = _occurrence(session, row)
    again = f"/twilio/voice/reminder/key?outbox={row.id}&try={tries + 1}&lang={lang}"
    if digits == "1" and occurrence is not None:
        record_answer(session, participant.id, group.id, occurrence.key, True, _now())
        session.commit()
        when = when_words(reach, lang, occurrence.starts_at, _now())
        return xml(scripts().confirmed(language=lang, group=group.public_name, meeting_when=when))
    if digits == "2" and occurrence is not None:
        record_answer(session, participant.id, group.id, occurrence.key, False, _now())
        session.commit()
        return xml(scripts().declined(language=lang))
    if digits == "9":
        stop_everything(session, participant, digits)
        session.commit()
        return xml(scripts().stopped(language=lang))
    if digits == "3":
        return xml(
            scripts().reminder_menu_again(
                language=lang, meeting=row.body or "", action=again, notice=None
            )
        )
    silent = digits == ""
    if out_of_tries(digits, tries):
        return xml(scripts().goodbye(language=lang))
    return xml(
        scripts().reminder_menu_again(
            language=lang,
            meeting=row.body or "",
            action=again,
            notice="silence" if silent else "invalid",
        )
    )


@bp.post("/status")
@signed
def call_status() -> Response:
    """Twilio's report on a call: ringing, answered, completed, busy, no answer, failed."""
    call_sid = sid("CallSid", "call")
    status = field("CallStatus", limit=32)
    answered_by = field("AnsweredBy", required=False, limit=32) or None
    session = get_session()
    named = row_id()
    row = session.get(OutboxMessage, named) if named is not None else None
    if row is not None and sid_elsewhere(session, row, call_sid):
        log.warning("call status for outbox %s names another call %s", named, call_sid)
        row = None
    if row is None:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.provider_sid == call_sid))
    if row is None or row.channel is not Channel.VOICE:
        log.info("call status %s for unknown call %s; ignored", status, call_sid)
        return Response(status=200)
    if record_call_status(
        row,
        sid=call_sid,
        status=status,
        answered_by=answered_by,
        settings=settings(),
        moment=_now(),
    ):
        session.commit()
    return Response(status=200)


# -- the IVR line ----------------------------------------------------------------------------


def _caller(session: Session) -> tuple[str | None, Participant | None]:
    """The caller's number (None if withheld or unreadable) and who they are, if we know."""
    try:
        number = normalize(request.form.get("From", ""), settings().default_region)
    except InvalidPhone:
        return None, None
    return number, session.scalar(select(Participant).where(Participant.phone == number))


def _caller_menu(
    session: Session, participant: Participant, lang: str, tries: int, notice: str | None
) -> Response:
    upcoming = next_meeting_for(session, participant, _now())
    sentence = None
    if upcoming is not None:
        group, occurrence = upcoming
        wording: Wording = current_app.extensions["peerline.wording"]
        sentence = wording.render(
            "voice/next_meeting",
            lang,
            group=group.public_name,
            when=when_words(participant, lang, occurrence.starts_at, _now()),
            location=occurrence.location,
        )
    return xml(
        scripts().caller_menu(
            language=lang,
            first_name=_first_name(participant),
            next_meeting=sentence,
            channel=participant.channel.value,
            action=f"/twilio/voice/menu?lang={lang}&try={tries}",
            notice="silence" if notice == "silence" else "invalid" if notice else None,
        )
    )


@bp.post("")
@signed
@spoken
def incoming_call() -> Response:
    """Someone called Peerline's number."""
    session = get_session()
    number, participant = _caller(session)
    if participant is None:
        lang = _lang()
        if number is None:
            return xml(scripts().help_by_text(language=lang))
        return xml(
            scripts().stranger_menu(language=lang, action=f"/twilio/voice/join?lang={lang}&try=1")
        )
    if participant.consent is ConsentState.REVOKED:
        return xml(scripts().not_subscribed(language=participant.language))
    return _caller_menu(session, participant, participant.language, 1, None)


@bp.post("/menu")
@signed
@spoken
def caller_menu() -> Response:
    """A known caller's choice."""
    session = get_session()
    _, participant = _caller(session)
    lang, digits, tries = _lang(), _digits(), _try()
    if participant is None or participant.consent is ConsentState.REVOKED:
        return xml(scripts().error(language=lang))
    upcoming = next_meeting_for(session, participant, _now())
    if digits in ("1", "2") and upcoming is not None:
        group, occurrence = upcoming
        record_answer(session, participant.id, group.id, occurrence.key, digits == "1", _now())
        session.commit()
        if digits == "1":
            when = when_words(participant, lang, occurrence.starts_at, _now())
            return xml(
                scripts().confirmed(language=lang, group=group.public_name, meeting_when=when)
            )
        return xml(scripts().attendance_cancelled(language=lang))
    if digits == "8":
        # The person's own choice: it holds in every group they are in.
        choose(
            participant,
            channel=Channel.SMS if participant.channel is Channel.VOICE else Channel.VOICE,
        )
        session.commit()
        return xml(scripts().switched(language=lang, channel=participant.channel.value))
    if digits == "9":
        stop_everything(session, participant, digits)
        session.commit()
        return xml(scripts().stopped(language=lang))
    if digits == "4":
        other = "es" if lang == "en" else "en"
        choose(participant, language=other)  # for texts and calls, in every group
        session.commit()
        return _caller_menu(session, participant, other, 1, None)
    silent = digits == ""
    if out_of_tries(digits, tries):
        return xml(scripts().goodbye(language=lang))
    return _caller_menu(session, participant, lang, tries + 1, "silence" if silent else "invalid")


@bp.post("/join")
@signed
@spoken
def join() -> Response:
    """An unknown caller typed a join code (ended with #), * for help, or 4 for the language."""
    session = get_session()
    lang, digits, tries = _lang(), _digits().rstrip("#"), _try()
    number, _ = _caller(session)
    if digits == "*" or number is None:
        return xml(scripts().help_by_text(language=lang))
    if digits == "4":
        other = "es" if lang == "en" else "en"
        return xml(
            scripts().stranger_menu(language=other, action=f"/twilio/voice/join?lang={other}&try=1")
        )
    retry = f"/twilio/voice/join?lang={lang}&try={tries + 1}"
    group = (
        session.scalar(select(Group).where(Group.keypad_code == digits))
        if digits.isdigit()
        else None
    )
    if group is None:
        if out_of_tries(digits, tries):
            return xml(scripts().goodbye(language=lang))
        if digits == "":
            return xml(scripts().stranger_menu(language=lang, action=retry))
        return xml(scripts().unknown_code(language=lang, action=retry))
    return xml(
        scripts().join_confirm(
            language=lang,
            group=group.public_name,
            action=f"/twilio/voice/join/confirm?group={group.id}&lang={lang}&try=1",
        )
    )


@bp.post("/join/confirm")
@signed
@spoken
def join_confirm() -> Response:
    """1 confirms joining (the second step of a keypad opt-in), 2 cancels."""
    session = get_session()
    lang, digits, tries = _lang(), _digits(), _try()
    group_id = row_id("group")
    group = session.get(Group, group_id) if group_id is not None else None
    number, participant = _caller(session)
    if group is None or number is None:
        return xml(scripts().error(language=lang))
    if digits == "2":
        return xml(scripts().goodbye(language=lang))
    if digits != "1":
        if out_of_tries(digits, tries):
            return xml(scripts().goodbye(language=lang))
        return xml(
            scripts().join_confirm(
                language=lang,
                group=group.public_name,
                action=f"/twilio/voice/join/confirm?group={group.id}&lang={lang}&try={tries + 1}",
            )
        )
    moment = _now()
    if participant is None:
        participant = Participant(
            phone=number,
            phone_hash=phone_hash(number, settings().secret_key),
            language=lang,
            timezone=group.timezone,
            channel=Channel.VOICE,  # they chose the phone: reminders come as calls
            created_at=moment,
        )
        session.add(participant)
        session.flush()
    consent.opt_in(
        session,
        participant,
        source=ConsentSource.KEYPAD,
        words=f"typed {group.join_code}'s keypad code and pressed 1",
        now=moment,
        group_id=group.id,
    )
    membership = session.scalar(
        select(Membership).where(
            Membership.participant_id == participant.id, Membership.group_id == group.id
        )
    )
    if membership is None:
        membership = joining(participant, group.id, now=moment)
        session.add(membership)
    membership.status = MembershipStatus.ACTIVE
    membership.updated_at = moment
    session.commit()
    log.info("%s joined %s by keypad", mask(number), group.join_code)
    return xml(scripts().joined(language=participant.language, group=group.public_name))
