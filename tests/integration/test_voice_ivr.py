"""Calling Peerline's number: the whole keypad menu, as a caller hears it, in English and Spanish.

Each step is posted as Twilio posts it (signed, with a CallSid, and Digits only when a key was
pressed) to the URL the previous step's TwiML named, and the TwiML that comes back is read as
a caller would hear it: what is said, in which voice, and where the next key goes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from scheduler.dispatcher import dispatch_due
from service.campaigns.planner import plan
from service.models import (
    Attendance,
    CampaignKind,
    Channel,
    ConsentChange,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Group,
    Membership,
    MembershipStatus,
    OutboxMessage,
    OutboxState,
    Participant,
    Rsvp,
)
from service.phones import phone_hash
from service.sending.gateway import GatewayError
from service.voice.joining import ask_by_call_back
from tests.support import (
    PUBLIC_URL,
    Clock,
    RecordingGateway,
    ledger,
    make_campaign,
    make_group,
    make_participant,
    make_schedule,
    new_sid,
    post_signed,
    reloaded,
    sign,
)

SAM, LUCIA, NEW = "+12025550142", "+12025550145", "+12025550177"
PEERLINE = "+15005550006"
ACCOUNT = "AC" + "a" * 32
# The test clock starts Tuesday 2026-03-03 at 12:00 in New York (17:00 UTC); the group meets
# Tuesdays at 18:30 New York time, in Room 5.
TONIGHT = "20260303T1830"
TONIGHT_UTC = datetime(2026, 3, 3, 23, 30, tzinfo=UTC)
VOICE = {"en": ("Polly.Joanna", "en-US"), "es": ("Polly.Lupe", "es-US")}
OTHER = {"en": "es", "es": "en"}
LANGUAGES = ["en", "es"]

# What a caller hears, in each language.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Hello, Sam. Thanks for calling Peerline.",
        "next_meeting": "Your next meeting is Circle Group, today at 6:30 PM, at Room 5.",
        "no_meeting": "You have no meeting coming up.",
        "attendance": "Press 1 to confirm you're coming. Press 2 to cancel your attendance.",
        "to_calls": "Press 8 to get your reminders by phone call instead.",
        "to_texts": "Press 8 to get your reminders by text instead.",
        "stop_option": "Press 9 to stop all calls and texts.",
        "offer": "For English, press 4.",
        "offer_then_pound": "For English, press 4, then the pound key.",
        "confirmed": "Thank you. We'll see you at Circle Group today at 6:30 PM. Goodbye.",
        "cancelled": "We've noted you can't come. Take care. Goodbye.",
        "now_calls": "From now on, your reminders will come by phone call. Goodbye.",
        "now_texts": "From now on, your reminders will come by text. Goodbye.",
        "stopped": (
            "You won't get any more calls or texts from Peerline. If you change your mind, "
            "text START to this number. Goodbye."
        ),
        "silence": "Sorry, I didn't hear a choice.",
        "invalid": "Sorry, that key isn't one of the choices.",
        "goodbye": "Thank you for your time. Take care. Goodbye.",
        "not_subscribed": (
            "You are not receiving calls or texts from Peerline. To start again, text START to "
            "this number. Goodbye."
        ),
        "welcome": "Welcome to Peerline.",
        "code_prompt": (
            "If you have a group's join code, enter it now, then press the pound key. To hear "
            "how to get help, press star, then the pound key."
        ),
        "help_by_text": (
            "To get help, text HELP to this number, or text STOP to stop all messages. Goodbye."
        ),
        "unknown_code": "Sorry, that code didn't match a group. Please try again.",
        "join_confirm": "You're joining Circle Group.",
        "join_options": "Press 1 to confirm, or 2 to cancel.",
        "joined": (
            "You're in. We'll call you before each Circle Group meeting. You can call this "
            "number any time to hear your next meeting. Goodbye."
        ),
        "error": "Sorry, something went wrong. Please try again later. Goodbye.",
    },
    "es": {
        "greeting": "Hola, Sam. Gracias por llamar a Peerline.",
        "next_meeting": "Su próxima reunión es Circle Group, hoy a las 18:30, en Room 5.",
        "no_meeting": "No tiene ninguna reunión próxima.",
        "attendance": (
            "Oprima 1 para confirmar que va a venir. Oprima 2 para cancelar su asistencia."
        ),
        "to_calls": "Oprima 8 si prefiere recibir sus recordatorios por llamada telefónica.",
        "to_texts": "Oprima 8 si prefiere recibir sus recordatorios por mensaje de texto.",
        "stop_option": "Oprima 9 para no recibir más llamadas ni mensajes.",
        "offer": "Para español, oprima 4.",
        "offer_then_pound": "Para español, oprima 4 y luego la tecla numeral.",
        "confirmed": "Gracias. Le esperamos en Circle Group hoy a las 18:30. Adiós.",
        "cancelled": "Anotamos que no puede venir. Cuídese mucho. Adiós.",
        "now_calls": (
            "A partir de ahora, sus recordatorios le llegarán por llamada telefónica. Adiós."
        ),
        "now_texts": (
            "A partir de ahora, sus recordatorios le llegarán por mensaje de texto. Adiós."
        ),
        "stopped": (
            "Ya no recibirá más llamadas ni mensajes de Peerline. Si cambia de opinión, envíe "
            "la palabra START o INICIAR por mensaje de texto a este número. Adiós."
        ),
        "silence": "Disculpe, no escuché ninguna opción.",
        "invalid": "Disculpe, esa tecla no es una de las opciones.",
        "goodbye": "Gracias por su tiempo. Cuídese mucho. Adiós.",
        "not_subscribed": (
            "Usted no está recibiendo llamadas ni mensajes de Peerline. Para volver a "
            "recibirlos, envíe la palabra START o INICIAR por mensaje de texto a este número. "
            "Adiós."
        ),
        "welcome": "Gracias por llamar a Peerline.",
        "code_prompt": (
            "Si tiene el código de un grupo, márquelo ahora y luego oprima la tecla numeral. "
            "Para saber cómo recibir ayuda, oprima la tecla de asterisco y luego la tecla "
            "numeral."
        ),
        "help_by_text": (
            "Para recibir ayuda, envíe la palabra AYUDA por mensaje de texto a este número. "
            "Para dejar de recibir mensajes, envíe la palabra PARAR. Adiós."
        ),
        "unknown_code": (
            "Disculpe, ese código no corresponde a ningún grupo. Por favor, intente de nuevo."
        ),
        "join_confirm": "Se está uniendo a Circle Group.",
        "join_options": "Oprima 1 para confirmar, o 2 para cancelar.",
        "joined": (
            "Listo, ya es parte del grupo. Le llamaremos antes de cada reunión de Circle Group. "
            "Puede llamar a este número cuando quiera para escuchar su próxima reunión. Adiós."
        ),
        "error": "Disculpe, algo salió mal. Por favor, intente más tarde. Adiós.",
    },
}


# -- hearing a call ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    text: str
    voice: tuple[str | None, str | None]


@dataclass(frozen=True)
class Heard:
    """One step of a call: the TwiML Twilio would play."""

    root: ET.Element

    @property
    def verbs(self) -> list[str]:
        return [child.tag for child in self.root]

    @property
    def says(self) -> list[Say]:
        return [
            Say(say.text or "", (say.get("voice"), say.get("language")))
            for say in self.root.iter("Say")
        ]

    @property
    def lines(self) -> list[str]:
        return [say.text for say in self.says]

    @property
    def said(self) -> str:
        return " ".join(self.lines)

    @property
    def gather(self) -> ET.Element:
        gather = self.root.find("Gather")
        assert gather is not None, f"no keys asked for: {self.verbs}"
        return gather

    @property
    def action(self) -> str:
        """Where a key pressed now is posted."""
        return self.gather.get("action") or ""

    @property
    def redirect(self) -> str:
        """Where the call goes when the caller presses nothing."""
        redirect = self.root.find("Redirect")
        assert redirect is not None and redirect.get("method") == "POST"
        return redirect.text or ""

    def last_words(self, language: str) -> str:
        """What is said before the call ends, in one voice, with no key asked for."""
        assert self.verbs == ["Say", "Hangup"], self.verbs
        (say,) = self.says
        assert say.voice == VOICE[language]
        return say.text

    def is_menu(self) -> bool:
        return self.verbs[-2:] == ["Gather", "Redirect"]


def hear(response: TestResponse) -> Heard:
    assert response.status_code == 200, response.text
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.data)  # noqa: S314 - our own TwiML
    assert root.tag == "Response"
    assert any(True for _ in root.iter("Say")), "the caller hears nothing"
    return Heard(root)


@dataclass
class Call:
    """One phone call to Peerline's number, from `caller` (None when the number is withheld)."""

    client: FlaskClient
    caller: str | None
    sid: str = field(default_factory=lambda: new_sid("CA"))

    def form(self, digits: str | None, status: str = "in-progress") -> dict[str, str]:
        params = {
            "CallSid": self.sid,
            "AccountSid": ACCOUNT,
            "To": PEERLINE,
            "CallStatus": status,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        if self.caller is not None:
            params["From"] = self.caller
            params["Caller"] = self.caller
        if digits is not None:
            params["Digits"] = digits
        return params

    def dial(self, query: str = "") -> Heard:
        return hear(post_signed(self.client, "/twilio/voice" + query, self.form(None, "ringing")))

    def post(self, url: str, digits: str | None = None) -> Heard:
        assert url.startswith("/twilio/voice"), url  # relative to the number's voice URL
        return hear(post_signed(self.client, url, self.form(digits)))

    def press(self, heard: Heard, digits: str) -> Heard:
        """Press keys at heard's menu: Twilio posts them to the Gather's action."""
        return self.post(heard.action, digits)

    def wait(self, heard: Heard) -> Heard:
        """Press nothing: the Gather times out and the Redirect posts, without Digits."""
        assert heard.redirect == heard.action  # silence comes back to the same step
        return self.post(heard.redirect)


def answers(session: Session) -> list[tuple[int | None, str, Attendance]]:
    session.expire_all()
    return [(r.participant_id, r.occurrence_key, r.answer) for r in session.scalars(select(Rsvp))]


def count(session: Session, model: type[Participant | ConsentEvent | Membership]) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def tick_until(app: Flask, session: Session, clock: Clock, until: datetime) -> None:
    """Plan and send every quarter of an hour until `until`, as the scheduler would."""
    while clock.now < until:
        clock.now = min(until, clock.now + timedelta(minutes=15))
        plan(session, clock.now)
        session.commit()
        dispatch_due(app)


def assert_caller_menu(heard: Heard, language: str, *, meeting: bool, channel: Channel) -> None:
    """The known caller's options, each in their language, the other language offered in its."""
    words = WORDS[language]
    gather = heard.gather
    assert heard.is_menu()
    assert gather.get("numDigits") == "1"
    assert gather.get("input") == "dtmf"
    assert gather.get("method") == "POST"
    options = " ".join(
        [
            *([words["attendance"]] if meeting else []),
            words["to_texts"] if channel is Channel.VOICE else words["to_calls"],
            words["stop_option"],
        ]
    )
    offered = [Say(say.text or "", (say.get("voice"), say.get("language"))) for say in gather]
    assert offered == [
        Say(options, VOICE[language]),
        Say(WORDS[OTHER[language]]["offer"], VOICE[OTHER[language]]),
    ]
    assert all(say.voice == VOICE[language] for say in heard.says[:-1])


def assert_code_menu(heard: Heard, language: str, action: str) -> None:
    """A stranger's prompt: any number of digits ended with #, the other language offered."""
    gather = heard.gather
    assert heard.is_menu()
    assert gather.get("finishOnKey") == "#"
    assert gather.get("numDigits") is None
    assert gather.get("action") == action
    assert heard.redirect == action
    offered = [Say(say.text or "", (say.get("voice"), say.get("language"))) for say in gather]
    assert offered == [
        Say(WORDS[language]["code_prompt"], VOICE[language]),
        Say(WORDS[OTHER[language]]["offer_then_pound"], VOICE[OTHER[language]]),
    ]


@pytest.fixture
def circle(session: Session) -> Group:
    group = make_group(session, "CIRCLE")
    make_schedule(session, group)
    return group


@pytest.fixture(params=LANGUAGES)
def lang(request: pytest.FixtureRequest) -> str:
    language: str = request.param
    return language


@pytest.fixture
def sam(session: Session, circle: Group, lang: str) -> Participant:
    return make_participant(session, SAM, circle, name="Sam Rivera", language=lang)


# -- a member calling --------------------------------------------------------------------------


def test_a_member_hears_their_next_meeting_and_their_menu(
    client: FlaskClient, sam: Participant, lang: str
) -> None:
    heard = Call(client, SAM).dial()

    words = WORDS[lang]
    assert heard.lines[:2] == [words["greeting"], words["next_meeting"]]
    assert_caller_menu(heard, lang, meeting=True, channel=Channel.SMS)
    assert heard.action == f"/twilio/voice/menu?lang={lang}&try=1&channel=sms"
    assert heard.gather.get("timeout") == "6"
    assert "recovery" not in heard.said  # the group's internal name is never spoken


def test_pressing_1_confirms_for_that_meeting_and_2_cancels(
    client: FlaskClient, session: Session, sam: Participant, circle: Group, lang: str
) -> None:
    first = Call(client, SAM)
    coming = first.press(first.dial(), "1")

    assert coming.last_words(lang) == WORDS[lang]["confirmed"]
    assert answers(session) == [(sam.id, TONIGHT, Attendance.YES)]

    second = Call(client, SAM)
    not_coming = second.press(second.dial(), "2")

    assert not_coming.last_words(lang) == WORDS[lang]["cancelled"]
    assert answers(session) == [(sam.id, TONIGHT, Attendance.NO)]  # the later answer counts
    rsvp = session.scalars(select(Rsvp)).one()
    assert rsvp.group_id == circle.id


def test_pressing_8_switches_reminders_between_texts_and_calls(
    client: FlaskClient, session: Session, sam: Participant, lang: str
) -> None:
    call = Call(client, SAM)
    switched = call.press(call.dial(), "8")

    assert switched.last_words(lang) == WORDS[lang]["now_calls"]
    assert reloaded(session, SAM).channel is Channel.VOICE

    again = Call(client, SAM)
    menu = again.dial()
    assert_caller_menu(menu, lang, meeting=True, channel=Channel.VOICE)  # now offers texts
    back = again.press(menu, "8")

    assert back.last_words(lang) == WORDS[lang]["now_texts"]
    assert reloaded(session, SAM).channel is Channel.SMS


def test_8_posted_twice_from_one_menu_makes_the_choice_it_offered_once(
    client: FlaskClient, session: Session, sam: Participant, lang: str
) -> None:
    call = Call(client, SAM)
    menu = call.dial()

    call.press(menu, "8")
    again = call.press(menu, "8")  # the same request once more: Twilio retrying, or a replay

    assert again.last_words(lang) == WORDS[lang]["now_calls"]
    assert reloaded(session, SAM).channel is Channel.VOICE


def test_after_pressing_8_tonights_reminder_rings_instead_of_texting(
    app: Flask,
    client: FlaskClient,
    session: Session,
    circle: Group,
    clock: Clock,
    gateway: RecordingGateway,
) -> None:
    make_participant(session, SAM, circle, name="Sam Rivera")
    make_participant(session, LUCIA, circle, name="Lucia Gomez")
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h"])
    plan(session, clock.now)  # tonight's reminders are planned while both still take texts
    session.commit()

    call = Call(client, SAM)
    call.press(call.dial(), "8")
    tick_until(app, session, clock, TONIGHT_UTC - timedelta(hours=1))

    assert [c.to for c in gateway.calls] == [SAM]
    assert gateway.to(SAM) == []
    assert len(gateway.to(LUCIA)) == 1  # nothing changed for anyone else


def test_pressing_9_stops_everything_and_a_planned_text_never_goes(
    app: Flask,
    client: FlaskClient,
    session: Session,
    sam: Participant,
    circle: Group,
    clock: Clock,
    gateway: RecordingGateway,
    lang: str,
) -> None:
    make_participant(session, LUCIA, circle, name="Lucia Gomez")
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h"])
    plan(session, clock.now)
    session.commit()

    call = Call(client, SAM)
    stopped = call.press(call.dial(), "9")

    assert stopped.last_words(lang) == WORDS[lang]["stopped"]
    person = reloaded(session, SAM)
    assert person.consent is ConsentState.REVOKED
    assert ledger(session, person) == [(ConsentChange.OPT_OUT, ConsentSource.KEYPAD)]

    tick_until(app, session, clock, TONIGHT_UTC)

    assert gateway.to(SAM) == []
    assert gateway.calls == []
    assert len(gateway.to(LUCIA)) == 1  # the reminder did go, to everyone else
    # Calling back, they hear that nothing is coming, and how to start again.
    assert Call(client, SAM).dial().last_words(lang) == WORDS[lang]["not_subscribed"]


def test_pressing_4_says_the_menu_in_the_other_language_and_keeps_it(
    client: FlaskClient, session: Session, sam: Participant, lang: str
) -> None:
    other = OTHER[lang]
    call = Call(client, SAM)

    switched = call.press(call.dial(), "4")

    assert switched.lines[:2] == [WORDS[other]["greeting"], WORDS[other]["next_meeting"]]
    assert_caller_menu(switched, other, meeting=True, channel=Channel.SMS)
    assert switched.action == f"/twilio/voice/menu?lang={other}&try=1&channel=sms"
    assert reloaded(session, SAM).language == other  # texts and calls follow their choice

    # The rest of the call goes on in that language...
    assert call.press(switched, "1").last_words(other) == WORDS[other]["confirmed"]
    # ... and so does their next call.
    assert Call(client, SAM).dial().lines[0] == WORDS[other]["greeting"]


def test_pressing_4_twice_comes_back_to_the_first_language(
    client: FlaskClient, session: Session, sam: Participant, lang: str
) -> None:
    call = Call(client, SAM)

    back = call.press(call.press(call.dial(), "4"), "4")

    assert back.lines[0] == WORDS[lang]["greeting"]
    assert_caller_menu(back, lang, meeting=True, channel=Channel.SMS)
    assert reloaded(session, SAM).language == lang


def test_silence_says_the_menu_again_once_then_goodbye(
    client: FlaskClient, session: Session, sam: Participant, lang: str
) -> None:
    words = WORDS[lang]
    call = Call(client, SAM)

    again = call.wait(call.dial())

    assert again.lines[:2] == [words["silence"], words["next_meeting"]]  # no second greeting
    assert_caller_menu(again, lang, meeting=True, channel=Channel.SMS)
    assert call.wait(again).last_words(lang) == words["goodbye"]
    assert answers(session) == []
    person = reloaded(session, SAM)
    assert (person.channel, person.consent) == (Channel.SMS, ConsentState.GRANTED)


@pytest.mark.parametrize("key", ["7", "#", "12", "0", "*"])
def test_a_key_not_on_the_menu_is_said_so_and_the_third_ends_the_call(
    client: FlaskClient, session: Session, sam: Participant, lang: str, key: str
) -> None:
    words = WORDS[lang]
    call = Call(client, SAM)
    heard = call.dial()

    for _ in range(2):
        heard = call.press(heard, key)
        assert heard.lines[:2] == [words["invalid"], words["next_meeting"]]
        assert_caller_menu(heard, lang, meeting=True, channel=Channel.SMS)

    assert call.press(heard, key).last_words(lang) == words["goodbye"]
    assert answers(session) == []
    assert ledger(session, reloaded(session, SAM)) == []


def test_a_key_after_a_wrong_one_still_works(
    client: FlaskClient, session: Session, sam: Participant, lang: str
) -> None:
    call = Call(client, SAM)

    confirmed = call.press(call.press(call.dial(), "7"), "1")

    assert confirmed.last_words(lang) == WORDS[lang]["confirmed"]
    assert answers(session) == [(sam.id, TONIGHT, Attendance.YES)]


def test_a_member_with_no_meeting_coming_up_hears_so_and_is_not_offered_1_or_2(
    client: FlaskClient, session: Session, lang: str
) -> None:
    no_schedule = make_group(session, "QUIET")
    make_participant(session, SAM, no_schedule, name="Sam Rivera", language=lang)
    words = WORDS[lang]
    call = Call(client, SAM)

    heard = call.dial()

    assert heard.lines[:2] == [words["greeting"], words["no_meeting"]]
    assert_caller_menu(heard, lang, meeting=False, channel=Channel.SMS)
    # 1 and 2 are not choices without a meeting to answer for.
    refused = call.press(heard, "1")
    assert refused.lines[:2] == [words["invalid"], words["no_meeting"]]
    assert call.press(refused, "2").lines[0] == words["invalid"]
    assert answers(session) == []


def test_a_member_who_left_their_group_hears_no_meeting(
    client: FlaskClient, session: Session, circle: Group, lang: str
) -> None:
    make_participant(
        session, SAM, circle, name="Sam Rivera", language=lang, status=MembershipStatus.LEFT
    )

    heard = Call(client, SAM).dial()

    assert heard.lines[1] == WORDS[lang]["no_meeting"]
    assert_caller_menu(heard, lang, meeting=False, channel=Channel.SMS)


def test_the_nearest_meeting_of_two_groups_is_the_one_said_and_answered(
    client: FlaskClient, session: Session, circle: Group
) -> None:
    later = make_group(session, "FRIDAY")
    make_schedule(session, later, rule="FREQ=WEEKLY;BYDAY=FR", first=datetime(2026, 3, 6, 19, 0))
    sam = make_participant(session, SAM, later, circle, name="Sam Rivera")
    call = Call(client, SAM)

    heard = call.dial()

    assert heard.lines[1] == WORDS["en"]["next_meeting"]
    call.press(heard, "1")
    rsvp = session.scalars(select(Rsvp)).one()
    assert (rsvp.participant_id, rsvp.group_id, rsvp.occurrence_key) == (sam.id, circle.id, TONIGHT)


def test_an_opted_out_caller_hears_only_that_nothing_is_coming(
    client: FlaskClient, session: Session, circle: Group, lang: str
) -> None:
    make_participant(session, SAM, circle, language=lang, consent=ConsentState.REVOKED)

    heard = Call(client, SAM).dial()

    assert heard.last_words(lang) == WORDS[lang]["not_subscribed"]
    assert "Circle" not in heard.said


def test_an_opted_out_caller_cannot_use_the_menu_by_posting_to_it(
    client: FlaskClient, session: Session, circle: Group, lang: str
) -> None:
    make_participant(session, SAM, circle, language=lang, consent=ConsentState.REVOKED)
    call = Call(client, SAM)

    for key in ("1", "8", "4"):
        heard = call.post(f"/twilio/voice/menu?lang={lang}&try=1", key)
        assert heard.verbs == ["Say", "Hangup"]

    person = reloaded(session, SAM)
    assert (person.channel, person.language) == (Channel.SMS, lang)
    assert answers(session) == []


# -- a stranger calling ------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "language"), [("", "en"), ("?lang=es", "es")])
def test_an_unknown_caller_is_welcomed_and_asked_for_a_join_code(
    client: FlaskClient, session: Session, circle: Group, query: str, language: str
) -> None:
    heard = Call(client, NEW).dial(query)

    assert heard.lines[0] == WORDS[language]["welcome"]
    assert heard.says[0].voice == VOICE[language]
    assert_code_menu(heard, language, f"/twilio/voice/join?lang={language}&try=1")
    assert heard.gather.get("timeout") == "8"
    assert count(session, Participant) == 0  # calling is not joining


@pytest.mark.parametrize("keys", ["*", "*#"])
def test_star_tells_a_stranger_how_to_get_help_by_text(
    client: FlaskClient, session: Session, circle: Group, lang: str, keys: str
) -> None:
    call = Call(client, NEW)

    heard = call.press(call.dial(f"?lang={lang}"), keys)

    assert heard.last_words(lang) == WORDS[lang]["help_by_text"]
    assert count(session, Participant) == 0


def test_4_gives_a_stranger_the_menu_in_the_other_language(
    client: FlaskClient, session: Session, circle: Group, lang: str
) -> None:
    other = OTHER[lang]
    call = Call(client, NEW)

    switched = call.press(call.dial(f"?lang={lang}"), "4")

    assert switched.lines[0] == WORDS[other]["welcome"]
    assert_code_menu(switched, other, f"/twilio/voice/join?lang={other}&try=1")
    # The code typed next is confirmed in that language.
    confirm = call.press(switched, circle.keypad_code or "")
    assert confirm.lines == [WORDS[other]["join_confirm"], WORDS[other]["join_options"]]


def test_a_wrong_code_is_said_so_and_the_third_ends_the_call(
    client: FlaskClient, session: Session, circle: Group, lang: str
) -> None:
    wrong = "123" if circle.keypad_code != "123" else "124"
    call = Call(client, NEW)
    heard = call.dial(f"?lang={lang}")

    for attempt in (2, 3):
        heard = call.press(heard, wrong)
        assert heard.lines[0] == WORDS[lang]["unknown_code"]
        assert_code_menu(heard, lang, f"/twilio/voice/join?lang={lang}&try={attempt}")

    assert call.press(heard, wrong).last_words(lang) == WORDS[lang]["goodbye"]
    assert count(session, Participant) == 0


def test_the_right_code_after_a_wrong_one_still_joins(
    client: FlaskClient, session: Session, circle: Group
) -> None:
    call = Call(client, NEW)

    confirm = call.press(call.press(call.dial(), "999"), circle.keypad_code or "")

    assert confirm.lines[0] == WORDS["en"]["join_confirm"]
    assert call.press(confirm, "1").last_words("en") == WORDS["en"]["joined"]


def test_a_silent_stranger_hears_the_welcome_again_and_is_not_kept_on_the_line(
    client: FlaskClient, session: Session, circle: Group, lang: str
) -> None:
    call = Call(client, NEW)
    heard = call.dial(f"?lang={lang}")

    again = call.wait(heard)
    assert again.lines[0] == WORDS[lang]["welcome"]
    assert_code_menu(again, lang, f"/twilio/voice/join?lang={lang}&try=2")

    prompts = 2  # the welcome, and once more after the silence
    while again.is_menu():
        again = call.wait(again)
        prompts += 1 if again.is_menu() else 0
        assert prompts <= 3, "a silent caller is kept on the line"
    assert again.last_words(lang) == WORDS[lang]["goodbye"]
    assert count(session, Participant) == 0


@pytest.mark.parametrize("pound", ["", "#"])
def test_the_keypad_code_asks_to_confirm_joining_the_group_by_its_public_name(
    client: FlaskClient, session: Session, circle: Group, lang: str, pound: str
) -> None:
    call = Call(client, NEW)

    confirm = call.press(call.dial(f"?lang={lang}"), f"{circle.keypad_code}{pound}")

    assert confirm.lines == [WORDS[lang]["join_confirm"], WORDS[lang]["join_options"]]
    assert all(say.voice == VOICE[lang] for say in confirm.says)
    assert confirm.is_menu()
    assert confirm.gather.get("numDigits") == "1"
    assert confirm.action == f"/twilio/voice/join/confirm?group={circle.id}&lang={lang}&try=1"
    assert "recovery" not in confirm.said
    assert count(session, Participant) == 0  # nothing yet: joining takes a second key


def test_pressing_1_at_the_confirmation_joins_by_phone(
    client: FlaskClient, session: Session, circle: Group, lang: str
) -> None:
    call = Call(client, NEW)
    confirm = call.press(call.dial(f"?lang={lang}"), f"{circle.keypad_code}#")

    joined = call.press(confirm, "1")

    assert joined.last_words(lang) == WORDS[lang]["joined"]
    newcomer = reloaded(session, NEW)
    assert newcomer.channel is Channel.VOICE  # they chose the phone: reminders come as calls
    assert newcomer.consent is ConsentState.GRANTED
    assert newcomer.language == lang
    assert newcomer.timezone == circle.timezone
    assert ledger(session, newcomer) == [(ConsentChange.OPT_IN, ConsentSource.KEYPAD)]
    membership = session.scalars(select(Membership)).one()
    assert (membership.participant_id, membership.group_id, membership.status) == (
        newcomer.id,
        circle.id,
        MembershipStatus.ACTIVE,
    )

    # Calling back, they are a member: no name to greet, their meeting, and texts offered.
    back = Call(client, NEW).dial()
    greeting = {"en": "Hello. Thanks for calling Peerline.", "es": "Hola. Gracias por llamar a "}
    assert back.lines[0].startswith(greeting[lang])
    assert back.lines[1] == WORDS[lang]["next_meeting"]
    assert_caller_menu(back, lang, meeting=True, channel=Channel.VOICE)


def test_pressing_2_at_the_confirmation_joins_nothing(
    client: FlaskClient, session: Session, circle: Group, lang: str
) -> None:
    call = Call(client, NEW)
    confirm = call.press(call.dial(f"?lang={lang}"), circle.keypad_code or "")

    assert call.press(confirm, "2").last_words(lang) == WORDS[lang]["goodbye"]
    assert count(session, Participant) == 0
    assert count(session, ConsentEvent) == 0
    assert count(session, Membership) == 0


def test_silence_at_the_confirmation_asks_again_then_goodbye(
    client: FlaskClient, session: Session, circle: Group, lang: str
) -> None:
    call = Call(client, NEW)
    confirm = call.press(call.dial(f"?lang={lang}"), circle.keypad_code or "")

    again = call.wait(confirm)

    assert again.lines == [WORDS[lang]["join_confirm"], WORDS[lang]["join_options"]]
    assert again.action == f"/twilio/voice/join/confirm?group={circle.id}&lang={lang}&try=2"
    assert call.wait(again).last_words(lang) == WORDS[lang]["goodbye"]
    assert count(session, Participant) == 0


def test_a_wrong_key_at_the_confirmation_asks_again_and_the_third_ends_the_call(
    client: FlaskClient, session: Session, circle: Group
) -> None:
    call = Call(client, NEW)
    heard = call.press(call.dial(), circle.keypad_code or "")

    for _ in range(2):
        heard = call.press(heard, "5")
        assert heard.lines[0] == WORDS["en"]["join_confirm"]

    assert call.press(heard, "5").last_words("en") == WORDS["en"]["goodbye"]
    assert count(session, Participant) == 0


def test_a_group_member_joining_a_second_group_by_keypad_keeps_their_settings(
    client: FlaskClient, session: Session, circle: Group
) -> None:
    second = make_group(session, "FRIDAY")
    sam = make_participant(session, SAM, circle, name="Sam Rivera", language="es")
    call = Call(client, SAM)

    # A member's own menu offers no join step, but a join by keypad must not reset who they are.
    confirm = call.post("/twilio/voice/join?lang=en&try=1", second.keypad_code)
    joined = call.press(confirm, "1")

    by_text = WORDS["es"]["joined"].replace("Le llamaremos", "Le enviaremos un mensaje de texto")
    assert joined.last_words("es") == by_text.replace("Circle", "Friday")  # they take texts
    person = reloaded(session, SAM)
    assert (person.channel, person.language, person.name) == (Channel.SMS, "es", "Sam Rivera")
    groups = {m.group_id: m.status for m in person.memberships}
    assert groups == {circle.id: MembershipStatus.ACTIVE, second.id: MembershipStatus.ACTIVE}
    assert sam.id == person.id


def test_joining_by_keypad_then_the_groups_reminder_comes_as_one_call(
    app: Flask,
    client: FlaskClient,
    session: Session,
    circle: Group,
    clock: Clock,
    gateway: RecordingGateway,
    lang: str,
) -> None:
    call = Call(client, NEW)
    confirm = call.press(call.dial(f"?lang={lang}"), f"{circle.keypad_code}#")
    assert call.press(confirm, "1").last_words(lang) == WORDS[lang]["joined"]
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h"])

    tick_until(app, session, clock, TONIGHT_UTC - timedelta(hours=2, minutes=1))
    assert gateway.calls == []
    tick_until(app, session, clock, TONIGHT_UTC)

    assert gateway.sent == []  # no text: they asked for calls
    assert len(gateway.calls) == 1
    ringing = gateway.calls[0]
    newcomer = reloaded(session, NEW)
    row = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.participant_id == newcomer.id, OutboxMessage.occurrence_key == TONIGHT
        )
    ).one()
    assert ringing.to == NEW
    assert ringing.url == f"{PUBLIC_URL}/twilio/voice/reminder?outbox={row.id}"
    assert ringing.status_callback == f"{PUBLIC_URL}/twilio/voice/status?outbox={row.id}"

    # When they pick up, Twilio fetches that URL, and they hear the reminder in their language.
    assert row.provider_sid is not None
    answered = hear(
        post_signed(
            client,
            ringing.url.removeprefix(PUBLIC_URL),
            {**Call(client, NEW, sid=row.provider_sid).form(None), "Direction": "outbound-api"},
        )
    )
    assert "Circle Group" in answered.said
    assert answered.says[0].voice == VOICE[lang]
    assert answered.is_menu()


