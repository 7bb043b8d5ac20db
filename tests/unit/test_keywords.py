"""Tests for service.keywords: how Peerline reads an incoming text message."""

import dataclasses
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from service import keywords
from service.keywords import DEFAULT_CRISIS_WORDS, Intent, Reading, read_message

# The expected lists are written out here rather than imported, so that a keyword
# silently dropped from the module fails a test instead of vanishing from both sides.
OPT_OUT_EN = [
    "STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
    "OPTOUT", "OPT OUT", "OPT-OUT",
]  # fmt: skip
OPT_OUT_ES = [
    "PARAR", "ALTO", "CANCELAR", "BAJA", "DETENER", "BASTA", "NO MÁS", "NO MAS",
    "DARME DE BAJA",
]  # fmt: skip
OPT_IN_EN = ["START", "UNSTOP"]
OPT_IN_ES = ["INICIAR", "COMENZAR", "REANUDAR"]
YES_EN = ["YES", "Y"]
YES_ES = ["SI", "SÍ"]
HELP_EN = ["HELP", "INFO"]
HELP_ES = ["AYUDA", "AYÚDA"]

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
    "remove me", "take me off", "don't text me", "dont text me", "do not text me",
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
        "stop it you're making me laugh",
        "quit smoking 30 days!!",
        "end of story",
        "stop.. sign on the corner is gone?",
        "Start time is 7?",
        "yes and no",
        "Help me understand the schedule",
        "info about Tuesday?",
        "stop stop it",
        "ok",
        "thanks!",
        "no",
        "No. No.",
        "STOP. Who is this?",
    ],
)
def test_a_keyword_inside_an_ordinary_sentence_is_a_message(body: str) -> None:
    assert read_message(body) == message()


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
        "I might lose my number next month",
        "Did you delete my number?",
        "she never takes me off the rota... I mean take me off Tuesdays",
        "please don't remove me",
        "can you not take me off the list",
        "I said do not message me after nine",
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
        # A keyword must be the whole message; this one reaches a person, flagged.
        ("STOP. I want to kill myself", message(crisis=True)),
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
        ("stopp", message(code="STOPP")),
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
        "opt_out", "opt_in", "yes", "help", "join", "leave", "message",
    }  # fmt: skip
    assert f"{Intent.OPT_OUT}" == "opt_out"


def test_reading_defaults() -> None:
    assert Reading(Intent.MESSAGE) == Reading(Intent.MESSAGE, None, None, False)


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
    ],
)
def test_documented_keyword_lists(documented: tuple[str, ...], expected: list[str]) -> None:
    assert sorted(documented) == sorted(expected)


def test_combined_lists_are_the_union_of_both_languages() -> None:
    assert keywords.OPT_OUT_KEYWORDS == keywords.OPT_OUT_KEYWORDS_EN + keywords.OPT_OUT_KEYWORDS_ES
    assert keywords.OPT_OUT_PHRASES == keywords.OPT_OUT_PHRASES_EN + keywords.OPT_OUT_PHRASES_ES
    assert keywords.OPT_IN_KEYWORDS == keywords.OPT_IN_KEYWORDS_EN + keywords.OPT_IN_KEYWORDS_ES
    assert keywords.YES_KEYWORDS == keywords.YES_KEYWORDS_EN + keywords.YES_KEYWORDS_ES
    assert keywords.HELP_KEYWORDS == keywords.HELP_KEYWORDS_EN + keywords.HELP_KEYWORDS_ES
    assert keywords.JOIN_KEYWORDS == keywords.JOIN_KEYWORDS_EN + keywords.JOIN_KEYWORDS_ES
    assert keywords.LEAVE_KEYWORDS == keywords.LEAVE_KEYWORDS_EN + keywords.LEAVE_KEYWORDS_ES


@pytest.mark.parametrize(
    "word",
    ["please", "pls", "plz", "now", "thanks", "thank you", "ok", "okay", "just",
     "por favor", "gracias", "ya"],
)  # fmt: skip
def test_documented_filler_words(word: str) -> None:
    assert word.upper() in keywords.FILLER_WORDS
    assert read_message(f"{word} stop {word}") == opt_out("en")


@pytest.mark.parametrize(
    ("documented", "language"),
    [
        (keywords.OPT_OUT_PHRASES_EN, "en"),
        (keywords.OPT_OUT_PHRASES_ES, "es"),
        (keywords.OPT_OUT_COMMANDS, "en"),
    ],
)
def test_every_documented_phrase_reads_as_an_opt_out(
    documented: tuple[str, ...], language: str
) -> None:
    assert [read_message(p) for p in documented] == [opt_out(language)] * len(documented)


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
        "stop calling me", "remove me", "take me off", "unsubscribe me", "opt me out",
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
    + ["join", "leave", "salir", "unirme", "abc123", "please", "por favor", "don't", "never",
       "no", "İstanbul", "STRASSE", "straße", "\u0131i", "ΣΑΣ", "ﬁn", "Ǆ", "café", "ŉ", "ǰ"]
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
