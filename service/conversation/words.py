"""The one comparable form of a text message: its words, and the clause each word is in.

Both readings of a message (the keywords in ``keywords.py``, the grammar of revocation in
``revocation.py``) and every list they hold go through the same normalisation, so a word
in a list matches the word however the participant typed it.

Apostrophes of any shape (straight, curly, modifier letter, acute accent, backtick) are
dropped, so "don't" and "dont" read alike.  Then Unicode NFKC, case folding, accents
removed ("Sí" == "si", "AYÚDA" == "ayuda"), invisible format characters (zero-width
spaces, direction marks) removed.  The text is cut into words: runs of letters and
digits.  Everything else (spaces, punctuation, emoji, control characters, hyphens) only
separates words, so "  Stop!! ", "'stop.'", "STOP 🙏" all read as "stop" and "OPT-OUT"
reads as "opt out".  The marks . , ; : ! ? ¡ ¿ … dashes and line breaks also end a clause.
"""

import re
import unicodedata
from collections.abc import Iterable
from typing import TypeAlias

Words: TypeAlias = tuple[str, ...]

# Ignored around a keyword ("please stop", "stop, thanks") and inside the grammar's phrases.
FILLER_WORDS: tuple[str, ...] = (
    "PLEASE",
    "PLS",
    "PLZ",
    "NOW",
    "RIGHT NOW",
    "THANKS",
    "THANK YOU",
    "THX",
    "TY",
    "OK",
    "OKAY",
    "JUST",
    "HI",
    "HEY",
    "HELLO",
    "POR FAVOR",
    "PORFA",
    "PORFAVOR",
    "GRACIAS",
    "MUCHAS GRACIAS",
    "YA",
    "VALE",
    "HOLA",
    "AHORA",
)

# Dropped before NFKC because NFKC turns the acute accent U+00B4 into a space plus a
# combining mark, which would split "don" + U+00B4 + "t" (a Spanish-keyboard habit).
_APOSTROPHES = dict.fromkeys(map(ord, "'\u2018\u2019\u201b\u02bc\u02bb\u2032\u00b4`\uff07"))
_CLAUSE_MARKS = ".,;:!?¡¿…\n\r\u2028\u2029\u2013\u2014\u3002\u060c\u061f"
_WORD_OR_MARK = re.compile(r"[^\W_]+|[" + re.escape(_CLAUSE_MARKS) + "]")


def fold(text: str) -> str:
    """Return the text in the one comparable form used for messages and lists alike."""
    text = unicodedata.normalize("NFKC", text.translate(_APOSTROPHES))
    # upper() before casefold() so letters without a case round trip (Turkish
    # dotless i, Greek final sigma) land on the same form whichever case the sender typed.
    text = text.translate(_APOSTROPHES).upper().casefold()
    decomposed = unicodedata.normalize("NFD", text)
    # Invisible format characters (zero-width space, direction marks, soft hyphen)
    # are dropped rather than read as spaces: "S<ZWSP>TOP" still looks like STOP.
    return "".join(c for c in decomposed if not _dropped(c))


def _dropped(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] == "M" or category == "Cf"


def split(text: str) -> tuple[Words, tuple[int, ...]]:
    """Return the words of the text and, for each word, the number of its clause."""
    words: list[str] = []
    clauses: list[int] = []
    clause = 0
    for match in _WORD_OR_MARK.finditer(fold(text)):
        piece = match.group()
        if piece in _CLAUSE_MARKS:
            clause += 1
        else:
            words.append(piece)
            clauses.append(clause)
    return tuple(words), tuple(clauses)


def words_of(text: str) -> Words:
    """Return the words of the text, in the comparable form."""
    return split(text)[0]


def units(entries: Iterable[str]) -> frozenset[Words]:
    """Return each entry of a list as its words; an entry with no words is dropped."""
    # An entry that normalises to nothing would match everywhere.
    return frozenset(w for w in map(words_of, entries) if w)