# -- a call back, for a code typed while the database was away -----------------------------------

CALL_BACK = {
    "en": "Hello, this is Peerline, calling you back. You entered the join code for Circle Group. "
    "Do you want to join it?",
    "es": "Hola, le llama Peerline para devolverle la llamada. Usted marcó el código para unirse "
    "a Circle Group. ¿Quiere unirse?",
}
CALL_BACK_VOICEMAIL = {
    "en": "Hello, this is Peerline, returning your call. Please call this number again when you "
    "can. Goodbye.",
    "es": "Hola, le llama Peerline para devolverle la llamada. Por favor, vuelva a llamar a este "
    "número cuando pueda. Adiós.",
}


def call_back(app: Flask, session: Session, circle: Group, lang: str, call: str) -> OutboxMessage:
    """What a replayed code does: a pending join, and the call back, rung."""
    row = ask_by_call_back(
        session,
        phone=NEW,
        phone_hash=phone_hash(NEW, "insecure-test-key"),
        group=circle,
        language=lang,
        call_sid=call,
        wording=app.extensions["peerline.wording"],
        now=datetime(2026, 3, 3, 17, 0, tzinfo=UTC),
    )
    session.commit()
    assert row is not None
    dispatch_due(app)
    return reloaded_row(session, row.id)


