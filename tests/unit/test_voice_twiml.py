"""What callers hear and which keys do what, in English and Spanish, read from the TwiML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from service.messages.wording import Wording
from service.voice.scripts import Notice, Scripts

ACTION = "https://peerline.example/twilio/voice/reminder/k3y?outbox=7&try=1"
GROUP = "Tuesday Night Recovery Circle"
LOCATION = "St Mark's basement"
JOANNA = ("Polly.Joanna", "en-US")
LUPE = ("Polly.Lupe", "es-US")
VOICE_OF = {"en": JOANNA, "es": LUPE}

MEETING_EN = "Your group meets tomorrow at 6:30 PM at Room 5."
MEETING_ES = "Su grupo se reúne mañana a las 18:30 en el Salón 5."
NEXT_EN = "Your next meeting is Tuesday group, tomorrow at 6:30 PM."


@pytest.fixture(scope="module")
def scripts() -> Scripts:
    # As the app builds it: program and contact are Wording defaults.
    return Scripts(Wording(program="Peerline", contact="hello@peerline.example"))


def parse(twiml: str) -> ET.Element:
    root = ET.fromstring(twiml)  # noqa: S314 - our own TwiML, not untrusted input
    assert root.tag == "Response"
    return root


def verbs(element: ET.Element) -> list[str]:
    return [child.tag for child in element]


def text(element: ET.Element) -> str:
    return element.text or ""


def spoken(element: ET.Element) -> str:
    """Everything said, in order, as one string."""
    return " ".join(text(say) for say in element.iter("Say"))


def voice(say: ET.Element) -> tuple[str | None, str | None]:
    return say.get("voice"), say.get("language")


def gather_of(root: ET.Element) -> ET.Element:
    gather = root.find("Gather")
    assert gather is not None
    return gather


def assert_menu_gather(root: ET.Element, *, timeout: str = "6") -> ET.Element:
    """One keypress, posted to ACTION; silence falls through to a POST redirect to ACTION."""
    assert verbs(root)[-2:] == ["Gather", "Redirect"]
    gather = gather_of(root)
    assert gather.attrib == {
        "input": "dtmf",
        "numDigits": "1",
        "action": ACTION,
        "method": "POST",
        "timeout": timeout,
    }
    redirect = root[-1]
    assert redirect.get("method") == "POST"
    assert text(redirect) == ACTION
    return gather


def assert_code_gather(root: ET.Element, *, timeout: str = "8") -> ET.Element:
    """Any number of digits, ended with #, posted to ACTION; silence redirects to ACTION."""
    assert verbs(root)[-2:] == ["Gather", "Redirect"]
    gather = gather_of(root)
    assert gather.attrib == {
        "input": "dtmf",
        "finishOnKey": "#",
        "action": ACTION,
        "method": "POST",
        "timeout": timeout,
    }
    assert root[-1].get("method") == "POST"
    assert text(root[-1]) == ACTION
    return gather


def assert_says_then_hangs_up(root: ET.Element) -> str:
    assert verbs(root) == ["Say", "Hangup"]
    return text(root[0])


# Reminder calls


def test_reminder_call_greets_says_the_reminder_then_offers_the_menu(scripts: Scripts) -> None:
    root = parse(
        scripts.reminder_call(
            language="en", first_name="Ana", group=GROUP, meeting=MEETING_EN, action=ACTION
        )
    )

    assert verbs(root) == ["Say", "Say", "Gather", "Redirect"]
    assert text(root[0]) == (f"Hello, Ana. This is Peerline calling with a reminder from {GROUP}.")
    assert text(root[1]) == MEETING_EN
    gather = assert_menu_gather(root)
    assert verbs(gather) == ["Say"]
    assert text(gather[0]) == (
        "Press 1 to confirm you're coming. Press 2 if you can't make it. "
        "Press 3 to hear this again. Press 9 to stop all calls and texts."
    )


