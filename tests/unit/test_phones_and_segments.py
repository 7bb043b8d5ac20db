"""Phone numbers and segment counting."""

from __future__ import annotations

import io
import logging

import pytest

from service.logs import handler
from service.messages.segments import count_segments
from service.phones import InvalidPhone, is_e164, mask, normalize


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(202) 555-0142", "US", "+12025550142"),
        ("+1 202 555 0142", "US", "+12025550142"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 20 7946 0958", "US", "+442079460958"),
    ],
)
def test_numbers_are_normalised_to_e164(raw: str, region: str, e164: str) -> None:
    assert normalize(raw, region) == e164


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("", "no phone number was given"),
        ("abc", "'abc' is not a phone number"),
        ("202-555-12345", "'202-555-12345' is not a valid phone number"),
        ("+1 202 555", "'+1 202 555' is not a valid phone number"),
        ("1" * 40, "'" + "1" * 32 + "'... is too long for a phone number"),
    ],
)
def test_a_bad_number_is_refused_showing_what_was_typed(raw: str, shown: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalize(raw)
    assert str(caught.value) == shown


def test_a_bad_number_quoted_in_a_log_line_is_masked() -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalize("+1 202 555 014")
    stream = io.StringIO()
    logger = logging.getLogger("tests.phones")
    logger.addHandler(handler(stream))
    try:
        logger.warning("refused: %s", caught.value)
    finally:
        logger.handlers.clear()

    assert "+1 202 555 014" in str(caught.value)
    assert "202 555" not in stream.getvalue() and "+1*****5014" in stream.getvalue()


def test_is_e164() -> None:
    assert is_e164("+12025550142")
    assert not is_e164("12025550142")
    assert not is_e164("+1202555014")


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+12025554567", "+1******4567"),
        ("+442079460958", "+44******0958"),
        ("+5215512345678", "+52*******5678"),
        (None, "(none)"),
    ],
)
def test_masking_keeps_only_country_and_last_four(phone: str | None, masked: str) -> None:
    assert mask(phone) == masked


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("{" * 80, "GSM-7", 1),  # extension characters count twice
        ("{" * 81, "GSM-7", 2),
        ("é" * 160, "GSM-7", 1),  # é is in the basic GSM set
        ("á" * 70, "UCS-2", 1),
        ("á" * 71, "UCS-2", 2),
        ("🙂" * 35, "UCS-2", 1),  # an emoji is two UTF-16 units
        ("🙂" * 36, "UCS-2", 2),
    ],
)
def test_segments_are_counted_as_carriers_count_them(
    text: str, encoding: str, segments: int
) -> None:
    count = count_segments(text)
    assert (count.encoding, count.segments) == (encoding, segments)
