"""How many SMS segments a text costs, counted the way carriers count them.

A text that fits one segment has 160 GSM-7 septets or 70 UCS-2 code units. A longer one is
split into parts of 153 septets or 67 code units (the rest carries the header that joins them),
and a character is never cut in two: a GSM-7 extension character (two septets, the escape and
the character) or a UCS-2 surrogate pair (an emoji, two code units) that would straddle a
boundary starts the next part, leaving the last septet or code unit of the part empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Twilio refuses a body longer than this many characters.
MAX_CHARACTERS = 1600

# GSM 03.38 basic character set, and the extension table whose characters take two septets.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[]~|€\f")


@dataclass(frozen=True)
class SegmentCount:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    characters: int = 0
    ucs2_character: str | None = None  # the first character GSM-7 cannot carry
    segments_in_gsm7: int | None = None  # what it would cost without that character and its kind

    def summary(self) -> str:
        """One sentence for a coordinator: length, cost, and what makes a text UCS-2."""
        plural = "s" if self.segments != 1 else ""
        size = f"{self.characters} characters, {self.segments} segment{plural}"
        if self.ucs2_character is None:
            return f"{size}, GSM-7."
        ch = self.ucs2_character
        cost = (
            f"{self.segments} segment{plural} instead of {self.segments_in_gsm7}"
            if self.segments != self.segments_in_gsm7
            else f"still {self.segments} segment{plural}"
        )
        return f"{size}; {ch} (U+{ord(ch):04X}) makes this UCS-2: {cost}."


def count_segments(text: str) -> SegmentCount:
    """Count the segments of text: 160/153 GSM-7 septets or 70/67 UCS-2 units per segment."""
    culprit = next((ch for ch in text if ch not in _GSM_BASIC and ch not in _GSM_EXTENDED), None)
    if culprit is None:
        widths = [2 if ch in _GSM_EXTENDED else 1 for ch in text]
        units, segments = _pack(widths, 160, 153)
        return SegmentCount("GSM-7", units, segments, len(text))
    widths = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    units, segments = _pack(widths, 70, 67)
    # The same text with every character GSM-7 cannot carry as a plain one: what it would cost.
    plain = "".join(ch if ch in _GSM_BASIC or ch in _GSM_EXTENDED else "?" for ch in text)
    _, in_gsm7 = _pack([2 if ch in _GSM_EXTENDED else 1 for ch in plain], 160, 153)
    return SegmentCount("UCS-2", units, segments, len(text), culprit, in_gsm7)


def _pack(widths: Iterable[int], single: int, part: int) -> tuple[int, int]:
    """Units in all and segments needed, no character split between two parts."""
    widths = list(widths)
    units = sum(widths)
    if units <= single:
        return units, 1 if units else 0
    segments, used = 1, 0
    for width in widths:
        if used + width > part:
            segments, used = segments + 1, 0
        used += width
    return units, segments