def test_reminder_call_in_spanish(scripts: Scripts) -> None:
    root = parse(
        scripts.reminder_call(
            language="es", first_name="Ana", group=GROUP, meeting=MEETING_ES, action=ACTION
        )
    )

    assert text(root[0]) == f"Hola, Ana. Le llama Peerline con un recordatorio de {GROUP}."
    assert text(root[1]) == MEETING_ES
    menu = text(assert_menu_gather(root)[0])
    assert "Oprima 1 para confirmar que va a venir." in menu
    assert "Oprima 2 si no puede venir." in menu
    assert "Oprima 3 para escuchar esto otra vez." in menu
    assert "Oprima 9 para no recibir más llamadas ni mensajes." in menu


@pytest.mark.parametrize(
    ("language", "greeting"),
    [
        ("en", "Hello. This is Peerline calling with a reminder from Tuesday group."),
        ("es", "Hola. Le llama Peerline con un recordatorio de Tuesday group."),
    ],
)
def test_reminder_call_without_a_first_name(scripts: Scripts, language: str, greeting: str) -> None:
    root = parse(
        scripts.reminder_call(
            language=language, first_name=None, group="Tuesday group", meeting="x", action=ACTION
        )
    )

    assert text(root[0]) == greeting


def test_gather_timeout_is_the_routes_choice(scripts: Scripts) -> None:
    root = parse(
        scripts.reminder_call(
            language="en", first_name=None, group=GROUP, meeting="x", action=ACTION, timeout=10
        )
    )

    assert_menu_gather(root, timeout="10")


def test_action_url_and_its_query_survive_xml_escaping(scripts: Scripts) -> None:
    twiml = scripts.reminder_call(
        language="en", first_name=None, group=GROUP, meeting="x", action=ACTION
    )

    assert "outbox=7&amp;try=1" in twiml
    root = parse(twiml)
    assert gather_of(root).get("action") == ACTION
    assert text(root[-1]) == ACTION


@pytest.mark.parametrize(
    ("language", "notice", "first"),
    [
        ("en", None, MEETING_EN),
        ("en", "invalid", "Sorry, that key isn't one of the choices."),
        ("en", "silence", "Sorry, I didn't hear a choice."),
        ("es", None, MEETING_ES),
        ("es", "invalid", "Disculpe, esa tecla no es una de las opciones."),
        ("es", "silence", "Disculpe, no escuché ninguna opción."),
    ],
)
def test_reminder_menu_again_says_the_notice_then_the_reminder_and_menu(
    scripts: Scripts, language: str, notice: Notice | None, first: str
) -> None:
    meeting = MEETING_EN if language == "en" else MEETING_ES
    root = parse(
        scripts.reminder_menu_again(
            language=language,
            meeting=meeting,
            action=ACTION,
            notice=notice,
        )
    )

    says_before = ["Say"] if notice is None else ["Say", "Say"]
    assert verbs(root) == [*says_before, "Gather", "Redirect"]
    assert text(root[0]) == first
    assert text(root[len(says_before) - 1]) == meeting
    assert "Hello" not in spoken(root)  # no second greeting
    assert "3" in text(assert_menu_gather(root)[0])


def test_confirmed_names_the_group_and_time(scripts: Scripts) -> None:
    en = assert_says_then_hangs_up(
        parse(scripts.confirmed(language="en", group=GROUP, meeting_when="tomorrow at 6:30 PM"))
    )
    es = assert_says_then_hangs_up(
        parse(scripts.confirmed(language="es", group=GROUP, meeting_when="mañana a las 18:30"))
    )

    assert en == f"Thank you. We'll see you at {GROUP} tomorrow at 6:30 PM. Goodbye."
    assert es == f"Gracias. Le esperamos en {GROUP} mañana a las 18:30. Adiós."


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "Thanks for letting us know. Take care. Goodbye."),
        ("es", "Gracias por avisarnos. Cuídese mucho. Adiós."),
    ],
)
def test_declined(scripts: Scripts, language: str, words: str) -> None:
    assert assert_says_then_hangs_up(parse(scripts.declined(language=language))) == words


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "en",
            "You won't get any more calls or texts from Peerline. If you change your mind, "
            "text START to this number. Goodbye.",
        ),
        (
            "es",
            "Ya no recibirá más llamadas ni mensajes de Peerline. Si cambia de opinión, envíe "
            "la palabra START o INICIAR por mensaje de texto a este número. Adiós.",
        ),
    ],
)
def test_stopped_says_how_to_come_back(scripts: Scripts, language: str, words: str) -> None:
    assert assert_says_then_hangs_up(parse(scripts.stopped(language=language))) == words


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "Thank you for your time. Take care. Goodbye."),
        ("es", "Gracias por su tiempo. Cuídese mucho. Adiós."),
    ],
)
def test_goodbye_after_repeated_silence(scripts: Scripts, language: str, words: str) -> None:
    assert assert_says_then_hangs_up(parse(scripts.goodbye(language=language))) == words


