"""Read an incoming text message and say what the participant meant.

This module is the written rule for how Peerline reads a reply.  It is pure: no
network, no database, no clock.  ``read_message(body)`` returns a ``Reading``.

Normalisation
    The message and every list below are folded the same way (``words.py``): case,
    accents and apostrophes do not matter, punctuation and emoji only separate words,
    and . , ; : ! ? ¡ ¿ … dashes and line breaks end a clause.  "  Stop!! ", "'stop.'",
    "STOP 🙏" all read as "stop"; "OPT-OUT" reads as "opt out".  No input can make
    ``read_message`` raise.

Opt-out (revocation of consent for everything), checked first; it beats every
other reading:
    1. Keywords.  The WHOLE message is made only of keywords and filler words, at
       least one of them an opt-out keyword (``OPT_OUT_KEYWORDS``, ``FILLER_WORDS``):
       "STOP", "please stop", "stop, thanks", "ok stop now", "STOP STOP",
       "por favor parar", "basta ya", "Para", "Remove".  The misspellings carriers
       honour count too ("unsuscribe", "stpo", "STAHP").  Filler words are
       also ignored around every other keyword below, and a clause that is just
       "nope"/"nah" counts as filler ("Nope. Stop.").  When keywords of several kinds
       appear, opt-out wins ("HELP STOP", "No. Stop.", "1 stop" are opt-outs).
    2. Plain language (US FCC 24-24, 47 CFR 64.1200(a)(10): consent may be revoked by
       any reasonable means).  Every other message is read by the grammar of
       ``revocation.py``: requests to stop in statements and commands, in English and
       Spanish ("I no longer want these texts", "I withdraw my consent", "please take me
       off your list", "ya no quiero mensajes", "retiro mi consentimiento", "Paren"), with
       a negation guard ("don't stop texting me", "no dejen de escribirme"), a guard for
       what is said of others ("my kids don't text me anymore"), and the rule that a stop
       word doing something else is not a request ("stop by the church", "I can't stop
       crying", "quit smoking", "cancel my appointment").  A request about one group, a
       waitlist or a meeting ("take me off the waitlist") is an ordinary MESSAGE.

Maybe an opt-out (MAYBE_OPT_OUT), when the grammar says the message may be a request
to stop but cannot tell: "enough", "too many texts", "please don't text me so early",
"take me off", "STOP. Who is this?", "stop it you're making me laugh", "ya no quiero".
Nothing changes; the caller puts the message before a person, marked, and tells the
participant how to stop everything.  JOIN and LEAVE (below) are read before it.

Then, for the WHOLE message (filler words allowed before and after; when keywords
of several kinds appear, the first kind in this list wins):
    OPT_IN   START, UNSTOP; INICIAR, COMENZAR, REANUDAR.
    YES      YES, Y; SI/SÍ ("yes please", "sí por favor").  The caller decides:
             confirm a pending join, else opt in.  YES is NOT an RSVP: carriers
             (Twilio's Advanced Opt-Out) treat YES as an opt-in keyword, so reading it
             as attendance too would make one reply mean two things.  Reminders ask
             for C/N or 1/2 instead.
    HELP     HELP, INFO; AYUDA ("help?", "HELP!!", "ayuda por favor").
    CONFIRM  C, 1; CONFIRM, CONFIRMED; CONFIRMAR, CONFIRMO/CONFIRMÓ ("C please", "1!",
             "confirm, thanks").  The caller records attendance at the participant's
             next meeting; with no meeting to answer for it decides (e.g. the inbox).
             Filler alone confirms nothing: "ok", "thanks" are MESSAGE.
    DECLINE  N, NO, 2; CANT/CAN'T, CAN'T COME, CANNOT COME, NOT COMING, CAN'T MAKE IT,
             CANNOT MAKE IT; NO PUEDO, NO PUEDO IR, NO PUEDO VENIR, NO VOY, NO ASISTIRÉ
             ("No.", "no thanks", "N por favor").  Most of these are negations, and
             a negation next to another keyword turns it around ("can't stop", "no
             puedo parar" = "I can't stop"; "no stop" may be about a bus stop), so a
             decline keyword counts only when the other words of its clause are
             filler or decline keywords: "no stop", "can't stop", "no help" are
             MESSAGE, while "No. Stop." is an opt-out and "No, help" is HELP.
             "no más"/"NO MAS" is an opt-out keyword and stays one; "no" inside a
             sentence ("no I'm fine", "No, I'll be there") is MESSAGE.
    PAUSE    PAUSE; PAUSA, PAUSAR, optionally followed by a number of weeks, itself
             optionally after FOR/POR and followed by WEEK(S)/SEMANA(S): "PAUSE 2",
             "pause 2 weeks", "pause for 3 weeks", "pausar 2 semanas", "pausa por 1
             semana" (any of these words with either language's keyword; the number
             may follow punctuation, "pause: 2 weeks").  ``weeks`` holds the number,
             1..52 (``PAUSE_MAX_WEEKS``), or None when none was given (the caller
             picks the length).  A number outside 1..52 ("pause 0", "pause 100
             weeks") is a MESSAGE with the keyword's language: the engine does not
             guess what was meant, a person answers.  Digits only: "pause two weeks"
             is a MESSAGE.  PAUSE stops ENCOURAGEMENT only; meeting reminders keep
             coming (they are what the participant signed up for; to stop everything
             there is STOP).
    RESUME   RESUME, UNPAUSE; CONTINUAR, SEGUIR: restart encouragement.  REANUDAR
             ("resume") is NOT here: it was an opt-in keyword first and stays one,
             because re-subscribing a person who opted out and asks to come back is
             the reading that must never be lost.  The engine returns one intent, so
             REANUDAR is OPT_IN; a caller that gets OPT_IN (REANUDAR or START) from
             someone already subscribed whose encouragement is paused may treat it
             as RESUME.
    JOIN     "JOIN <code>", "UNIRME <code>", "UNIR <code>": the word after the keyword
             is the code, whatever it is; it must be [A-Z0-9]{3,12} once upper-cased.
    LEAVE    "LEAVE", "SALIR" (code None), or "LEAVE <code>" / "SALIR <code>".  A
             filler word after the keyword is not a code ("leave please").
    MESSAGE  anything else.  ``code`` is set when the whole message is one word that
             could be a group code ([A-Z0-9]{3,12}, not a keyword, filler or
             negation word, and crisis is False): the caller may treat it as JOIN
             once it has checked that the group exists.  "1" and "2" are RSVP
             keywords and too short to be codes anyway.

language
    "en" or "es": the language of the keyword or grammar rule that decided the reading;
    None when it reads the same in both (C, 1, N, NO, 2), unless another keyword of
    the same kind names one ("C, confirmo" is "es").  For MESSAGE it is the language
    of a request to stop or a JOIN/LEAVE/PAUSE keyword that was seen but not acted on
    (negated, said of others, about one group, JOIN/LEAVE with a bad or missing code,
    PAUSE with a number outside 1..52), else None.

weeks
    Set only for PAUSE, when a number of weeks was given; otherwise None.

crisis
    Checked on EVERY message, whatever the intent ("stop texting me I want to die"
    is an opt-out with crisis=True).  True when a crisis word or phrase appears as
    whole words anywhere, across clauses, with no negation guard ("I'm not
    suicidal" is flagged: a person should look).  "diet" never matches "die";
    "overdosed" matches only because it is listed.  ``crisis_words`` passed by the
    caller replace ``DEFAULT_CRISIS_WORDS`` and are normalised the same way.
"""