def reloaded_row(session: Session, row_id: int) -> OutboxMessage:
    session.expire_all()
    return session.get_one(OutboxMessage, row_id)


def answer(client: FlaskClient, row: OutboxMessage, path: str, **extra: str) -> Heard:
    form = {**Call(client, NEW, sid=row.provider_sid or "").form(None), "Direction": "outbound-api"}
    return hear(post_signed(client, path, {**form, **extra}))


def test_a_call_back_asks_and_only_1_joins(
    app: Flask,
    client: FlaskClient,
    session: Session,
    circle: Group,
    gateway: RecordingGateway,
    lang: str,
) -> None:
    row = call_back(app, session, circle, lang, new_sid("CA"))
    (ringing,) = gateway.calls
    assert ringing.url == f"{PUBLIC_URL}/twilio/voice/call-back?outbox={row.id}"

    asked = answer(client, row, f"/twilio/voice/call-back?outbox={row.id}")

    assert asked.lines == [CALL_BACK[lang], WORDS[lang]["join_options"]]
    assert all(say.voice == VOICE[lang] for say in asked.says)
    assert count(session, ConsentEvent) == 0  # asked, not joined
    silence = answer(client, row, asked.redirect)
    assert silence.lines == asked.lines
    joined = answer(client, row, silence.action, Digits="1")
    assert joined.last_words(lang) == WORDS[lang]["joined"]
    newcomer = reloaded(session, NEW)
    assert ledger(session, newcomer) == [(ConsentChange.OPT_IN, ConsentSource.KEYPAD)]
    assert [m.status for m in newcomer.memberships] == [MembershipStatus.ACTIVE]