# Voicemail


@pytest.mark.parametrize(
    ("language", "hint", "time"),
    [
        ("en", "Please call us back at this number.", "tomorrow at 6:30 PM"),
        ("es", "Por favor, devuélvanos la llamada a este número.", "mañana a las 18:30"),
    ],
)
def test_voicemail_without_details_names_neither_group_nor_place(
    scripts: Scripts, language: str, hint: str, time: str
) -> None:
    twiml = scripts.voicemail(
        language=language,
        callback_hint=hint,
        group=GROUP,
        location=LOCATION,
        meeting_when=time,
        details_allowed=False,
    )

    root = parse(twiml)
    assert verbs(root) == ["Pause", "Say", "Hangup"]
    assert root[0].get("length") == "1"
    for secret in ("Tuesday Night", "Recovery", "Circle", "St Mark", "basement"):
        assert secret not in twiml
    words = text(root[1])
    assert "Peerline" in words
    assert time in words
    assert hint in words


def test_voicemail_wording_without_details(scripts: Scripts) -> None:
    root = parse(
        scripts.voicemail(
            language="en",
            callback_hint="Please call us back.",
            group=GROUP,
            location=LOCATION,
            meeting_when="tomorrow at 6:30 PM",
            details_allowed=False,
        )
    )

    assert text(root[1]) == (
        "Hello, this is a message from Peerline about your upcoming appointment "
        "tomorrow at 6:30 PM. Please call us back. Goodbye."
    )


@pytest.mark.parametrize("language", ["en", "es"])
def test_voicemail_without_a_time(scripts: Scripts, language: str) -> None:
    root = parse(
        scripts.voicemail(
            language=language,
            callback_hint="Hint.",
            group=None,
            location=None,
            meeting_when=None,
            details_allowed=False,
        )
    )

    words = text(root[1])
    assert words.startswith(("Hello, this is a message from Peerline", "Hola, este es un"))
    assert "None" not in words
    assert "appointment." in words or "cita." in words


@pytest.mark.parametrize(
    ("language", "hint", "time", "expected"),
    [
        (
            "en",
            "Please call us back.",
            "tomorrow at 6:30 PM",
            f"Hello, this is a message from Peerline about your upcoming meeting with {GROUP} "
            f"tomorrow at 6:30 PM at {LOCATION}. Please call us back. Goodbye.",
        ),
        (
            "es",
            "Por favor, devuélvanos la llamada.",
            "mañana a las 18:30",
            f"Hola, este es un mensaje de Peerline sobre su próxima reunión de {GROUP} "
            f"mañana a las 18:30 en {LOCATION}. Por favor, devuélvanos la llamada. Adiós.",
        ),
    ],
)
def test_voicemail_with_details_allowed_names_group_and_place(
    scripts: Scripts, language: str, hint: str, time: str, expected: str
) -> None:
    root = parse(
        scripts.voicemail(
            language=language,
            callback_hint=hint,
            group=GROUP,
            location=LOCATION,
            meeting_when=time,
            details_allowed=True,
        )
    )

    assert verbs(root) == ["Pause", "Say", "Hangup"]
    assert text(root[1]) == expected


# Known callers


def caller_menu(
    scripts: Scripts,
    *,
    language: str = "en",
    first_name: str | None = "Ana",
    next_meeting: str | None = NEXT_EN,
    channel: str = "voice",
    notice: Notice | None = None,
    other_language_key: str = "4",
) -> ET.Element:
    return parse(
        scripts.caller_menu(
            language=language,
            first_name=first_name,
            next_meeting=next_meeting,
            channel=channel,
            action=ACTION,
            notice=notice,
            other_language_key=other_language_key,
        )
    )


