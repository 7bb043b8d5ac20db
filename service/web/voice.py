"""Twilio's voice webhooks: reminder calls, calls with encouragement or a broadcast, their keypad
answers, call status, and the IVR line.

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
    OutboxKind,
    OutboxMessage,
    Participant,
)
from service.people import consent
from service.people.participants import choose, first_word, name_in
from service.phones import InvalidPhone, mask, normalize, phone_hash
from service.voice.calls import BETWEEN_MEETINGS, MACHINE, messages_left, record_call_status
from service.voice.joining import ask_by_call_back, decline_join, join_by_keypad, pending_join
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


REMINDER_KEY, MENU, JOIN = "/twilio/voice/reminder/key", "/twilio/voice/menu", "/twilio/voice/join"
JOIN_CONFIRM, CALL_BACK_KEY = "/twilio/voice/join/confirm", "/twilio/voice/call-back/key"
MESSAGE_KEY = "/twilio/voice/message/key"
# How often a message between meetings is said on one call, the first time included.
MESSAGE_PLAYS = 3


def _heard_while_away(digits: str, lang: str) -> str | None:
    """What the caller hears for a key the journal keeps while the database is away; None for a
    key it cannot keep (they are asked to try again).

    A kept key means the same however often it is replayed: an answer about a meeting, STOP (9),
    a join confirmed or declined, the channel chosen (8: the menu's URL names the channel it
    offered to leave, so the key means "the other one", never "toggle"), the language chosen (4:
    the other of the menu's), and a group's keypad code (replayed, it asks the caller to confirm
    by a call back). The words need no database; the change is made when the key is replayed.
    """
    say, path = scripts(), request.path
    if path in (REMINDER_KEY, MENU, MESSAGE_KEY) and digits == "9":
        return say.stopped(language=lang)
    if path in (REMINDER_KEY, MENU) and digits in ("1", "2"):
        return say.goodbye(language=lang)
    if path == MENU and digits == "8":
        offered = _offered_channel()
        chosen = _other_channel(offered) if offered else None
        return say.switched(language=lang, channel=chosen.value) if chosen else None
    if path == MENU and digits == "4":
        return say.language_switched(language=_other_language(lang))
    if path == JOIN and _is_code(digits.rstrip("#")):
        return say.code_kept(language=lang)
    if (path == JOIN_CONFIRM and digits == "1") or (path == CALL_BACK_KEY and digits in ("1", "2")):
        return say.goodbye(language=lang)
    return None


def _keep_keypress(error: Exception) -> Response:
    """The database cannot take a key: keep it in the journal, and say what we can say."""
    digits, lang = _digits(), _lang()
    heard = _heard_while_away(digits, lang)
    if heard is None:
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
            "a key on %s is LOST: the database is away and the journal cannot keep it",
            request.path,
            exc_info=True,
        )
        return xml(scripts().error(language=lang))
    log.error(
        "the database is away (%s): a key on %s kept in the journal as %s",
        type(error).__name__,
        request.path,
        entry.id,
    )
    journal.replay_in_background(current_app._get_current_object())  # type: ignore[attr-defined]
    return xml(heard)


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


def _is_code(digits: str) -> bool:
    """Whether keys typed at the stranger's prompt can be a group's keypad code."""
    return digits.isascii() and digits.isdigit()


def _other_language(lang: str) -> str:
    return "es" if lang == "en" else "en"


def _offered_channel() -> Channel | None:
    """The channel a caller's menu offered to switch from, as its URL says; None if it says none."""
    value = request.args.get("channel", "")
    return Channel(value) if value in (Channel.SMS, Channel.VOICE) else None


def _other_channel(channel: Channel) -> Channel:
    return Channel.SMS if channel is Channel.VOICE else Channel.VOICE


def _first_name(participant: Participant, group_id: int | None = None) -> str | None:
    """How a call greets them: a group's call, by the group's own name for them (never
    another group's); their own call to us, by the name they were first given."""
    if group_id is None:
        return first_word(participant.name)
    return first_word(name_in(get_session(), participant.id, group_id))


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


def _answered_by_a_machine(row: OutboxMessage) -> bool:
    """Note on the row who answered its call; True (a voicemail is left) for a machine."""
    answered_by = field("AnsweredBy", required=False, limit=32) or None
    row.provider_sid = row.provider_sid or sid("CallSid", "call")
    row.answered_by = answered_by
    machine = answered_by is not None and answered_by.startswith(MACHINE)
    if machine:
        row.voicemail_left = True
    return machine


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
    group, occurrence = _occurrence(session, row)
    if _answered_by_a_machine(row):
        when = when_words(reach, lang, occurrence.starts_at, _now()) if occurrence else None
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


# -- a message between meetings: encouragement or a broadcast, to someone who takes calls ------


def _message_row(session: Session) -> tuple[OutboxMessage, Participant, Group] | None:
    found = _call_row(session)
    if found is None or found[0].kind not in BETWEEN_MEETINGS or found[0].group_id is None:
        return None
    row, participant = found
    return row, participant, session.get_one(Group, row.group_id)


@bp.post("/message")
@signed
@spoken
def message() -> Response:
    """Someone, or something, answered a call that brings encouragement or a broadcast."""
    session = get_session()
    found = _message_row(session)
    if found is None:
        return xml(scripts().error(language="en"))
    row, participant, group = found
    lang = _as_the_group_reaches(session, row, participant).language
    if _answered_by_a_machine(row):
        session.commit()
        wording: Wording = current_app.extensions["peerline.wording"]
        return xml(
            scripts().message_voicemail(
                language=lang,
                callback_hint=wording.render("voice/callback_hint", lang),
                group=group.public_name,
                message=row.body or "",
                details_allowed=group.voicemail_details,
            )
        )
    session.commit()
    return xml(
        scripts().message_call(
            language=lang,
            first_name=_first_name(participant, row.group_id),
            group=group.public_name,
            message=row.body or "",
            action=f"{MESSAGE_KEY}?outbox={row.id}&try=1&lang={lang}",
        )
    )


@bp.post("/message/key")
@signed
@spoken
def message_key() -> Response:
    """1 says the message again (a few times at most), 9 stops everything; else goodbye."""
    session = get_session()
    found = _message_row(session)
    if found is None:
        return xml(scripts().error(language=_lang()))
    row, participant, _ = found
    lang = _as_the_group_reaches(session, row, participant).language
    digits, tries = _digits(), _try()
    if digits == "9":
        stop_everything(session, participant, digits)
        session.commit()
        return xml(scripts().stopped(language=lang))
    if digits == "1" and tries < MESSAGE_PLAYS:
        return xml(
            scripts().message_again(
                language=lang,
                message=row.body or "",
                action=f"{MESSAGE_KEY}?outbox={row.id}&try={tries + 1}&lang={lang}",
            )
        )
    return xml(scripts().goodbye(language=lang))


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


def _caller_number() -> str | None:
    """The caller's number; None if withheld or unreadable."""
    try:
        return normalize(request.form.get("From", ""), settings().default_region)
    except InvalidPhone:
        return None


def _caller(session: Session) -> tuple[str | None, Participant | None]:
    """The caller's number (None if withheld or unreadable) and who they are, if we know."""
    number = _caller_number()
    if number is None:
        return None, None
    return number, session.scalar(select(Participant).where(Participant.phone == number))


def _caller_menu(
    session: Session,
    participant: Participant,
    lang: str,
    tries: int,
    notice: str | None,
    *,
    greeting: bool = False,
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
    channel = participant.channel.value
    return xml(
        scripts().caller_menu(
            language=lang,
            first_name=_first_name(participant),
            next_meeting=sentence,
            channel=channel,
            action=f"/twilio/voice/menu?lang={lang}&try={tries}&channel={channel}",
            notice="silence" if notice == "silence" else "invalid" if notice else None,
            # Said once, as the call begins: what a voicemail told them to call back for.
            left=messages_left(session, participant.id, _now()) if greeting else (),
        )
    )


def _join_confirm(lang: str, group: Group, tries: int) -> Response:
    return xml(
        scripts().join_confirm(
            language=lang,
            group=group.public_name,
            action=f"/twilio/voice/join/confirm?group={group.id}&lang={lang}&try={tries}",
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
    pending = pending_join(participant)
    if pending is not None:  # a join they have not confirmed yet (by text, say): this call can
        return _join_confirm(pending.language, pending.group, 1)
    return _caller_menu(session, participant, participant.language, 1, None, greeting=True)


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
        # The other channel than the one the menu offered to leave: the same key, twice (a
        # replay, a retry), makes the same choice. The person's own: it holds in every group.
        choose(participant, channel=_other_channel(_offered_channel() or participant.channel))
        session.commit()
        return xml(scripts().switched(language=lang, channel=participant.channel.value))
    if digits == "9":
        stop_everything(session, participant, digits)
        session.commit()
        return xml(scripts().stopped(language=lang))
    if digits == "4":
        other = _other_language(lang)
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
    """An unknown caller typed a join code (ended with #), * for help, or 4 for the language.

    Only a code needs the database; when it is away, the code is kept and, replayed, asks the
    caller to confirm by a call back (see service.voice.joining).
    """
    lang, digits, tries = _lang(), _digits().rstrip("#"), _try()
    number = _caller_number()
    if digits == "*" or number is None:
        return xml(scripts().help_by_text(language=lang))
    if digits == "4":
        other = _other_language(lang)
        return xml(
            scripts().stranger_menu(language=other, action=f"/twilio/voice/join?lang={other}&try=1")
        )
    session = get_session()
    if request.environ.get(REPLAY):
        return _call_back_later(session, number, digits, lang)
    retry = f"/twilio/voice/join?lang={lang}&try={tries + 1}"
    group = (
        session.scalar(select(Group).where(Group.keypad_code == digits))
        if _is_code(digits)
        else None
    )
    if group is None:
        if out_of_tries(digits, tries):
            return xml(scripts().goodbye(language=lang))
        if digits == "":
            return xml(scripts().stranger_menu(language=lang, action=retry))
        return xml(scripts().unknown_code(language=lang, action=retry))
    return _join_confirm(lang, group, 1)


def _call_back_later(session: Session, number: str, digits: str, lang: str) -> Response:
    """A code kept while the database was away, replayed: the caller has hung up, so a pending
    join and a call back to ask them, once."""
    group = session.scalar(select(Group).where(Group.keypad_code == digits))
    if group is None:
        log.info("%s typed, while the database was away, a code of no group", mask(number))
        return xml(scripts().goodbye(language=lang))
    row = ask_by_call_back(
        session,
        phone=number,
        phone_hash=phone_hash(number, settings().secret_key),
        group=group,
        language=lang,
        call_sid=sid("CallSid", "call"),
        wording=current_app.extensions["peerline.wording"],
        now=_now(),
    )
    session.commit()
    if row is not None:
        log.info(
            "%s typed %s's code while we were away: calling back", mask(number), group.join_code
        )
    return xml(scripts().goodbye(language=lang))


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
        return _join_confirm(lang, group, tries + 1)
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
    join_by_keypad(
        session,
        participant,
        group,
        words=f"typed {group.join_code}'s keypad code and pressed 1",
        now=moment,
    )
    channel = _reached_by(session, participant, group)
    session.commit()
    log.info("%s joined %s by keypad", mask(number), group.join_code)
    return xml(
        scripts().joined(language=participant.language, group=group.public_name, channel=channel)
    )


def _reached_by(session: Session, participant: Participant, group: Group) -> str:
    """How the group's reminders will reach someone who has just joined it ("sms", "voice")."""
    membership = membership_of(session, participant.id, group.id)
    return (membership.channel if membership is not None else participant.channel).value


# -- the call back, for a code typed while the database was away -------------------------------


def _call_back_row(session: Session) -> tuple[OutboxMessage, Participant, Group] | None:
    found = _call_row(session)
    if found is None or found[0].kind is not OutboxKind.INVITATION or found[0].group_id is None:
        return None
    row, participant = found
    return row, participant, session.get_one(Group, row.group_id)


@bp.post("/call-back")
@signed
@spoken
def call_back() -> Response:
    """Someone, or something, answered the call back that asks a caller to confirm joining."""
    session = get_session()
    found = _call_back_row(session)
    if found is None:
        return xml(scripts().error(language="en"))
    row, participant, _ = found
    lang = participant.language
    if _answered_by_a_machine(row):  # no group named: whoever plays the tape may not be them
        session.commit()
        return xml(scripts().call_back_voicemail(language=lang))
    session.commit()
    return xml(
        scripts().call_back(
            language=lang,
            question=row.body or "",
            action=f"/twilio/voice/call-back/key?outbox={row.id}&try=1&lang={lang}",
        )
    )


@bp.post("/call-back/key")
@signed
@spoken
def call_back_key() -> Response:
    """1 on the call back joins (their confirmation), 2 declines; anything else asks again."""
    session = get_session()
    found = _call_back_row(session)
    if found is None:
        return xml(scripts().error(language=_lang()))
    row, participant, group = found
    lang, digits, tries = participant.language, _digits(), _try()
    if digits == "1":
        join_by_keypad(
            session,
            participant,
            group,
            words=f"typed {group.join_code}'s keypad code, and pressed 1 when called back",
            now=_now(),
        )
        channel = _reached_by(session, participant, group)
        session.commit()
        log.info("%s joined %s by keypad, called back", mask(participant.phone), group.join_code)
        return xml(scripts().joined(language=lang, group=group.public_name, channel=channel))
    if digits == "2":
        decline_join(session, participant, group, _now())
        session.commit()
        return xml(scripts().goodbye(language=lang))
    if out_of_tries(digits, tries):
        return xml(scripts().goodbye(language=lang))
    return xml(
        scripts().call_back(
            language=lang,
            question=row.body or "",
            action=f"/twilio/voice/call-back/key?outbox={row.id}&try={tries + 1}&lang={lang}",
        )
    )
