"""Log lines mask every phone number, however it is written, and leave other numbers alone."""

from __future__ import annotations

import io
import logging

import pytest

from service import logs


@pytest.mark.parametrize(
    ("written", "masked"),
    [
        ("+12025550188", "+1******0188"),
        ("+1 (202) 555-0188", "+1******0188"),
        ("+44 20 7946 0958", "+44******0958"),
        ("2025550188", "******0188"),
        ("(202) 555-0188", "******0188"),
        ("202.555.0188", "******0188"),
        ("[parameters: ('+12025550188', 'Sam')]", "[parameters: ('+1******0188', 'Sam')]"),
    ],
)
def test_phone_numbers_are_masked_however_written(written: str, masked: str) -> None:
    assert logs.mask_phones(written) == masked


@pytest.mark.parametrize(
    "kept",
    [
        "outbox 1234 is now delivered",
        "2026-12-01 15:57:29,123 INFO service.web.sms: ok",
        "MessageSid SM0123456789abcdef0123456789abcdef",
        "hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "error 21610 recorded",
    ],
)
def test_other_numbers_are_left_alone(kept: str) -> None:
    assert logs.mask_phones(kept) == kept


def test_a_traceback_is_masked_as_well_as_the_message() -> None:
    written = io.StringIO()
    logger = logging.getLogger("tests.unit.test_logs")
    logger.addHandler(logs.handler(written))
    logger.propagate = False
    try:
        try:
            raise ValueError("could not text +12025550188")
        except ValueError:
            logger.exception("sending to %s failed", "+12025550188", stack_info=True)
    finally:
        logger.handlers.clear()
        logger.propagate = True

    lines = written.getvalue()
    assert "Traceback" in lines and "Stack (most recent call last)" in lines
    assert "ValueError: could not text +1******0188" in lines
    assert "2025550188" not in lines.replace("+1******0188", "")