def test_caller_menu_with_a_meeting_coming_up(scripts: Scripts) -> None:
    root = caller_menu(scripts)

    assert verbs(root) == ["Say", "Say", "Gather", "Redirect"]
    assert text(root[0]) == "Hello, Ana. Thanks for calling Peerline."
    assert text(root[1]) == NEXT_EN
    gather = assert_menu_gather(root)
    assert verbs(gather) == ["Say", "Say"]
    assert text(gather[0]) == (
        "Press 1 to confirm you're coming. Press 2 to cancel your attendance. "
        "Press 8 to get your reminders by text instead. Press 9 to stop all calls and texts."
    )
    assert text(gather[1]) == "Para español, oprima 4."
    assert voice(gather[1]) == LUPE


def test_caller_menu_without_a_meeting_offers_no_attendance_keys(scripts: Scripts) -> None:
    root = caller_menu(scripts, first_name=None, next_meeting=None)

    assert text(root[0]) == "Hello. Thanks for calling Peerline."
    assert text(root[1]) == "You have no meeting coming up."
    menu = text(gather_of(root)[0])
    assert "Press 1" not in menu
    assert "Press 2" not in menu
    assert "Press 8" in menu
    assert "Press 9" in menu


@pytest.mark.parametrize(
    ("language", "channel", "offer"),
    [
        ("en", "voice", "Press 8 to get your reminders by text instead."),
        ("en", "sms", "Press 8 to get your reminders by phone call instead."),
        ("es", "voice", "Oprima 8 si prefiere recibir sus recordatorios por mensaje de texto."),
        ("es", "sms", "Oprima 8 si prefiere recibir sus recordatorios por llamada telefónica."),
    ],
)
def test_caller_menu_offers_the_other_channel(
    scripts: Scripts, language: str, channel: str, offer: str
) -> None:
    root = caller_menu(scripts, language=language, channel=channel)

    assert offer in text(gather_of(root)[0])


def test_caller_menu_in_spanish_offers_english_in_an_english_voice(scripts: Scripts) -> None:
    root = caller_menu(
        scripts, language="es", next_meeting="Su próxima reunión es mañana a las 18:30."
    )

    assert text(root[0]) == "Hola, Ana. Gracias por llamar a Peerline."
    gather = gather_of(root)
    assert text(gather[0]).startswith(
        "Oprima 1 para confirmar que va a venir. Oprima 2 para cancelar su asistencia."
    )
    assert text(gather[1]) == "For English, press 4."
    assert voice(gather[1]) == JOANNA


def test_caller_menu_language_key_is_the_routes_choice(scripts: Scripts) -> None:
    root = caller_menu(scripts, other_language_key="7")

    assert text(gather_of(root)[1]) == "Para español, oprima 7."


@pytest.mark.parametrize(
    ("notice", "words"),
    [
        ("invalid", "Sorry, that key isn't one of the choices."),
        ("silence", "Sorry, I didn't hear a choice."),
    ],
)
def test_caller_menu_with_a_notice_replaces_the_greeting(
    scripts: Scripts, notice: Notice, words: str
) -> None:
    root = caller_menu(scripts, notice=notice)

    assert verbs(root) == ["Say", "Say", "Gather", "Redirect"]
    assert text(root[0]) == words
    assert text(root[1]) == NEXT_EN
    assert "Hello" not in spoken(root)


def test_caller_menu_rejects_an_unknown_channel(scripts: Scripts) -> None:
    with pytest.raises(ValueError, match="channel"):
        caller_menu(scripts, channel="email")


@pytest.mark.parametrize(
    ("language", "channel", "words"),
    [
        ("en", "sms", "From now on, your reminders will come by text. Goodbye."),
        ("en", "voice", "From now on, your reminders will come by phone call. Goodbye."),
        (
            "es",
            "sms",
            "A partir de ahora, sus recordatorios le llegarán por mensaje de texto. Adiós.",
        ),
        (
            "es",
            "voice",
            "A partir de ahora, sus recordatorios le llegarán por llamada telefónica. Adiós.",
        ),
    ],
)
def test_switched_names_the_new_channel(
    scripts: Scripts, language: str, channel: str, words: str
) -> None:
    root = parse(scripts.switched(language=language, channel=channel))

    assert assert_says_then_hangs_up(root) == words


