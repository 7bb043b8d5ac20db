"""Tests for service.conversation.keywords: how Peerline reads an incoming text message."""

import dataclasses
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from service.conversation import keywords, words
from service.conversation.keywords import DEFAULT_CRISIS_WORDS, Intent, Reading, read_message

# The expected lists are written out here rather than imported, so that a keyword
# silently dropped from the module fails a test instead of vanishing from both sides.
OPT_OUT_EN = [
    "STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
    "OPTOUT", "OPT OUT", "OPT-OUT", "REMOVE",
    "UNSUBCRIBE", "UNSUSCRIBE", "STPO", "STOPP", "STAHP", "OPOUT",
]  # fmt: skip
OPT_OUT_ES = [
    "PARAR", "ALTO", "CANCELAR", "BAJA", "DETENER", "BASTA", "NO MÁS", "NO MAS",
    "DARME DE BAJA", "PARA", "DESUSCRIBIR", "DESUSCRIBIRME",
]  # fmt: skip
OPT_IN_EN = ["START", "UNSTOP"]
OPT_IN_ES = ["INICIAR", "COMENZAR", "REANUDAR"]
YES_EN = ["YES", "Y"]
YES_ES = ["SI", "SÍ"]
HELP_EN = ["HELP", "INFO"]
HELP_ES = ["AYUDA", "AYÚDA"]
CONFIRM_ANY = ["C", "1"]
CONFIRM_EN = ["CONFIRM", "CONFIRMED"]
CONFIRM_ES = ["CONFIRMAR", "CONFIRMO", "CONFIRMÓ"]
DECLINE_ANY = ["N", "NO", "2"]
DECLINE_EN = [
    "CANT", "CAN'T", "CAN'T COME", "CANT COME", "CANNOT COME", "NOT COMING",
    "CAN'T MAKE IT", "CANNOT MAKE IT",
]  # fmt: skip
DECLINE_ES = ["NO PUEDO", "NO PUEDO IR", "NO PUEDO VENIR", "NO VOY", "NO ASISTIRÉ", "NO ASISTIRE"]
PAUSE_EN = ["PAUSE"]
PAUSE_ES = ["PAUSA", "PAUSAR"]
RESUME_EN = ["RESUME", "UNPAUSE"]
RESUME_ES = ["CONTINUAR", "SEGUIR"]

PHRASES_EN = [
    "stop texting me", "stop messaging me", "stop sending me", "stop contacting me",
    "stop calling me", "stop the texts", "stop the messages", "stop the reminders",
    "stop these texts", "stop these messages", "stop these reminders", "unsubscribe me",
    "opt me out", "no more texts", "no more messages", "no more reminders",
    "I want to opt out", "I want to unsubscribe",
]  # fmt: skip
PHRASES_ES = [
    "no me escriban", "no me escribas", "no me envíen", "no me envien", "no me envíes",
    "no me manden", "no me mandes", "dejen de escribirme", "dejen de enviarme",
    "dejen de mandarme", "deja de escribirme", "deja de enviarme", "deja de mandarme",
    "ya no quiero mensajes", "no quiero más mensajes", "no más mensajes",
    "no mas mensajes", "quítenme de la lista", "quitenme de la lista",
    "sáquenme de la lista", "darme de baja", "denme de baja", "borren mi número",
    "borren mi numero",
]  # fmt: skip
COMMANDS = [
    "remove me", "take me off this list", "don't text me", "dont text me", "do not text me",
    "don't message me", "do not message me", "don't contact me", "do not contact me",
    "leave me alone", "delete my number", "lose my number",
]  # fmt: skip

SPEC_CRISIS_WORDS = [
    "suicide", "suicidal", "kill myself", "killing myself", "overdose", "overdosed",
    "want to die", "end my life", "hurt myself", "suicidio", "suicidarme", "matarme",
    "quiero morir", "sobredosis",
]  # fmt: skip


def opt_out(language: str, *, crisis: bool = False) -> Reading:
    return Reading(Intent.OPT_OUT, language=language, crisis=crisis)


def message(
    *, code: str | None = None, language: str | None = None, crisis: bool = False
) -> Reading:
    return Reading(Intent.MESSAGE, code=code, language=language, crisis=crisis)


def maybe(language: str, *, crisis: bool = False) -> Reading:
    return Reading(Intent.MAYBE_OPT_OUT, language=language, crisis=crisis)


def confirm(language: str | None = None) -> Reading:
    return Reading(Intent.CONFIRM, language=language)


def decline(language: str | None = None) -> Reading:
    return Reading(Intent.DECLINE, language=language)


def pause(language: str, weeks: int | None = None) -> Reading:
    return Reading(Intent.PAUSE, language=language, weeks=weeks)


def resume(language: str) -> Reading:
    return Reading(Intent.RESUME, language=language)


def dressed(word: str) -> Iterator[str]:
    """Yield the ways people really type a keyword: any case, padding, punctuation, emoji."""
    yield word
    yield word.lower()
    yield word.upper()
    yield word.title()
    yield "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(word))
    yield f"  {word}  "
    yield f"{word}!!"
    yield f"'{word.lower()}.'"
    yield f"{word} 🙏"
    yield f"\t{word}?\n"
    yield f"“{word}”"
    yield f"¡{word.lower()}!"