def test_2_on_the_call_back_declines_and_a_replay_does_not_ask_again(
    app: Flask, client: FlaskClient, session: Session, circle: Group, lang: str
) -> None:
    call = new_sid("CA")
    row = call_back(app, session, circle, lang, call)

    asked = answer(client, row, f"/twilio/voice/call-back?outbox={row.id}")
    declined = answer(client, row, asked.action, Digits="2")

    assert declined.last_words(lang) == WORDS[lang]["goodbye"]
    again = ask_by_call_back(
        session,
        phone=NEW,
        phone_hash=phone_hash(NEW, "insecure-test-key"),
        group=circle,
        language=lang,
        call_sid=call,
        wording=app.extensions["peerline.wording"],
        now=datetime(2026, 3, 3, 18, 0, tzinfo=UTC),
    )
    session.commit()
    assert again is None
    newcomer = reloaded(session, NEW)
    assert [m.status for m in newcomer.memberships] == [MembershipStatus.LEFT]
    assert newcomer.consent is ConsentState.UNKNOWN
    assert count(session, ConsentEvent) == 0
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_a_machine_hears_no_group_and_calling_back_offers_the_join(
    app: Flask, client: FlaskClient, session: Session, circle: Group, lang: str
) -> None:
    row = call_back(app, session, circle, lang, new_sid("CA"))

    tape = answer(
        client, row, f"/twilio/voice/call-back?outbox={row.id}", AnsweredBy="machine_end_beep"
    )

    assert tape.verbs == ["Pause", "Say", "Hangup"]
    assert tape.said == CALL_BACK_VOICEMAIL[lang]
    assert "Circle" not in tape.said
    assert reloaded_row(session, row.id).voicemail_left

    # They call back: their join waits for their key, so this call asks for it.
    call = Call(client, NEW)
    confirm = call.dial()
    assert confirm.lines == [WORDS[lang]["join_confirm"], WORDS[lang]["join_options"]]
    assert call.press(confirm, "1").last_words(lang) == WORDS[lang]["joined"]
    assert reloaded(session, NEW).consent is ConsentState.GRANTED


