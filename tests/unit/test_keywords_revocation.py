"""The grammar of plain-language revocation (service/conversation/revocation.py), read
through ``read_message`` as the webhook reads every text."""

from __future__ import annotations

import pytest

from service.conversation.keywords import Intent, Reading, read_message
from service.conversation.revocation import RULES, Kind, Rule

# What a rule's examples read as, whole: a request, maybe one, or an ordinary message.
READS_AS = {
    Kind.REVOKE: Intent.OPT_OUT,
    Kind.ALONE: Intent.OPT_OUT,
    Kind.SUPPORT: Intent.OPT_OUT,
    Kind.MAYBE: Intent.MAYBE_OPT_OUT,
    Kind.QUALIFIER: Intent.MAYBE_OPT_OUT,
    Kind.KEEP: Intent.MAYBE_OPT_OUT,
    Kind.QUESTION: Intent.MAYBE_OPT_OUT,
    Kind.TRIGGER: Intent.MAYBE_OPT_OUT,
    Kind.UNRELATED: Intent.MESSAGE,
    Kind.GROUP: Intent.MESSAGE,
}


def opt_out(language: str) -> Reading:
    return Reading(Intent.OPT_OUT, language=language)


def maybe(language: str) -> Reading:
    return Reading(Intent.MAYBE_OPT_OUT, language=language)


@pytest.mark.parametrize(
    ("rule", "example"),
    [(rule, example) for rule in RULES for example in rule.examples],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_every_example_of_every_rule_reads_as_its_rule_says(rule: Rule, example: str) -> None:
    reading = read_message(example)
    assert reading.intent is READS_AS[rule.kind]
    if reading.intent is not Intent.MESSAGE:
        assert reading.language == rule.language


def test_every_kind_of_request_has_examples_in_both_languages() -> None:
    shown = {(rule.kind, rule.language) for rule in RULES if rule.examples}
    for kind in (Kind.REVOKE, Kind.ALONE, Kind.MAYBE, Kind.UNRELATED, Kind.GROUP):
        assert {(kind, "en"), (kind, "es")} <= shown, kind


@pytest.mark.parametrize(
    ("body", "language"),
    [
        # Statements as well as commands.
        ("I no longer want these reminders", "en"),
        ("I withdraw my consent to receive texts", "en"),
        ("I'm done with these messages", "en"),
        ("I don't want any more texts", "en"),
        ("We no longer wish to receive text messages", "en"),
        ("Thank you all but I want out", "en"),
        ("please take me off your list", "en"),
        ("I appreciate you all but please remove me from the reminder list", "en"),
        ("Do not ever text me again", "en"),
        ("Leave me alone!", "en"),
        ("ya no quiero recibir recordatorios", "es"),
        ("Ya no deseo recibir mensajes", "es"),
        ("ya no necesito los recordatorios", "es"),
        ("no me escriban más", "es"),
        ("no me llamen más por favor", "es"),
        ("Dejen de mandarme mensajes", "es"),
        ("retiro mi consentimiento", "es"),
        ("quiero darme de baja", "es"),
        ("bórrenme", "es"),
        ("sáquenme de la lista", "es"),
        # The bare Spanish imperatives.
        ("Para", "es"),
        ("Basta", "es"),
        ("Detente", "es"),
        ("Paren ya", "es"),
        ("Déjenme en paz", "es"),
    ],
)
def test_a_plain_language_request_to_stop_is_an_opt_out(body: str, language: str) -> None:
    assert read_message(body) == opt_out(language)


@pytest.mark.parametrize(
    ("body", "language"),
    [
        ("don't stop texting me", "en"),
        ("Please don't ever stop sending me these", "en"),
        ("I don't want to stop getting these", "en"),
        ("I don't want you to stop the reminders, they help", "en"),
        ("never stop reminding me", "en"),
        ("no dejen de escribirme", "es"),
        ("no quiero darme de baja", "es"),
        ("Nunca dejen de mandarme los recordatorios", "es"),
    ],
)
def test_a_negated_request_is_an_ordinary_message(body: str, language: str) -> None:
    assert read_message(body) == Reading(Intent.MESSAGE, language=language)


@pytest.mark.parametrize(
    "body",
    [
        "stop by at 6",
        "Can I stop by the church before the meeting?",
        "I can't stop thinking about it",
        "I can't stop crying",
        "Stop worrying, I'm coming",
        "I want to quit drinking",
        "I need to cancel my appointment so I can come",
        "Is there a bus stop near the hall?",
        "no puedo parar de llorar",
        "tuve que parar en la farmacia",
        "Voy a cancelar mi cita para poder ir",
        "Para el jueves llevo café",
    ],
)
def test_a_stop_word_inside_an_unrelated_sentence_is_not_a_request(body: str) -> None:
    assert read_message(body) == Reading(Intent.MESSAGE)


@pytest.mark.parametrize(
    "body",
    [
        "Take me off the waitlist for the Monday group, I got into Thursday",
        "Please remove me from the Monday group and add me to Thursday",
        "Stop the Tuesday reminders, I only go Thursdays",
        "Sáquenme de la lista de espera, ya entré al grupo del jueves",
        "Dejen de mandarme los recordatorios del martes",
    ],
)
def test_a_request_about_one_group_waitlist_or_meeting_is_not_an_opt_out(body: str) -> None:
    reading = read_message(body)
    assert reading.intent is Intent.MESSAGE
    assert reading.language in ("en", "es")


@pytest.mark.parametrize(
    "body",
    [
        "my kids don't text me anymore",
        "I wish my ex would leave me alone",
        "they don't want these texts at the office",
        "I want him to stop calling me",
        "will they remove me from the group if I miss?",
    ],
)
def test_what_is_said_of_someone_else_is_not_a_request(body: str) -> None:
    assert read_message(body).intent is Intent.MESSAGE


@pytest.mark.parametrize(
    ("body", "language"),
    [
        ("enough", "en"),
        ("too many texts", "en"),
        ("please don't text me so early", "en"),
        ("stop texting me for now", "en"),
        ("take me off", "en"),
        ("STOP. Who is this?", "en"),
        ("Stop, you're too kind", "en"),
        ("I quit", "en"),
        ("Stop the texts. Actually no, keep them coming", "en"),
        ("Ya no quiero", "es"),
        ("demasiados mensajes", "es"),
        ("no me escriban tan temprano", "es"),
        ("Quiero cancelar", "es"),
    ],
)
def test_what_the_grammar_cannot_tell_is_maybe(body: str, language: str) -> None:
    assert read_message(body) == maybe(language)


@pytest.mark.parametrize(
    "body",
    [
        "For the third time, STOP",
        "Stop it, I already said no",
        "Please stop, I'm no longer in the program",
        "STOP. Wrong number",
        "Basta. Número equivocado",
    ],
)
def test_a_stop_word_standing_alone_is_a_request_when_the_rest_backs_it_up(body: str) -> None:
    assert read_message(body).intent is Intent.OPT_OUT