def test_switched_rejects_an_unknown_channel(scripts: Scripts) -> None:
    with pytest.raises(ValueError, match="channel"):
        scripts.switched(language="en", channel="pigeon")


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "We've noted you can't come. Take care. Goodbye."),
        ("es", "Anotamos que no puede venir. Cuídese mucho. Adiós."),
    ],
)
def test_attendance_cancelled(scripts: Scripts, language: str, words: str) -> None:
    root = parse(scripts.attendance_cancelled(language=language))

    assert assert_says_then_hangs_up(root) == words


# Unknown callers and joining


def test_stranger_menu_asks_for_a_code_ending_with_pound(scripts: Scripts) -> None:
    root = parse(scripts.stranger_menu(language="en", action=ACTION))

    assert verbs(root) == ["Say", "Gather", "Redirect"]
    assert text(root[0]) == "Welcome to Peerline."
    gather = assert_code_gather(root)
    assert verbs(gather) == ["Say", "Say"]
    assert text(gather[0]) == (
        "If you have a group's join code, enter it now, then press the pound key. "
        "To hear how to get help, press star, then the pound key."
    )
    assert text(gather[1]) == "Para español, oprima 4 y luego la tecla numeral."
    assert voice(gather[1]) == LUPE


def test_stranger_menu_in_spanish(scripts: Scripts) -> None:
    root = parse(scripts.stranger_menu(language="es", action=ACTION, timeout=12))

    assert text(root[0]) == "Gracias por llamar a Peerline."
    gather = assert_code_gather(root, timeout="12")
    assert "márquelo ahora y luego oprima la tecla numeral" in text(gather[0])
    assert "asterisco" in text(gather[0])
    assert text(gather[1]) == "For English, press 4, then the pound key."
    assert voice(gather[1]) == JOANNA


@pytest.mark.parametrize(
    ("language", "sorry", "prompt"),
    [
        ("en", "Sorry, that code didn't match a group. Please try again.", "join code"),
        ("es", "Disculpe, ese código no corresponde a ningún grupo.", "código de un grupo"),
    ],
)
def test_unknown_code_apologises_and_asks_again(
    scripts: Scripts, language: str, sorry: str, prompt: str
) -> None:
    root = parse(scripts.unknown_code(language=language, action=ACTION))

    assert verbs(root) == ["Say", "Gather", "Redirect"]
    assert text(root[0]).startswith(sorry)
    assert prompt in text(assert_code_gather(root)[0])


@pytest.mark.parametrize(
    ("language", "joining", "options"),
    [
        ("en", f"You're joining {GROUP}.", "Press 1 to confirm, or 2 to cancel."),
        ("es", f"Se está uniendo a {GROUP}.", "Oprima 1 para confirmar, o 2 para cancelar."),
    ],
)
def test_join_confirm(scripts: Scripts, language: str, joining: str, options: str) -> None:
    root = parse(scripts.join_confirm(language=language, group=GROUP, action=ACTION))

    assert verbs(root) == ["Say", "Gather", "Redirect"]
    assert text(root[0]) == joining
    gather = assert_menu_gather(root)
    assert [text(say) for say in gather] == [options]


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "en",
            f"You're in. We'll call you before each {GROUP} meeting. You can call this number "
            "any time to hear your next meeting. Goodbye.",
        ),
        (
            "es",
            f"Listo, ya es parte del grupo. Le llamaremos antes de cada reunión de {GROUP}. "
            "Puede llamar a este número cuando quiera para escuchar su próxima reunión. Adiós.",
        ),
    ],
)
def test_joined(scripts: Scripts, language: str, words: str) -> None:
    root = parse(scripts.joined(language=language, group=GROUP))

    assert assert_says_then_hangs_up(root) == words