def test_joining_by_calling_in_withdraws_the_call_back_still_waiting(
    app: Flask,
    client: FlaskClient,
    session: Session,
    circle: Group,
    gateway: RecordingGateway,
    clock: Clock,
    lang: str,
) -> None:
    gateway.failures[NEW] = GatewayError("rate limited", code=20429, retryable=True)
    row = call_back(app, session, circle, lang, new_sid("CA"))  # not rung yet: it waits
    del gateway.failures[NEW]

    call = Call(client, NEW)
    call.press(call.dial(), "1")
    clock.now += timedelta(minutes=5)  # long past its retry
    dispatch_due(app)

    assert reloaded_row(session, row.id).state is OutboxState.CANCELED
    assert gateway.calls == []  # nobody rings to ask what they answered already


# -- withheld numbers --------------------------------------------------------------------------


@pytest.mark.parametrize("withheld", ["anonymous", "Restricted", "+266696687", "", None], ids=repr)
def test_a_withheld_number_hears_how_to_get_help_by_text(
    client: FlaskClient, session: Session, circle: Group, withheld: str | None
) -> None:
    heard = Call(client, withheld).dial()

    assert heard.last_words("en") == WORDS["en"]["help_by_text"]
    assert count(session, Participant) == 0


def test_a_withheld_number_cannot_join_even_by_posting_the_code(
    client: FlaskClient, session: Session, circle: Group
) -> None:
    call = Call(client, "anonymous")

    heard = call.post(f"/twilio/voice/join/confirm?group={circle.id}&lang=es&try=1", digits="1")

    assert heard.verbs == ["Say", "Hangup"]
    assert heard.says[0].voice == VOICE["es"]
    assert count(session, Participant) == 0
    assert count(session, ConsentEvent) == 0
    assert count(session, Membership) == 0