def fullwidth(text: str) -> str:
    """Return the text in fullwidth forms, as some Asian phone keyboards type it."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def cases(words: list[str], expected: Reading) -> list[tuple[str, Reading]]:
    return [(text, expected) for word in words for text in dressed(word)]


# --- Opt-out keywords -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    cases(OPT_OUT_EN, opt_out("en")) + cases(OPT_OUT_ES, opt_out("es")),
)
def test_every_opt_out_keyword_in_every_dress_is_an_opt_out(body: str, expected: Reading) -> None:
    assert read_message(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("please stop", opt_out("en")),
        ("stop please", opt_out("en")),
        ("STOP NOW", opt_out("en")),
        ("stop, thanks", opt_out("en")),
        ("Stop. Thank you!", opt_out("en")),
        ("ok stop", opt_out("en")),
        ("Okay, just stop.", opt_out("en")),
        ("pls unsubscribe thx", opt_out("en")),
        ("Hi, cancel please", opt_out("en")),
        ("quit right now", opt_out("en")),
        ("STOP STOP STOP", opt_out("en")),
        ("Stop. Unsubscribe.", opt_out("en")),
        ("No. Stop.", opt_out("en")),
        ("Nope. Stop.", opt_out("en")),
        ("nope, quit", opt_out("en")),
        ("stop all please", opt_out("en")),
        ("opt-out now", opt_out("en")),
        ("por favor parar", opt_out("es")),
        ("basta ya", opt_out("es")),
        ("Baja, gracias", opt_out("es")),
        ("hola, cancelar por favor", opt_out("es")),
        ("No más, muchas gracias", opt_out("es")),
        ("darme de baja porfa", opt_out("es")),
        ("ALTO ya", opt_out("es")),
        ("stop por favor", opt_out("en")),
        ("parar please", opt_out("es")),
    ],
)
def test_filler_words_around_an_opt_out_keyword_are_ignored(body: str, expected: Reading) -> None:
    assert read_message(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "I can't stop thinking about last week",
        "Is there a bus stop near the hall?",
        "I want to quit drinking",
        "Did the meeting end late?",
        "I had to cancel my doctor's appointment",
        "stop by the office later?",
        "I will never stop coming",
        "I just quit my job",
        "The end of the week works for me",
        "Cancel that, I can come after all",
        "Stop worrying about me, I'm fine",
        "no stop at the pharmacy today",
        "quit smoking 30 days!!",
        "end of story",
        "Start time is 7?",
        "yes and no",
        "Help me understand the schedule",
        "info about Tuesday?",
        "ok",
        "thanks!",
        "I might lose my number next month",
    ],
)
def test_a_keyword_inside_an_ordinary_sentence_is_a_message(body: str) -> None:
    assert read_message(body) == message()


@pytest.mark.parametrize(
    "body",
    [
        # A stop word beside words the grammar cannot place: a person decides.
        "stop it you're making me laugh",
        "stop.. sign on the corner is gone?",
        "stop stop it",
        "no stop",
        "Nope stop",
        "2 stop",
        # A stop word standing alone beside a question, or beside anything that does not
        # back it up.
        "STOP. Who is this?",
        "Stop, you guys are the best",
        # "Take me off" what? One group, the waitlist, everything?
        "take me off",
        "Please take me off",
        # Close to a request, never enough for one.
        "Enough!",
        "too many texts",
        "I'm done with this",
        "wrong number",
        # A request narrowed to some times.
        "please don't text me so early",
        "I said do not message me after nine",
        "stop texting me on Sundays",
    ],
)
def test_what_may_be_a_request_to_stop_is_read_as_maybe(body: str) -> None:
    assert read_message(body) == maybe("en")


@pytest.mark.parametrize(
    "body",
    ["Ya no quiero", "Son demasiados mensajes", "No me escriban tan temprano", "Número equivocado"],
)
def test_what_may_be_a_request_to_stop_in_spanish_is_read_as_maybe(body: str) -> None:
    assert read_message(body) == maybe("es")


# --- Opt-out phrases ------------------------------------------------------------


@pytest.mark.parametrize("phrase", PHRASES_EN)
@pytest.mark.parametrize("template", ["{}", "{}!", "Hey, {} please", "can you {} anymore??"])
def test_english_revocation_phrase_anywhere_is_an_opt_out(phrase: str, template: str) -> None:
    assert read_message(template.format(phrase)) == opt_out("en")


@pytest.mark.parametrize("phrase", PHRASES_ES)
@pytest.mark.parametrize("template", ["{}", "{}!", "Hola, {} por favor", "¡{} más!"])
def test_spanish_revocation_phrase_anywhere_is_an_opt_out(phrase: str, template: str) -> None:
    assert read_message(template.format(phrase)) == opt_out("es")


@pytest.mark.parametrize("phrase", COMMANDS)
@pytest.mark.parametrize(
    "template",
    [
        "{}",
        "{}!!",
        "Please {}",
        "please, {}",
        "Hi. {}",
        "This is Maria, {} now",
        "Could you please {}",
        "can u {}",
        "I want you to {}",
        "ok so {}",
        "No. {}.",
        "thank you, {}",
    ],
)
def test_command_phrase_opening_a_clause_is_an_opt_out(phrase: str, template: str) -> None:
    assert read_message(template.format(phrase)) == opt_out("en")


@pytest.mark.parametrize(
    "body",
    [
        "my kids don't text me anymore",
        "You don't text me enough!",
        "will they remove me from the group if I miss?",
        "I wish they'd leave me alone",
        "my family won't leave me alone",
        "Did you delete my number?",
        "she never takes me off the rota... I mean take me off Tuesdays",
        "please don't remove me",
        "can you not take me off the list",
    ],
)
def test_command_phrase_inside_a_statement_is_a_message(body: str) -> None:
    assert read_message(body) == message(language="en")


@pytest.mark.parametrize(
    "body",
    [
        "don't text me",
        "DON'T TEXT ME",
        "dont text me",
        "don\u2019t text me",
        "don\u2018t text me",
        "don\u02bct text me",
        "don\u00b4t text me",
        "don`t text me",
        "Do not text me.",
    ],
)
def test_apostrophe_shape_does_not_matter(body: str) -> None:
    assert read_message(body) == opt_out("en")


# --- Negation guard -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "language"),
    [
        ("don't stop texting me", "en"),
        ("Don\u2019t stop texting me!", "en"),
        ("please never stop sending me these", "en"),
        ("never ever stop sending me these", "en"),
        ("do not stop messaging me", "en"),
        ("I don't want you to stop texting me", "en"),
        ("please don't ever stop calling me", "en"),
        ("I don't want to opt out", "en"),
        ("don't unsubscribe me", "en"),
        ("Don't you dare stop sending me these", "en"),
        ("my ex won't stop calling me", "en"),
        ("no dejen de escribirme", "es"),
        ("Por favor nunca dejen de enviarme mensajes", "es"),
        ("no quiero darme de baja", "es"),
        ("No quiero que dejen de escribirme", "es"),
        ("jamás dejen de mandarme esto", "es"),
    ],
)
def test_a_negated_phrase_is_a_message(body: str, language: str) -> None:
    assert read_message(body) == message(language=language)


@pytest.mark.parametrize(
    ("body", "language"),
    [
        ("stop texting me", "en"),
        ("Don't. Stop texting me.", "en"),
        ("I don't know who this is, stop texting me", "en"),
        ("no stop texting me", "en"),
        ("Why won't you stop texting me?!", "en"),
        ("can't you stop calling me", "en"),
        ("never again, stop sending me these", "en"),
        ("I do not want these. Unsubscribe me", "en"),
        ("dejen de escribirme", "es"),
        ("No. Dejen de escribirme", "es"),
        ("No, no me escriban", "es"),
        ("no no me escriban", "es"),
        ("quiero darme de baja", "es"),
    ],
)
def test_the_same_phrase_without_a_negation_is_an_opt_out(body: str, language: str) -> None:
    assert read_message(body) == opt_out(language)


# --- Opt-in, YES, HELP ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    cases(OPT_IN_EN, Reading(Intent.OPT_IN, language="en"))
    + cases(OPT_IN_ES, Reading(Intent.OPT_IN, language="es"))
    + cases(YES_EN, Reading(Intent.YES, language="en"))
    + cases(YES_ES, Reading(Intent.YES, language="es"))
    + cases(HELP_EN, Reading(Intent.HELP, language="en"))
    + cases(HELP_ES, Reading(Intent.HELP, language="es")),
)
def test_every_opt_in_yes_and_help_keyword_in_every_dress(body: str, expected: Reading) -> None:
    assert read_message(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("start please", Reading(Intent.OPT_IN, language="en")),
        ("Unstop, thanks!", Reading(Intent.OPT_IN, language="en")),
        ("reanudar por favor", Reading(Intent.OPT_IN, language="es")),
        ("yes please", Reading(Intent.YES, language="en")),
        ("Yes! Thank you", Reading(Intent.YES, language="en")),
        ("ok yes", Reading(Intent.YES, language="en")),
        ("si por favor", Reading(Intent.YES, language="es")),
        ("Sí, gracias", Reading(Intent.YES, language="es")),
        ("yes yes", Reading(Intent.YES, language="en")),
        ("help please", Reading(Intent.HELP, language="en")),
        ("help?", Reading(Intent.HELP, language="en")),
        ("HELP!!", Reading(Intent.HELP, language="en")),
        ("info pls", Reading(Intent.HELP, language="en")),
        ("ayuda por favor", Reading(Intent.HELP, language="es")),
        ("¿Ayuda?", Reading(Intent.HELP, language="es")),
    ],
)
def test_filler_words_around_other_keywords_are_ignored(body: str, expected: Reading) -> None:
    assert read_message(body) == expected


# --- Priority -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("HELP STOP", opt_out("en")),
        ("stop help", opt_out("en")),
        ("Help! Stop texting me", opt_out("en")),
        ("start stop", opt_out("en")),
        ("yes, stop", opt_out("en")),
        ("ayuda, parar", opt_out("es")),
        ("info. no me escriban", opt_out("es")),
        ("leave me alone", opt_out("en")),
        ("LEAVE ME ALONE!!!", opt_out("en")),
        ("join abc123 and stop texting me", opt_out("en")),
        ("start yes", Reading(Intent.OPT_IN, language="en")),
        ("yes start", Reading(Intent.OPT_IN, language="en")),
        ("yes help", Reading(Intent.YES, language="en")),
        ("help si", Reading(Intent.YES, language="es")),
        ("stop parar", opt_out("en")),
        ("parar stop", opt_out("es")),
    ],
)
def test_opt_out_beats_everything_then_opt_in_yes_help(body: str, expected: Reading) -> None:
    assert read_message(body) == expected


# --- RSVP replies, PAUSE and RESUME (issue 3) ------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    cases(CONFIRM_ANY, confirm())
    + cases(CONFIRM_EN, confirm("en"))
    + cases(CONFIRM_ES, confirm("es"))
    + cases(DECLINE_ANY, decline())
    + cases(DECLINE_EN, decline("en"))
    + cases(DECLINE_ES, decline("es"))
    + cases(PAUSE_EN, pause("en"))
    + cases(PAUSE_ES, pause("es"))
    + cases(RESUME_EN, resume("en"))
    + cases(RESUME_ES, resume("es")),
)
def test_every_rsvp_pause_and_resume_keyword_in_every_dress(body: str, expected: Reading) -> None:
    assert read_message(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("C please", confirm()),
        ("1!", confirm()),
        ("confirm, thanks", confirm("en")),
        ("Confirmed. Thank you!", confirm("en")),
        ("ok confirm", confirm("en")),
        ("Confirmó, gracias", confirm("es")),
        ("confirmar por favor", confirm("es")),
        ("C C", confirm()),
        ("No thanks", decline()),
        ("no, thanks", decline()),
        ("N por favor", decline()),
        ("2 pls", decline()),
        ("Sorry? No.", message()),  # "sorry" is not filler: a person reads it
        ("can't come, thanks", decline("en")),
        ("Not coming!", decline("en")),
        ("No voy, gracias", decline("es")),
        ("no puedo ir, lo siento", message()),
        ("pause please", pause("en")),
        ("resume thanks", resume("en")),
        ("seguir por favor", resume("es")),
    ],
)
def test_filler_words_around_rsvp_pause_and_resume_are_ignored(
    body: str, expected: Reading
) -> None:
    assert read_message(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # YES is the carriers' opt-in keyword; it never doubles as an RSVP.
        ("yes", Reading(Intent.YES, language="en")),
        ("Y", Reading(Intent.YES, language="en")),
        ("sí", Reading(Intent.YES, language="es")),
        ("yes confirm", Reading(Intent.YES, language="en")),
        ("C. Yes.", Reading(Intent.YES, language="en")),
        # ...and the RSVP keywords are not YES.
        ("confirm", confirm("en")),
        ("C", confirm()),
        # Filler alone confirms nothing.
        ("ok", message()),
        ("okay thanks", message()),
    ],
)
def test_yes_is_not_a_confirmation(body: str, expected: Reading) -> None:
    assert read_message(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # A decline keyword alone in its clause (with filler) declines...
        ("no", decline()),
        ("No.", decline()),
        ("No. No.", decline()),
        ("no no", decline()),
        ("no, can't come", decline("en")),
        ("NO. NO PUEDO", decline("es")),
        # ...in a clause of its own it meets the other keywords by priority...
        ("No. Stop.", opt_out("en")),
        ("Can't. Stop.", opt_out("en")),
        ("No puedo. Parar.", opt_out("es")),
        ("No, help", Reading(Intent.HELP, language="en")),
        ("No. Start", Reading(Intent.OPT_IN, language="en")),
        ("2, help", Reading(Intent.HELP, language="en")),
        # ...but sharing a clause with another keyword it is a sentence ("I can't stop").
        ("no stop", maybe("en")),
        ("can't stop", message()),
        ("cant stop!", message()),
        ("no puedo parar", message()),
        ("no help", message()),
        ("no yes", message()),
        ("no start", message()),
        ("2 stop", maybe("en")),
        ("help 2", message()),
        ("no confirm", message()),
        ("1 2", message()),
        ("No pause", message()),
    ],
)
def test_a_decline_keyword_counts_only_with_filler_in_its_clause(
    body: str, expected: Reading
) -> None:
    assert read_message(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("no más", opt_out("es")),
        ("NO MAS", opt_out("es")),
        ("No más, gracias", opt_out("es")),
        ("No, no más", opt_out("es")),
        ("no mas mensajes", opt_out("es")),
        ("no me escriban", opt_out("es")),
        ("no more texts", opt_out("en")),
        ("no stop texting me", opt_out("en")),
        ("no dejen de escribirme", message(language="es")),
    ],
)
def test_no_keeps_its_opt_out_and_negation_readings(body: str, expected: Reading) -> None:
    assert read_message(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "no I'm fine",
        "No, I'll be there",
        "no problem",
        "no way!",
        "I said no",
        "no worries see you tuesday",
        "not coming today, sick",
        "I can't come",
        "I'm not coming",
        "no puedo ir mañana",
        "c u there",
        "1 more week to go",
        "I'm 2 minutes away",
        "I need to pause",
        "pause the reminders",
        "resume? what do you mean",
        "seguir adelante es difícil",
    ],
)
def test_rsvp_pause_and_resume_words_inside_a_sentence_are_a_message(body: str) -> None:
    assert read_message(body) == message()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("PAUSE 2", pause("en", 2)),
        ("pause 2 weeks", pause("en", 2)),
        ("Pause for 3 weeks", pause("en", 3)),
        ("pause for 3", pause("en", 3)),
        ("pause 1 week", pause("en", 1)),
        ("pause 1", pause("en", 1)),
        ("pause 52", pause("en", 52)),
        ("pause 052 weeks", pause("en", 52)),
        ("pause: 2 weeks", pause("en", 2)),
        ("please pause 4 weeks, thanks!", pause("en", 4)),
        ("PAUSE 2 WEEKS", pause("en", 2)),
        (fullwidth("pause 2"), pause("en", 2)),
        ("pausa 2", pause("es", 2)),
        ("pausar 2 semanas", pause("es", 2)),
        ("Pausa por 1 semana", pause("es", 1)),
        ("PAUSAR 6 SEMANAS por favor", pause("es", 6)),
        ("pause 2 semanas", pause("en", 2)),
        ("pause", pause("en")),
        ("pausar", pause("es")),
        ("Pause 2. Pause 3.", pause("en", 2)),
        ("pause. pause 3", pause("en", 3)),
    ],
)
def test_pause_with_an_optional_number_of_weeks(body: str, expected: Reading) -> None:
    assert read_message(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Out of 1..52: a person answers, in the keyword's language.
        ("pause 0", message(language="en")),
        ("pause 00", message(language="en")),
        ("pause 53", message(language="en")),
        ("pause 100 weeks", message(language="en")),
        ("pause for 99 weeks please", message(language="en")),
        ("pausar 60 semanas", message(language="es")),
        ("pause " + "9" * 5000, message(language="en")),
        # Not a number of weeks at all: a plain message.
        ("pause two weeks", message()),
        ("pause 2 days", message()),
        ("pause 2 weeks because I'm away", message()),
        ("pause weeks", message()),
        ("pause for", message()),
        ("pause \u0662", message()),  # Arabic-Indic 2: only ASCII digits are read
        ("2 weeks pause", message()),
    ],
)
def test_pause_with_a_number_out_of_range_or_no_number_is_a_message(
    body: str, expected: Reading
) -> None:
    assert read_message(body) == expected


def test_pause_weeks_limit_is_a_year() -> None:
    assert keywords.PAUSE_MAX_WEEKS == 52


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("resume", resume("en")),
        ("unpause", resume("en")),
        ("continuar", resume("es")),
        ("seguir", resume("es")),
        # REANUDAR stays opt-in: re-subscribing someone who asks must never be lost.
        ("reanudar", Reading(Intent.OPT_IN, language="es")),
        ("REANUDAR por favor", Reading(Intent.OPT_IN, language="es")),
        ("reanudar, seguir", Reading(Intent.OPT_IN, language="es")),
        ("start", Reading(Intent.OPT_IN, language="en")),
    ],
)
def test_resume_and_reanudar(body: str, expected: Reading) -> None:
    assert read_message(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("1 stop", opt_out("en")),
        ("C. Stop.", opt_out("en")),
        ("confirm stop", opt_out("en")),
        ("pause 2 weeks stop", opt_out("en")),
        ("stop. pause 2", opt_out("en")),
        ("resume. parar", opt_out("es")),
        ("No. Baja.", opt_out("es")),
        ("start 1", Reading(Intent.OPT_IN, language="en")),
        ("resume start", Reading(Intent.OPT_IN, language="en")),
        ("yes 1", Reading(Intent.YES, language="en")),
        ("N. Si.", Reading(Intent.YES, language="es")),
        ("help 1", Reading(Intent.HELP, language="en")),
        ("pause help", Reading(Intent.HELP, language="en")),
        ("C, N", confirm()),
        ("No. Confirm.", confirm("en")),
        ("confirm, pause", confirm("en")),
        ("2. pause", decline()),
        ("No, pause 2 weeks", decline()),
        ("resume, pause 2", pause("en", 2)),
        ("pause, resume", pause("en")),
    ],
)
def test_priority_opt_out_opt_in_yes_help_confirm_decline_pause_resume(
    body: str, expected: Reading
) -> None:
    assert read_message(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("1", confirm()),
        ("N", decline()),
        ("NO", decline()),
        ("1, confirm", confirm("en")),
        ("C, confirmo", confirm("es")),
        ("confirmo. C", confirm("es")),
        ("2. No puedo.", decline("es")),
        ("No. Can't come.", decline("en")),
    ],
)
def test_language_comes_from_the_first_keyword_that_has_one(body: str, expected: Reading) -> None:
    assert read_message(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("1", confirm()),
        ("2", decline()),
        ("3", message()),
        ("12", message()),
        ("123", message(code="123")),
        ("1234", message(code="1234")),
        ("join 1", message(language="en")),
        ("join 2", message(language="en")),
        ("leave 1", message(language="en")),
        ("confirmed", confirm("en")),
        ("unpause", resume("en")),
        ("continuar", resume("es")),
        ("pausar", pause("es")),
        # Not keywords, so code-shaped words like any other: the caller looks them up.
        ("weeks", message(code="WEEKS")),
        ("continue", message(code="CONTINUE")),
    ],
)
def test_rsvp_numbers_and_keywords_are_never_group_codes(body: str, expected: Reading) -> None:
    assert read_message(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("1", confirm()),
        ("pause 2 weeks", pause("en", 2)),
        ("pause 2 weeks, I want to die", message(crisis=True)),
        ("No. I want to die", message(crisis=True)),
        ("no more texts, I want to die", opt_out("en", crisis=True)),
    ],
)
def test_crisis_is_checked_alongside_the_new_intents(body: str, expected: Reading) -> None:
    assert read_message(body) == expected


# --- JOIN and LEAVE -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("JOIN ABC123", Reading(Intent.JOIN, code="ABC123", language="en")),
        ("join abc123", Reading(Intent.JOIN, code="ABC123", language="en")),
        ("  Join: grp42!! ", Reading(Intent.JOIN, code="GRP42", language="en")),
        ("join #abc", Reading(Intent.JOIN, code="ABC", language="en")),
        ("please join abc123", Reading(Intent.JOIN, code="ABC123", language="en")),
        ("join abc123 thanks", Reading(Intent.JOIN, code="ABC123", language="en")),
        ("join 123456789012", Reading(Intent.JOIN, code="123456789012", language="en")),
        ("join now", Reading(Intent.JOIN, code="NOW", language="en")),
        ("join Café", Reading(Intent.JOIN, code="CAFE", language="en")),
        (fullwidth("join abc123"), Reading(Intent.JOIN, code="ABC123", language="en")),
        ("UNIRME abc123", Reading(Intent.JOIN, code="ABC123", language="es")),
        ("unir xyz", Reading(Intent.JOIN, code="XYZ", language="es")),
        ("Unirme grupo1 por favor", Reading(Intent.JOIN, code="GRUPO1", language="es")),
        ("LEAVE", Reading(Intent.LEAVE, language="en")),
        ("leave.", Reading(Intent.LEAVE, language="en")),
        ("leave please", Reading(Intent.LEAVE, language="en")),
        ("leave now", Reading(Intent.LEAVE, language="en")),
        ("LEAVE ABC123", Reading(Intent.LEAVE, code="ABC123", language="en")),
        ("leave abc123 thanks", Reading(Intent.LEAVE, code="ABC123", language="en")),
        ("salir", Reading(Intent.LEAVE, language="es")),
        ("SALIR por favor", Reading(Intent.LEAVE, language="es")),
        ("Salir abc123", Reading(Intent.LEAVE, code="ABC123", language="es")),
    ],
)
def test_join_and_leave(body: str, expected: Reading) -> None:
    assert read_message(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("join", message(language="en")),
        ("JOIN!", message(language="en")),
        ("join ab", message(language="en")),
        ("join a1", message(language="en")),
        ("join abcdefghijklm", message(language="en")),
        ("join 1234567890123", message(language="en")),
        ("join \u0430\u0431\u0432123", message(language="en")),  # Cyrillic
        ("join 日本語", message(language="en")),
        ("unirme ab", message(language="es")),
        ("leave ab", message(language="en")),
        ("salir x", message(language="es")),
        ("join abc-123", message()),
        ("join abc 123", message()),
        ("join ab_c12", message()),
        ("Join us for coffee after?", message()),
        ("leave early today?", message()),
        ("I want to join abc123", message()),
    ],
)
def test_join_and_leave_with_a_bad_code_are_messages(body: str, expected: Reading) -> None:
    assert read_message(body) == expected


# --- Bare codes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("abc123", "ABC123"),
        ("ABC", "ABC"),
        ("  #Grp42! ", "GRP42"),
        ("abcdefghijkl", "ABCDEFGHIJKL"),
        ("123456", "123456"),
        ("café", "CAFE"),
        (fullwidth("GRP42"), "GRP42"),
        ("hello123", "HELLO123"),
    ],
)
def test_a_lone_code_shaped_word_is_a_message_carrying_the_code(body: str, code: str) -> None:
    assert read_message(body) == message(code=code)


@pytest.mark.parametrize(
    "body",
    [
        "ab",
        "abcdefghijklm",
        "abc 123",
        "abc-123",
        "thanks",
        "okay",
        "hello",
        "please",
        "gracias",
        "nope",
        "never",
        "nunca",
        "абв",
        "ab_cd",
        "",
    ],
)
def test_no_code_when_the_lone_word_is_not_code_shaped_or_is_a_known_word(body: str) -> None:
    assert read_message(body) == message()


def test_a_lone_crisis_word_carries_no_code() -> None:
    assert read_message("suicidal") == message(crisis=True)


# --- Crisis ---------------------------------------------------------------------


@pytest.mark.parametrize("word", SPEC_CRISIS_WORDS)
def test_every_documented_crisis_word_is_a_default(word: str) -> None:
    assert word in DEFAULT_CRISIS_WORDS
    assert read_message(f"honestly... {word.upper()}?? idk") == message(crisis=True)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("stop texting me I want to die", opt_out("en", crisis=True)),
        ("unsubscribe me, I want to kill myself", opt_out("en", crisis=True)),
        # A stop word beside another sentence reaches a person, flagged and marked.
        ("STOP. I want to kill myself", maybe("en", crisis=True)),
        ("no me escriban, quiero morir", opt_out("es", crisis=True)),
        ("help, I think I overdosed", message(crisis=True)),
        ("I'm not suicidal, just tired", message(crisis=True)),
        ("Overdosed?", message(crisis=True)),
        ("pensé en suicidarme", message(crisis=True)),
        ("SOBREDOSIS", message(crisis=True)),
        ("i want to\ndie", message(crisis=True)),
        ("I want to. Die.", message(crisis=True)),
        ("I don\u2019t want to live like this", message(crisis=True)),
        ("I'm on a diet", message()),
        ("my diet is going well", message()),
        ("die hard is on tonight", message()),
        ("my phone died", message()),
        ("I'll end my shift early", message()),
        ("the killers concert was great", message()),
        ("overdue library books", message()),
        ("stop", opt_out("en")),
        ("help", Reading(Intent.HELP, language="en")),
    ],
)
def test_crisis_is_flagged_on_every_message_whatever_the_intent(
    body: str, expected: Reading
) -> None:
    assert read_message(body) == expected


@pytest.mark.parametrize(
    ("body", "words", "crisis"),
    [
        ("I had a relapse", ("relapse",), True),
        ("I had a RELAPSE.", ["relapse"], True),
        ("I relapsed", ("relapse",), False),
        ("using again", ("Using  Again!",), True),
        ("i want to die", ("relapse",), False),
        ("I read about suicide prevention", (), False),
        ("hello there", ("!!!", "   "), False),
        ("I had a recaída", ("recaida",), True),
        ("I had a recaida", ("RECAÍDA",), True),
        ("I had a relapse", "relapse", True),
        ("a e i", "aei", False),
    ],
)
def test_custom_crisis_words_replace_the_defaults(
    body: str, words: tuple[str, ...] | list[str] | str, crisis: bool
) -> None:
    assert read_message(body, crisis_words=words) == message(crisis=crisis)


def test_custom_crisis_words_do_not_change_the_intent() -> None:
    assert read_message("stop texting me, I relapsed", crisis_words=["relapsed"]) == opt_out(
        "en", crisis=True
    )


# --- Normalisation edge cases ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", message()),
        ("   ", message()),
        ("?!.,;:", message()),
        ("🙏🙏🙏", message()),
        ("\x00\x07\x1b", message()),
        ("\ud800", message()),
        ("توقف", message()),
        ("\u202eSTOP\u202c", opt_out("en")),
        ("\u200fstop\u200f", opt_out("en")),
        ("S\u200bTOP", opt_out("en")),
        ("ST\u00adOP", opt_out("en")),
        ("\u00a0STOP\u00a0", opt_out("en")),
        (fullwidth("STOP"), opt_out("en")),
        (fullwidth("Stop!"), opt_out("en")),
        ("stop\r\n", opt_out("en")),
        ("s t o p", message()),
        ("stopp", opt_out("en")),  # a misspelling carriers read as STOP
        ("NO\u0301 MA\u0301S", opt_out("es")),
        ("no   más", opt_out("es")),
        ("x" * 1600, message()),
        ("stop " * 320, opt_out("en")),
        ("I feel ok today. " * 94, message()),
    ],
)
def test_odd_input_is_read_without_error(body: str, expected: Reading) -> None:
    assert read_message(body) == expected


def test_reading_is_immutable() -> None:
    reading = read_message("stop")
    with pytest.raises(dataclasses.FrozenInstanceError):
        reading.intent = Intent.MESSAGE  # type: ignore[misc]


def test_intent_values_are_stable_strings() -> None:
    assert {i.value for i in Intent} == {
        "opt_out", "opt_in", "yes", "help", "confirm", "decline", "pause", "resume",
        "join", "leave", "maybe_opt_out", "message",
    }  # fmt: skip
    assert f"{Intent.CONFIRM}" == "confirm"
    assert f"{Intent.OPT_OUT}" == "opt_out"


def test_reading_defaults() -> None:
    assert Reading(Intent.MESSAGE) == Reading(Intent.MESSAGE, None, None, False, None)


# --- The documented lists -------------------------------------------------------


@pytest.mark.parametrize(
    ("documented", "expected"),
    [
        (keywords.OPT_OUT_KEYWORDS_EN, OPT_OUT_EN),
        (keywords.OPT_OUT_KEYWORDS_ES, [k for k in OPT_OUT_ES if k != "NO MAS"]),
        (keywords.OPT_IN_KEYWORDS_EN, OPT_IN_EN),
        (keywords.OPT_IN_KEYWORDS_ES, OPT_IN_ES),
        (keywords.YES_KEYWORDS_EN, YES_EN),
        (keywords.YES_KEYWORDS_ES, ["SÍ", "SI"]),
        (keywords.HELP_KEYWORDS_EN, HELP_EN),
        (keywords.HELP_KEYWORDS_ES, ["AYUDA"]),
        (keywords.JOIN_KEYWORDS_EN, ["JOIN"]),
        (keywords.JOIN_KEYWORDS_ES, ["UNIRME", "UNIR"]),
        (keywords.LEAVE_KEYWORDS_EN, ["LEAVE"]),
        (keywords.LEAVE_KEYWORDS_ES, ["SALIR"]),
        (keywords.CONFIRM_KEYWORDS_ANY, CONFIRM_ANY),
        (keywords.CONFIRM_KEYWORDS_EN, CONFIRM_EN),
        (keywords.CONFIRM_KEYWORDS_ES, ["CONFIRMAR", "CONFIRMO"]),
        (keywords.DECLINE_KEYWORDS_ANY, DECLINE_ANY),
        (
            keywords.DECLINE_KEYWORDS_EN,
            ["CANT", "CAN'T COME", "CANNOT COME", "NOT COMING", "CAN'T MAKE IT", "CANNOT MAKE IT"],
        ),
        (
            keywords.DECLINE_KEYWORDS_ES,
            ["NO PUEDO", "NO PUEDO IR", "NO PUEDO VENIR", "NO VOY", "NO ASISTIRÉ"],
        ),
        (keywords.PAUSE_KEYWORDS_EN, PAUSE_EN),
        (keywords.PAUSE_KEYWORDS_ES, PAUSE_ES),
        (keywords.PAUSE_FOR_WORDS, ["FOR", "POR"]),
        (keywords.PAUSE_WEEK_WORDS, ["WEEK", "WEEKS", "SEMANA", "SEMANAS"]),
        (keywords.RESUME_KEYWORDS_EN, RESUME_EN),
        (keywords.RESUME_KEYWORDS_ES, RESUME_ES),
        (keywords.INTERJECTIONS, ["NOPE", "NAH"]),
    ],
)
def test_documented_keyword_lists(documented: tuple[str, ...], expected: list[str]) -> None:
    assert sorted(documented) == sorted(expected)


def test_combined_lists_are_the_union_of_both_languages() -> None:
    assert keywords.OPT_OUT_KEYWORDS == keywords.OPT_OUT_KEYWORDS_EN + keywords.OPT_OUT_KEYWORDS_ES
    assert keywords.OPT_IN_KEYWORDS == keywords.OPT_IN_KEYWORDS_EN + keywords.OPT_IN_KEYWORDS_ES
    assert keywords.YES_KEYWORDS == keywords.YES_KEYWORDS_EN + keywords.YES_KEYWORDS_ES
    assert keywords.HELP_KEYWORDS == keywords.HELP_KEYWORDS_EN + keywords.HELP_KEYWORDS_ES
    assert keywords.JOIN_KEYWORDS == keywords.JOIN_KEYWORDS_EN + keywords.JOIN_KEYWORDS_ES
    assert keywords.LEAVE_KEYWORDS == keywords.LEAVE_KEYWORDS_EN + keywords.LEAVE_KEYWORDS_ES
    assert keywords.CONFIRM_KEYWORDS == (
        keywords.CONFIRM_KEYWORDS_ANY + keywords.CONFIRM_KEYWORDS_EN + keywords.CONFIRM_KEYWORDS_ES
    )
    assert keywords.DECLINE_KEYWORDS == (
        keywords.DECLINE_KEYWORDS_ANY + keywords.DECLINE_KEYWORDS_EN + keywords.DECLINE_KEYWORDS_ES
    )
    assert keywords.PAUSE_KEYWORDS == keywords.PAUSE_KEYWORDS_EN + keywords.PAUSE_KEYWORDS_ES
    assert keywords.RESUME_KEYWORDS == keywords.RESUME_KEYWORDS_EN + keywords.RESUME_KEYWORDS_ES


@pytest.mark.parametrize(
    "word",
    ["please", "pls", "plz", "now", "thanks", "thank you", "ok", "okay", "just",
     "por favor", "gracias", "ya"],
)  # fmt: skip
def test_documented_filler_words(word: str) -> None:
    assert word.upper() in words.FILLER_WORDS
    assert read_message(f"{word} stop {word}") == opt_out("en")


@pytest.mark.parametrize(
    ("documented", "reading"),
    [
        (keywords.OPT_OUT_KEYWORDS_EN, opt_out("en")),
        (keywords.OPT_OUT_KEYWORDS_ES, opt_out("es")),
        (keywords.OPT_IN_KEYWORDS_EN, Reading(Intent.OPT_IN, language="en")),
        (keywords.OPT_IN_KEYWORDS_ES, Reading(Intent.OPT_IN, language="es")),
        (keywords.YES_KEYWORDS_EN, Reading(Intent.YES, language="en")),
        (keywords.YES_KEYWORDS_ES, Reading(Intent.YES, language="es")),
        (keywords.HELP_KEYWORDS_EN, Reading(Intent.HELP, language="en")),
        (keywords.HELP_KEYWORDS_ES, Reading(Intent.HELP, language="es")),
        (keywords.LEAVE_KEYWORDS_EN, Reading(Intent.LEAVE, language="en")),
        (keywords.LEAVE_KEYWORDS_ES, Reading(Intent.LEAVE, language="es")),
        (keywords.CONFIRM_KEYWORDS_ANY, confirm()),
        (keywords.CONFIRM_KEYWORDS_EN, confirm("en")),
        (keywords.CONFIRM_KEYWORDS_ES, confirm("es")),
        (keywords.DECLINE_KEYWORDS_ANY, decline()),
        (keywords.DECLINE_KEYWORDS_EN, decline("en")),
        (keywords.DECLINE_KEYWORDS_ES, decline("es")),
        (keywords.PAUSE_KEYWORDS_EN, pause("en")),
        (keywords.PAUSE_KEYWORDS_ES, pause("es")),
        (keywords.RESUME_KEYWORDS_EN, resume("en")),
        (keywords.RESUME_KEYWORDS_ES, resume("es")),
    ],
)
def test_every_documented_keyword_reads_as_documented(
    documented: tuple[str, ...], reading: Reading
) -> None:
    assert [read_message(k) for k in documented] == [reading] * len(documented)


@pytest.mark.parametrize(
    "phrase",
    [
        "stop texting me", "stop messaging me", "stop sending me", "stop contacting me",
        "stop calling me", "remove me", "take me off the list", "unsubscribe me", "opt me out",
        "don't text me", "do not text me", "dont text me", "don't message me",
        "no more texts", "no more messages", "leave me alone", "I want to opt out",
        "delete my number", "lose my number", "no me escriban", "no me envien",
        "dejen de escribirme", "dejen de enviarme", "ya no quiero mensajes",
        "no mas mensajes", "quitenme de la lista", "darme de baja", "borren mi numero",
    ],
)  # fmt: skip
def test_every_phrase_named_in_the_brief_is_an_opt_out(phrase: str) -> None:
    assert read_message(f"{phrase}!").intent is Intent.OPT_OUT


# --- Properties -----------------------------------------------------------------

# Every code point, lone surrogates included: Twilio bodies are decoded text, but a
# Python str can hold anything and the reader must never raise.
any_text = st.text(st.characters(exclude_categories=()), max_size=1600)
# Padding made only of characters that never join a word or compose with one.
padding = st.text(st.sampled_from(" \t\n\r.,;:!?¡¿…\"'“”\u2018\u2019()[]*#~-—🙏😀👍🏽\u200b\u00a0"))
vocabulary = (
    OPT_OUT_EN + OPT_OUT_ES + OPT_IN_EN + OPT_IN_ES + YES_EN + YES_ES + HELP_EN + HELP_ES
    + PHRASES_EN + PHRASES_ES + COMMANDS + SPEC_CRISIS_WORDS
    + CONFIRM_ANY + CONFIRM_EN + CONFIRM_ES + DECLINE_ANY + DECLINE_EN + DECLINE_ES
    + PAUSE_EN + PAUSE_ES + RESUME_EN + RESUME_ES
    + ["join", "leave", "salir", "unirme", "abc123", "please", "por favor", "don't", "never",
       "no", "İstanbul", "STRASSE", "straße", "\u0131i", "ΣΑΣ", "ﬁn", "Ǆ", "café", "ŉ", "ǰ",
       "for", "por", "weeks", "semana", "0", "3", "52", "53", "pause 2 weeks", "\u0662", "\uff12"]
)  # fmt: skip
messages = st.one_of(
    any_text,
    st.lists(st.sampled_from(vocabulary), max_size=6).map(" ".join),
    st.lists(st.one_of(st.sampled_from(vocabulary), padding), max_size=8).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(any_text)
@example("\ud800\udfff")
@example("\u0338" * 50)
def test_read_message_never_raises(body: str) -> None:
    reading = read_message(body)
    assert isinstance(reading, Reading)
    assert reading.code is None or reading.intent in (Intent.JOIN, Intent.LEAVE, Intent.MESSAGE)
    assert reading.weeks is None or (
        reading.intent is Intent.PAUSE and 1 <= reading.weeks <= keywords.PAUSE_MAX_WEEKS
    )


@settings(max_examples=300, deadline=None)
@given(messages)
def test_weeks_only_ever_come_with_a_pause(body: str) -> None:
    reading = read_message(body)
    assert reading.weeks is None or (
        reading.intent is Intent.PAUSE and 1 <= reading.weeks <= keywords.PAUSE_MAX_WEEKS
    )


@settings(max_examples=300, deadline=None)
@given(messages, padding, padding)
def test_surrounding_whitespace_and_punctuation_do_not_matter(
    body: str, before: str, after: str
) -> None:
    assert read_message(before + body + after) == read_message(body)


@settings(max_examples=300, deadline=None)
@given(messages)
def test_case_does_not_matter(body: str) -> None:
    reading = read_message(body)
    assert read_message(body.upper()) == reading
    assert read_message(body.lower()) == reading
    assert read_message(body.swapcase()) == reading
    assert read_message(body.casefold()) == reading
