"""Segments counted as carriers bill them, checked against an encoder written from GSM 03.38."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from service.messages.segments import count_segments

# GSM 03.38 default alphabet, by septet value (0x1B is the escape to the extension table).
ESC = 0x1B
BASIC_TABLE: list[str | None] = [
    "@", "£", "$", "¥", "è", "é", "ù", "ì", "ò", "Ç", "\n", "Ø", "ø", "\r", "Å", "å",
    "Δ", "_", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", None, "Æ", "æ", "ß", "É",
    " ", "!", '"', "#", "¤", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/",
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ":", ";", "<", "=", ">", "?",
    "¡", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O",
    "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "Ä", "Ö", "Ñ", "Ü", "§",
    "¿", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
    "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "ä", "ö", "ñ", "ü", "à",
]  # fmt: skip
# The extension table: the septet that follows an escape, and the character it stands for.
EXTENSION_TABLE = {
    0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
    0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€",
}  # fmt: skip
BASIC = {ch: code for code, ch in enumerate(BASIC_TABLE) if ch is not None}
EXTENSION = {ch: code for code, ch in EXTENSION_TABLE.items()}


def septets(text: str) -> list[int] | None:
    """The GSM-7 septets of text, or None when GSM-7 cannot carry it."""
    out: list[int] = []
    for ch in text:
        if ch in BASIC:
            out.append(BASIC[ch])
        elif ch in EXTENSION:
            out += [ESC, EXTENSION[ch]]
        else:
            return None
    return out


def split(units: list[int], single: int, part: int, cannot_end_a_part: set[int]) -> int:
    """Parts a carrier sends: a part never ends on an escape or a high surrogate."""
    if len(units) <= single:
        return 1 if units else 0
    parts = 0
    while units:
        take = min(part, len(units))
        if take < len(units) and units[take - 1] in cannot_end_a_part:
            take -= 1
        units = units[take:]
        parts += 1
    return parts


def reference(text: str) -> tuple[str, int, int]:
    """(encoding, units, segments) as an independent encoder makes them."""
    gsm = septets(text)
    if gsm is not None:
        return "GSM-7", len(gsm), split(gsm, 160, 153, {ESC})
    raw = text.encode("utf-16-be")
    units = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    return "UCS-2", len(units), split(units, 70, 67, set(range(0xD800, 0xDC00)))


GSM_CHARACTERS = st.sampled_from(sorted(BASIC))
EXTENSION_CHARACTERS = st.sampled_from(sorted(EXTENSION))
OTHER_CHARACTERS = st.sampled_from(["\u2019", "á", "í", "\u201c", "ç", "中", "🙂", "👍🏽", "𝄞"]) | (
    st.characters()
)


# Plain runs that end where a part ends (66 or 67 UCS-2 units, 152 or 153 septets), or anywhere.
RUNS = st.sampled_from([65, 66, 67, 68, 150, 151, 152, 153, 154]) | st.integers(0, 160)


@st.composite
def texts_near_boundaries(draw: st.DrawFn) -> str:
    """Runs of plain letters, each ending in another character, often right at a boundary."""
    others = draw(st.booleans())
    ending = (
        st.one_of(GSM_CHARACTERS, EXTENSION_CHARACTERS, OTHER_CHARACTERS)
        if others
        else st.one_of(GSM_CHARACTERS, EXTENSION_CHARACTERS)
    )
    pieces = draw(st.lists(st.tuples(RUNS, ending), max_size=4))
    text = "".join("a" * run + ch for run, ch in pieces)
    if draw(st.booleans()):
        # Pad to within a few units of a whole number of parts, where a wasted unit shows.
        encoding, units, _ = reference(text)
        part = 153 if encoding == "GSM-7" else 67
        target = part * draw(st.integers(1, 4)) + draw(st.integers(-2, 2))
        text += "a" * max(0, target - units)
    return text


@settings(max_examples=500, deadline=None)
@given(texts_near_boundaries())
@example("a" * 152 + "{" + "a" * 152)
@example("a" * 152 + "{" + "a" * 153)
@example("á" * 66 + "🙂" + "á" * 66)
def test_segments_match_an_encoder_written_from_the_gsm_tables(text: str) -> None:
    count = count_segments(text)
    assert (count.encoding, count.units, count.segments) == reference(text)


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        # An extension character straddling the end of the first part starts the second.
        ("a" * 152 + "{" + "a" * 152, "GSM-7", 3),
        ("a" * 151 + "{" + "a" * 153, "GSM-7", 2),
        ("a" * 159 + "€", "GSM-7", 2),  # 161 septets
        ("a" * 158 + "€", "GSM-7", 1),  # 160 septets
        ("a" * 153 * 2 + "a", "GSM-7", 3),
        # An emoji (a surrogate pair) straddling the end of a part starts the next.
        ("á" * 66 + "🙂" + "á" * 66, "UCS-2", 3),
        ("á" * 65 + "🙂" + "á" * 67, "UCS-2", 2),
        ("á" * 68 + "🙂", "UCS-2", 1),  # 70 units
        ("á" * 69 + "🙂", "UCS-2", 2),  # 71 units
    ],
)
def test_a_character_is_never_split_between_two_parts(
    text: str, encoding: str, segments: int
) -> None:
    count = count_segments(text)
    assert (count.encoding, count.segments) == (encoding, segments)


def test_the_character_that_makes_a_text_ucs2_is_named_with_what_it_costs() -> None:
    count = count_segments("We\u2019re in room 5 tonight. " + "a" * 150)

    assert count.ucs2_character == "\u2019"
    assert count.summary() == (
        "175 characters, 3 segments; \u2019 (U+2019) makes this UCS-2: 3 segments instead of 2."
    )
    assert count_segments("Room 5 tonight").summary() == "14 characters, 1 segment, GSM-7."