# -- robustness --------------------------------------------------------------------------------


def _routes(group_id: int) -> list[tuple[str, str | None]]:
    return [
        ("/twilio/voice", None),
        ("/twilio/voice/menu?lang=en&try=1", "8"),
        ("/twilio/voice/join?lang=en&try=1", "*"),
        (f"/twilio/voice/join/confirm?group={group_id}&lang=en&try=1", "1"),
    ]


@pytest.mark.parametrize("route", range(4), ids=["incoming", "menu", "join", "confirm"])
@pytest.mark.parametrize("forgery", ["missing", "empty", "garbage", "other-token", "other-url"])
def test_a_forged_or_missing_signature_is_refused_and_changes_nothing(
    client: FlaskClient, session: Session, circle: Group, route: int, forgery: str
) -> None:
    make_participant(session, SAM, circle)
    path, digits = _routes(circle.id)[route]
    caller = NEW if "confirm" in path else SAM
    form = Call(client, caller).form(digits)
    signatures = {
        "missing": None,
        "empty": "",
        "garbage": "bm90IGEgc2lnbmF0dXJl",
        "other-token": sign(PUBLIC_URL + path, form, "wrong-token"),
        # Signed for another step of the call: a replay cannot be aimed elsewhere.
        "other-url": sign(PUBLIC_URL + "/twilio/voice/menu?lang=es&try=1", form),
    }
    signature = signatures[forgery]
    headers = {} if signature is None else {"X-Twilio-Signature": signature}

    response = client.post(path, data=form, headers=headers)

    assert response.status_code == 403
    assert reloaded(session, SAM).channel is Channel.SMS
    assert count(session, Participant) == 1