import enum
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from service.conversation.revocation import (
    NEGATION_WORDS_EN,
    NEGATION_WORDS_ES,
    Verdict,
    read_revocation,
)
from service.conversation.words import FILLER_WORDS, Words, split, units


class Intent(enum.StrEnum):
    """What the participant meant; values are stable strings for logs and storage."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    YES = "yes"
    HELP = "help"
    CONFIRM = "confirm"
    DECLINE = "decline"
    PAUSE = "pause"
    RESUME = "resume"
    JOIN = "join"
    LEAVE = "leave"
    MAYBE_OPT_OUT = "maybe_opt_out"
    MESSAGE = "message"


@dataclass(frozen=True)
class Reading:
    """The outcome of reading one incoming message; see the module docstring."""

    intent: Intent
    code: str | None = None
    language: str | None = None
    crisis: bool = False
    weeks: int | None = None


# --- Documented lists (display form; all are normalised before use) -----------------

OPT_OUT_KEYWORDS_EN: tuple[str, ...] = (
    "STOP",
    "STOPALL",
    "STOP ALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "OPT OUT",
    "OPT-OUT",
    "REMOVE",
    # The misspellings people send most (CTIA, carriers' fuzzy opt-out lists).
    "UNSUBCRIBE",
    "UNSUSCRIBE",
    "STPO",
    "STOPP",
    "STAHP",
    "OPOUT",
)
# BASTA ("enough") is here so that "basta ya" reads as an opt-out.
OPT_OUT_KEYWORDS_ES: tuple[str, ...] = (
    "PARAR",
    "ALTO",
    "CANCELAR",
    "BAJA",
    "DETENER",
    "BASTA",
    "NO MÁS",
    "DARME DE BAJA",
    # The imperative of PARAR, alone or with filler ("Para", "para ya"): as a whole message
    # it cannot be the preposition.
    "PARA",
    "DESUSCRIBIR",
    "DESUSCRIBIRME",
)
OPT_OUT_KEYWORDS: tuple[str, ...] = OPT_OUT_KEYWORDS_EN + OPT_OUT_KEYWORDS_ES

OPT_IN_KEYWORDS_EN: tuple[str, ...] = ("START", "UNSTOP")
OPT_IN_KEYWORDS_ES: tuple[str, ...] = ("INICIAR", "COMENZAR", "REANUDAR")
OPT_IN_KEYWORDS: tuple[str, ...] = OPT_IN_KEYWORDS_EN + OPT_IN_KEYWORDS_ES

YES_KEYWORDS_EN: tuple[str, ...] = ("YES", "Y")
YES_KEYWORDS_ES: tuple[str, ...] = ("SÍ", "SI")
YES_KEYWORDS: tuple[str, ...] = YES_KEYWORDS_EN + YES_KEYWORDS_ES

HELP_KEYWORDS_EN: tuple[str, ...] = ("HELP", "INFO")
HELP_KEYWORDS_ES: tuple[str, ...] = ("AYUDA",)
HELP_KEYWORDS: tuple[str, ...] = HELP_KEYWORDS_EN + HELP_KEYWORDS_ES

# RSVP replies.  The _ANY lists read the same in English and Spanish, so they carry no
# language (Reading.language None): a Spanish speaker's "1" or "NO" is not English.
CONFIRM_KEYWORDS_ANY: tuple[str, ...] = ("C", "1")
CONFIRM_KEYWORDS_EN: tuple[str, ...] = ("CONFIRM", "CONFIRMED")
# Accents are folded, so CONFIRMO also covers "confirmó".
CONFIRM_KEYWORDS_ES: tuple[str, ...] = ("CONFIRMAR", "CONFIRMO")
CONFIRM_KEYWORDS: tuple[str, ...] = CONFIRM_KEYWORDS_ANY + CONFIRM_KEYWORDS_EN + CONFIRM_KEYWORDS_ES

DECLINE_KEYWORDS_ANY: tuple[str, ...] = ("N", "NO", "2")
# The reminders say "N if you can't come" / "N si no puede venir", so the answers
# people write back in those words are here too.
DECLINE_KEYWORDS_EN: tuple[str, ...] = (
    "CANT",
    "CAN'T COME",
    "CANNOT COME",
    "NOT COMING",
    "CAN'T MAKE IT",
    "CANNOT MAKE IT",
)
DECLINE_KEYWORDS_ES: tuple[str, ...] = (
    "NO PUEDO",
    "NO PUEDO IR",
    "NO PUEDO VENIR",
    "NO VOY",
    "NO ASISTIRÉ",
)
DECLINE_KEYWORDS: tuple[str, ...] = DECLINE_KEYWORDS_ANY + DECLINE_KEYWORDS_EN + DECLINE_KEYWORDS_ES

PAUSE_KEYWORDS_EN: tuple[str, ...] = ("PAUSE",)
PAUSE_KEYWORDS_ES: tuple[str, ...] = ("PAUSA", "PAUSAR")
PAUSE_KEYWORDS: tuple[str, ...] = PAUSE_KEYWORDS_EN + PAUSE_KEYWORDS_ES
# "PAUSE [FOR] <n> [WEEKS]"; either language's words go with either keyword, since
# people mix them ("pause 2 semanas").
PAUSE_FOR_WORDS: tuple[str, ...] = ("FOR", "POR")
PAUSE_WEEK_WORDS: tuple[str, ...] = ("WEEK", "WEEKS", "SEMANA", "SEMANAS")
# A year: longer than that is not a pause, it is leaving, and a person should ask.
PAUSE_MAX_WEEKS = 52

# REANUDAR is deliberately absent: it stays an opt-in keyword (module docstring).
RESUME_KEYWORDS_EN: tuple[str, ...] = ("RESUME", "UNPAUSE")
RESUME_KEYWORDS_ES: tuple[str, ...] = ("CONTINUAR", "SEGUIR")
RESUME_KEYWORDS: tuple[str, ...] = RESUME_KEYWORDS_EN + RESUME_KEYWORDS_ES

JOIN_KEYWORDS_EN: tuple[str, ...] = ("JOIN",)
JOIN_KEYWORDS_ES: tuple[str, ...] = ("UNIRME", "UNIR")
JOIN_KEYWORDS: tuple[str, ...] = JOIN_KEYWORDS_EN + JOIN_KEYWORDS_ES

LEAVE_KEYWORDS_EN: tuple[str, ...] = ("LEAVE",)
LEAVE_KEYWORDS_ES: tuple[str, ...] = ("SALIR",)
LEAVE_KEYWORDS: tuple[str, ...] = LEAVE_KEYWORDS_EN + LEAVE_KEYWORDS_ES

# not.  "NO" was here; it is now a decline keyword, whose clause rule keeps the same
# guard ("no stop" is a MESSAGE, "No. Stop." an opt-out).
INTERJECTIONS: tuple[str, ...] = ("NOPE", "NAH")

DEFAULT_CRISIS_WORDS: tuple[str, ...] = (
    "suicide",
    "suicidal",
    "kill myself",
    "killing myself",
    "end my life",
    "ending my life",
    "take my own life",
    "end it all",
    "want to die",
    "wanna die",
    "wish i was dead",
    "wish i were dead",
    "better off dead",
    "no reason to live",
    "don't want to live",
    "hurt myself",
    "hurting myself",
    "harm myself",
    "self harm",
    "cut myself",
    "cutting myself",
    "overdose",
    "overdosed",
    "overdosing",
    "suicidio",
    "suicida",
    "suicidarme",
    "matarme",
    "me quiero matar",
    "quiero morir",
    "quiero morirme",
    "me quiero morir",
    "quitarme la vida",
    "acabar con mi vida",
    "no quiero vivir",
    "hacerme daño",
    "lastimarme",
    "sobredosis",
)

_CODE = re.compile(r"[A-Z0-9]{3,12}")


# --- Compiled tables ---------------------------------------------------------------


def _keyword_table() -> dict[Words, tuple[Intent, str | None]]:
    table: dict[Words, tuple[Intent, str | None]] = {}
    entries: tuple[str, ...]
    language: str | None
    for intent, language, entries in (
        (Intent.OPT_OUT, "en", OPT_OUT_KEYWORDS_EN),
        (Intent.OPT_OUT, "es", OPT_OUT_KEYWORDS_ES),
        (Intent.OPT_IN, "en", OPT_IN_KEYWORDS_EN),
        (Intent.OPT_IN, "es", OPT_IN_KEYWORDS_ES),
        (Intent.YES, "en", YES_KEYWORDS_EN),
        (Intent.YES, "es", YES_KEYWORDS_ES),
        (Intent.HELP, "en", HELP_KEYWORDS_EN),
        (Intent.HELP, "es", HELP_KEYWORDS_ES),
        (Intent.CONFIRM, None, CONFIRM_KEYWORDS_ANY),
        (Intent.CONFIRM, "en", CONFIRM_KEYWORDS_EN),
        (Intent.CONFIRM, "es", CONFIRM_KEYWORDS_ES),
        (Intent.DECLINE, None, DECLINE_KEYWORDS_ANY),
        (Intent.DECLINE, "en", DECLINE_KEYWORDS_EN),
        (Intent.DECLINE, "es", DECLINE_KEYWORDS_ES),
        (Intent.PAUSE, "en", PAUSE_KEYWORDS_EN),
        (Intent.PAUSE, "es", PAUSE_KEYWORDS_ES),
        (Intent.RESUME, "en", RESUME_KEYWORDS_EN),
        (Intent.RESUME, "es", RESUME_KEYWORDS_ES),
    ):
        for unit in units(entries):
            table[unit] = (intent, language)
    return table


def _single_words(entries: Iterable[str]) -> frozenset[str]:
    return frozenset(w for unit in units(entries) for w in unit if len(unit) == 1)


_KEYWORDS = _keyword_table()
_JOIN = dict.fromkeys(_single_words(JOIN_KEYWORDS_EN), "en") | dict.fromkeys(
    _single_words(JOIN_KEYWORDS_ES), "es"
)
_LEAVE = dict.fromkeys(_single_words(LEAVE_KEYWORDS_EN), "en") | dict.fromkeys(
    _single_words(LEAVE_KEYWORDS_ES), "es"
)
_PAUSE = dict.fromkeys(_single_words(PAUSE_KEYWORDS_EN), "en") | dict.fromkeys(
    _single_words(PAUSE_KEYWORDS_ES), "es"
)
_PAUSE_FOR = _single_words(PAUSE_FOR_WORDS)
_WEEK_WORDS = _single_words(PAUSE_WEEK_WORDS)

_FILLERS = units(FILLER_WORDS)
_INTERJECTIONS = _single_words(INTERJECTIONS)
_NEGATIONS = _single_words(NEGATION_WORDS_EN) | _single_words(NEGATION_WORDS_ES)

# A lone word in one of these lists is something the participant typed on purpose,
# not a group code.
_NOT_CODES = (
    frozenset(unit[0] for unit in (*_KEYWORDS, *_FILLERS) if len(unit) == 1)
    | _JOIN.keys()
    | _LEAVE.keys()
    | _INTERJECTIONS
    | _NEGATIONS
)

# Consent and carrier keywords first: a participant's STOP, START or HELP must be
# honoured whatever else the message says.  JOIN, LEAVE and MESSAGE are never found
# among keywords-only messages, so they are not ranked here.
_PRIORITY = (
    Intent.OPT_OUT,
    Intent.OPT_IN,
    Intent.YES,
    Intent.HELP,
    Intent.CONFIRM,
    Intent.DECLINE,
    Intent.PAUSE,
    Intent.RESUME,
)


class _Found(NamedTuple):
    """One keyword found in a keywords-only message."""

    intent: Intent
    language: str | None
    clause: int
    weeks: int | None = None


# --- Matching helpers --------------------------------------------------------------


def _unit_at(words: Words, clauses: tuple[int, ...], start: int, unit: Words) -> bool:
    """Say whether ``unit`` occurs at ``start``, all within one clause."""
    end = start + len(unit)
    return (
        start >= 0
        and end <= len(words)
        and words[start:end] == unit
        and clauses[start] == clauses[end - 1]
    )


def _skip_forward(words: Words, k: int, skip: frozenset[Words]) -> int:
    """Walk forward from index ``k`` over any run of ``skip``."""
    moved = True
    while moved and k < len(words):
        moved = False
        for unit in skip:
            if words[k : k + len(unit)] == unit:
                k += len(unit)
                moved = True
                break
    return k


def _keyword_only(words: Words, clauses: tuple[int, ...]) -> list[_Found] | None:
    """Return the keywords when the message is only keywords and filler, else None."""
    if not words:
        return None
    clause_sizes: dict[int, int] = {}
    for clause in clauses:
        clause_sizes[clause] = clause_sizes.get(clause, 0) + 1
    longest = max(len(u) for u in (*_KEYWORDS, *_FILLERS))
    # reached[i]: keywords found in some way of cutting words[:i] into known units.
    # The first way found to reach a position is kept; an earlier, longer unit such as
    # "pause 2" therefore wins over "pause" followed by the keyword "2".
    reached: list[list[_Found] | None] = [None] * (len(words) + 1)
    reached[0] = []
    for i in range(len(words)):
        found = reached[i]
        if found is None:
            continue
        lone_interjection = words[i] in _INTERJECTIONS and clause_sizes[clauses[i]] == 1
        if lone_interjection and reached[i + 1] is None:
            reached[i + 1] = found
        for size in range(1, longest + 1):
            unit = words[i : i + size]
            if len(unit) < size or reached[i + size] is not None:
                continue
            if not _unit_at(words, clauses, i, unit):
                continue
            if unit in _FILLERS:
                reached[i + size] = found
            elif unit in _KEYWORDS:
                intent, language = _KEYWORDS[unit]
                reached[i + size] = [*found, _Found(intent, language, clauses[i])]
        if words[i] in _PAUSE:
            argument = _pause_argument(words, i + 1)
            weeks = _weeks(argument[1]) if argument else None
            if argument and weeks is not None and reached[argument[0]] is None:
                pause = _Found(Intent.PAUSE, _PAUSE[words[i]], clauses[i], weeks)
                reached[argument[0]] = [*found, pause]
    result = reached[len(words)]
    if not result:
        return None
    # Decline keywords are mostly negations, which turn a neighbouring keyword around
    # ("can't stop", "no puedo parar"); sharing a clause with any other kind of
    # keyword makes the message a sentence for a person to read.
    for declined in result:
        if declined.intent is Intent.DECLINE and any(
            other.clause == declined.clause and other.intent is not Intent.DECLINE
            for other in result
        ):
            return None
    return result


def _opt_out_clauses(words: Words, clauses: tuple[int, ...]) -> dict[int, str]:
    """Return each clause made only of opt-out keywords and filler, with its language."""
    by_clause: dict[int, list[str]] = {}
    for word, clause in zip(words, clauses, strict=True):
        by_clause.setdefault(clause, []).append(word)
    found: dict[int, str] = {}
    for number, inside in by_clause.items():
        keywords = _keyword_only(tuple(inside), (number,) * len(inside))
        opt_outs = [k for k in keywords or () if k.intent is Intent.OPT_OUT]
        if opt_outs:
            found[number] = next((k.language for k in opt_outs if k.language), "en")
    return found


def _pause_argument(words: Words, k: int) -> tuple[int, str] | None:
    """Read "[FOR] <digits> [WEEKS]" from index ``k``: return its end and the digits.

    Clause marks are ignored, as for a JOIN code: "pause: 2 weeks" is a pause.
    """
    if k < len(words) and words[k] in _PAUSE_FOR:
        k += 1
    # ASCII only: str.isdigit() also accepts other scripts' digits, which int() reads.
    if k >= len(words) or not (words[k].isascii() and words[k].isdigit()):
        return None
    number = words[k]
    k += 1
    if k < len(words) and words[k] in _WEEK_WORDS:
        k += 1
    return k, number


def _weeks(number: str) -> int | None:
    """Return the number of weeks the digits ask for, or None when out of range."""
    # Cut to length before int(): Python refuses to convert over 4300 digits, and no
    # input may make read_message raise.
    digits = number.lstrip("0")
    if len(digits) > len(str(PAUSE_MAX_WEEKS)):
        return None
    weeks = int(digits or "0")
    return weeks if 1 <= weeks <= PAUSE_MAX_WEEKS else None


def _pause_near_miss(words: Words) -> str | None:
    """Return the language of a PAUSE whose number was out of range, else None."""
    start = _skip_forward(words, 0, _FILLERS)
    if start >= len(words) or words[start] not in _PAUSE:
        return None
    argument = _pause_argument(words, start + 1)
    if argument is None or _weeks(argument[1]) is not None:
        return None
    if _skip_forward(words, argument[0], _FILLERS) != len(words):
        return None
    return _PAUSE[words[start]]


def _join_or_leave(words: Words) -> Reading | None:
    """Read "JOIN <code>" / "LEAVE [<code>]", or a near miss worth a language cue."""
    start = _skip_forward(words, 0, _FILLERS)
    if start >= len(words):
        return None
    keyword = words[start]
    rest = words[start + 1 :]
    if keyword in _JOIN:
        intent, language = Intent.JOIN, _JOIN[keyword]
    elif keyword in _LEAVE:
        intent, language = Intent.LEAVE, _LEAVE[keyword]
        if _skip_forward(rest, 0, _FILLERS) == len(rest):
            return Reading(Intent.LEAVE, language=language)
    else:
        return None
    if not rest:
        return Reading(Intent.MESSAGE, language=language)
    # The word after the keyword is the code even if it is a filler word: a group may
    # be called NOW, and "join" without a code means nothing anyway.
    code = rest[0].upper()
    if _skip_forward(rest, 1, _FILLERS) != len(rest):
        # "Join us for coffee?" merely starts with the keyword: no cue, just a message.
        return Reading(Intent.MESSAGE)
    if not _CODE.fullmatch(code):
        return Reading(Intent.MESSAGE, language=language)
    return Reading(intent, code=code, language=language)


@functools.lru_cache(maxsize=32)
def _crisis_units(crisis_words: tuple[str, ...]) -> frozenset[Words]:
    return units(crisis_words)


_DEFAULT_CRISIS_UNITS = _crisis_units(DEFAULT_CRISIS_WORDS)


def _has_crisis(words: Words, crisis_words: Sequence[str]) -> bool:
    if crisis_words is DEFAULT_CRISIS_WORDS:
        units = _DEFAULT_CRISIS_UNITS
    elif isinstance(crisis_words, str):
        # A bare string is a Sequence[str] of letters; it surely means one phrase.
        units = _crisis_units((crisis_words,))
    else:
        units = _crisis_units(tuple(crisis_words))
    # Clauses are ignored on purpose: a false alarm costs a person a glance.
    return any(words[i : i + len(unit)] == unit for unit in units for i in range(len(words)))


def read_message(body: str, crisis_words: Sequence[str] = DEFAULT_CRISIS_WORDS) -> Reading:
    """Return what the participant meant by ``body``, by the rule in the module docstring."""
    words, clauses = split(body)
    crisis = _has_crisis(words, crisis_words)

    keywords = _keyword_only(words, clauses)
    if keywords:
        # Every rule of the grammar of revocation needs a word that is neither keyword
        # nor filler, so a keywords-only message is settled here.
        rank = min(_PRIORITY.index(found.intent) for found in keywords)
        strongest = [found for found in keywords if _PRIORITY.index(found.intent) == rank]
        # The first strongest keyword that names a language names it: "1" is neither
        # English nor Spanish, "1, confirmo" is Spanish.
        language = next((found.language for found in strongest if found.language), None)
        weeks = next((found.weeks for found in strongest if found.weeks), None)
        return Reading(strongest[0].intent, language=language, crisis=crisis, weeks=weeks)

    revocation = read_revocation(words, clauses, _opt_out_clauses(words, clauses))
    if revocation.verdict is Verdict.REVOKED:
        return Reading(Intent.OPT_OUT, language=revocation.language, crisis=crisis)

    command = _join_or_leave(words)
    if command is not None and command.intent is not Intent.MESSAGE:
        return Reading(command.intent, command.code, command.language, crisis)

    if revocation.verdict is Verdict.MAYBE:
        return Reading(Intent.MAYBE_OPT_OUT, language=revocation.language, crisis=crisis)

    code: str | None = None
    # A crisis word must reach a person, never an automatic "no such group" reply.
    if (
        len(words) == 1
        and not crisis
        and words[0] not in _NOT_CODES
        and _CODE.fullmatch(words[0].upper())
    ):
        code = words[0].upper()
    set_aside = revocation.language if revocation.verdict is Verdict.SET_ASIDE else None
    cue = (
        set_aside or (command.language if command is not None else None) or _pause_near_miss(words)
    )
    return Reading(Intent.MESSAGE, code=code, language=cue, crisis=crisis)


def is_join_code(code: str) -> bool:
    """Whether a group may take code as its join code: texted alone or after JOIN, it reads as
    that code, and as nothing else (not STOP, HELP, YES, C, a filler word or a crisis word)."""
    upper = code.upper()
    if not _CODE.fullmatch(upper):
        return False
    alone, joined = read_message(code), read_message(f"JOIN {code}")
    return alone.code == upper and joined.intent is Intent.JOIN and joined.code == upper