@pytest.mark.parametrize(
    ("language", "keywords"),
    [("en", ("text HELP", "text STOP")), ("es", ("AYUDA", "PARAR"))],
)
def test_help_by_text_names_the_keywords(
    scripts: Scripts, language: str, keywords: tuple[str, ...]
) -> None:
    words = assert_says_then_hangs_up(parse(scripts.help_by_text(language=language)))

    for keyword in keywords:
        assert keyword in words


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "en",
            "You are not receiving calls or texts from Peerline. To start again, text START to "
            "this number. Goodbye.",
        ),
        (
            "es",
            "Usted no está recibiendo llamadas ni mensajes de Peerline. Para volver a "
            "recibirlos, envíe la palabra START o INICIAR por mensaje de texto a este número. "
            "Adiós.",
        ),
    ],
)
def test_not_subscribed(scripts: Scripts, language: str, words: str) -> None:
    root = parse(scripts.not_subscribed(language=language))

    assert assert_says_then_hangs_up(root) == words


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "Sorry, something went wrong. Please try again later. Goodbye."),
        ("es", "Disculpe, algo salió mal. Por favor, intente más tarde. Adiós."),
    ],
)
def test_error(scripts: Scripts, language: str, words: str) -> None:
    assert assert_says_then_hangs_up(parse(scripts.error(language=language))) == words


# Every script: voices and the language fallback

SCRIPTS: dict[str, Callable[[Scripts, str], str]] = {
    "reminder_call": lambda s, lang: s.reminder_call(
        language=lang, first_name="Ana", group=GROUP, meeting="x", action=ACTION
    ),
    "reminder_menu_again": lambda s, lang: s.reminder_menu_again(
        language=lang, meeting="x", action=ACTION, notice="invalid"
    ),
    "confirmed": lambda s, lang: s.confirmed(language=lang, group=GROUP, meeting_when="x"),
    "declined": lambda s, lang: s.declined(language=lang),
    "stopped": lambda s, lang: s.stopped(language=lang),
    "goodbye": lambda s, lang: s.goodbye(language=lang),
    "voicemail": lambda s, lang: s.voicemail(
        language=lang,
        callback_hint="x",
        group=GROUP,
        location=LOCATION,
        meeting_when="x",
        details_allowed=True,
    ),
    "caller_menu": lambda s, lang: s.caller_menu(
        language=lang,
        first_name="Ana",
        next_meeting="x",
        channel="sms",
        action=ACTION,
        notice="silence",
    ),
    "switched": lambda s, lang: s.switched(language=lang, channel="voice"),
    "attendance_cancelled": lambda s, lang: s.attendance_cancelled(language=lang),
    "stranger_menu": lambda s, lang: s.stranger_menu(language=lang, action=ACTION),
    "unknown_code": lambda s, lang: s.unknown_code(language=lang, action=ACTION),
    "join_confirm": lambda s, lang: s.join_confirm(language=lang, group=GROUP, action=ACTION),
    "joined": lambda s, lang: s.joined(language=lang, group=GROUP),
    "message_call": lambda s, lang: s.message_call(
        language=lang, first_name="Ana", group=GROUP, message="x", action=ACTION
    ),
    "message_again": lambda s, lang: s.message_again(language=lang, message="x", action=ACTION),
    "message_voicemail": lambda s, lang: s.message_voicemail(
        language=lang, callback_hint="x", group=GROUP, message="x", details_allowed=True
    ),
    "help_by_text": lambda s, lang: s.help_by_text(language=lang),
    "not_subscribed": lambda s, lang: s.not_subscribed(language=lang),
    "error": lambda s, lang: s.error(language=lang),
}
OFFERS = {"en": ("For English",), "es": ("Para español",)}


@pytest.mark.parametrize("name", SCRIPTS)
@pytest.mark.parametrize(("language", "other"), [("en", "es"), ("es", "en")])
def test_every_say_has_the_voice_of_its_language(
    scripts: Scripts, name: str, language: str, other: str
) -> None:
    says = list(parse(SCRIPTS[name](scripts, language)).iter("Say"))

    assert says
    for say in says:
        offer = text(say).startswith(OFFERS[other])
        assert voice(say) == VOICE_OF[other if offer else language], text(say)


@pytest.mark.parametrize("name", SCRIPTS)
@pytest.mark.parametrize("language", ["fr", "", "EN", "es-MX"])
def test_an_unknown_language_falls_back_to_english(
    scripts: Scripts, name: str, language: str
) -> None:
    assert SCRIPTS[name](scripts, language) == SCRIPTS[name](scripts, "en")


def test_scripts_need_the_program_name() -> None:
    with pytest.raises(ValueError, match="program"):
        Scripts(Wording())