def test_a_signature_over_other_keys_is_refused(
    client: FlaskClient, session: Session, circle: Group
) -> None:
    make_participant(session, SAM, circle)
    path = "/twilio/voice/menu?lang=en&try=1"
    pressed = Call(client, SAM).form("1")

    response = client.post(
        path,
        data={**pressed, "Digits": "9"},
        headers={"X-Twilio-Signature": sign(PUBLIC_URL + path, pressed)},
    )

    assert response.status_code == 403
    assert reloaded(session, SAM).consent is ConsentState.GRANTED


ODD_REQUESTS = {
    "incoming, no From": ("/twilio/voice", None, None),
    "incoming, lang=fr": ("/twilio/voice?lang=fr", NEW, None),
    "incoming, lang empty": ("/twilio/voice?lang=", NEW, None),
    "menu, no From": ("/twilio/voice/menu?lang=en&try=1", None, "1"),
    "menu, stranger": ("/twilio/voice/menu?lang=en&try=1", NEW, "1"),
    "menu, no query": ("/twilio/voice/menu", SAM, "7"),
    "menu, try=abc lang=fr": ("/twilio/voice/menu?lang=fr&try=abc", SAM, "7"),
    "menu, try=-1": ("/twilio/voice/menu?lang=en&try=-1", SAM, ""),
    "menu, try huge": ("/twilio/voice/menu?lang=en&try=99999999999999999999", SAM, ""),
    "menu, try unicode digit": ("/twilio/voice/menu?lang=en&try=%C2%B2", SAM, ""),
    "menu, long Digits": ("/twilio/voice/menu?lang=en&try=1", SAM, "1" * 500),
    "join, no query": ("/twilio/voice/join", NEW, "999"),
    "join, try=abc lang=fr": ("/twilio/voice/join?lang=fr&try=abc", NEW, "999"),
    "join, no From": ("/twilio/voice/join?lang=en&try=1", None, "999"),
    "join, letters": ("/twilio/voice/join?lang=en&try=1", NEW, "abc"),
    "join, long code": ("/twilio/voice/join?lang=en&try=1", NEW, "9" * 500),
    "confirm, unknown group": ("/twilio/voice/join/confirm?group=999999&lang=en&try=1", NEW, "1"),
    "confirm, group=abc": ("/twilio/voice/join/confirm?group=abc&lang=en&try=1", NEW, "1"),
    "confirm, no group": ("/twilio/voice/join/confirm?lang=en&try=1", NEW, "1"),
    "confirm, group huge": (
        "/twilio/voice/join/confirm?group=99999999999999999999999&lang=en&try=1",
        NEW,
        "1",
    ),
    "confirm, no From": ("/twilio/voice/join/confirm?group={group}&lang=fr&try=abc", None, "1"),
    "menu, channel odd": ("/twilio/voice/menu?lang=en&try=1&channel=fax", SAM, "8"),
    "call back, unknown row": ("/twilio/voice/call-back?outbox=999999", NEW, None),
    "call back, no row": ("/twilio/voice/call-back/key?lang=en&try=1", NEW, "1"),
}


@pytest.mark.parametrize("odd", ODD_REQUESTS.values(), ids=ODD_REQUESTS.keys())
def test_odd_parameters_get_a_spoken_answer_never_an_error_page(
    client: FlaskClient,
    session: Session,
    circle: Group,
    odd: tuple[str, str | None, str | None],
) -> None:
    make_participant(session, SAM, circle, name="Sam Rivera")
    path, caller, digits = odd

    heard = Call(client, caller).post(path.format(group=circle.id), digits)

    assert heard.is_menu() or heard.verbs[-1] == "Hangup"
    assert heard.says[0].voice == VOICE["en"]  # an unknown or missing language is English
    assert count(session, Participant) == 1  # nobody joined by accident
    assert answers(session) == []


def test_an_unknown_language_and_a_garbled_try_count_as_english_and_a_first_try(
    client: FlaskClient, session: Session, sam: Participant, lang: str
) -> None:
    call = Call(client, SAM)

    heard = call.post("/twilio/voice/menu?lang=fr&try=abc", "7")

    assert heard.lines[:2] == [WORDS["en"]["invalid"], WORDS["en"]["next_meeting"]]
    assert heard.action == "/twilio/voice/menu?lang=en&try=2&channel=sms"


def test_an_unknown_group_at_the_confirmation_is_an_apology_not_a_join(
    client: FlaskClient, session: Session, circle: Group, lang: str
) -> None:
    heard = Call(client, NEW).post(
        f"/twilio/voice/join/confirm?group={circle.id + 1000}&lang={lang}&try=1", "1"
    )

    assert heard.last_words(lang) == WORDS[lang]["error"]
    assert count(session, Participant) == 0
