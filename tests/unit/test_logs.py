"""Log lines mask every phone number, however it is written, and leave other numbers alone."""

from __future__ import annotations

import io
import json
import logging

import pytest

from service import logs
from service.config import ConfigError, Settings


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


def test_json_lines_mask_numbers_in_the_message_and_the_traceback() -> None:
    written = io.StringIO()
    logger = logging.getLogger("tests.unit.test_logs.json")
    logger.addHandler(logs.handler(written, "json"))
    logger.propagate = False
    try:
        try:
            raise ValueError("could not text (202) 555-0188")
        except ValueError:
            logger.exception("sending to %s failed", "+12025550188", extra={"to": "+12025550188"})
    finally:
        logger.handlers.clear()
        logger.propagate = True

    line = json.loads(written.getvalue())
    assert line["level"] == "ERROR" and line["logger"] == "tests.unit.test_logs.json"
    assert line["message"] == "sending to +1******0188 failed"
    assert line["to"] == "+1******0188"
    assert "Traceback" in line["exc_info"]
    assert "ValueError: could not text ******0188" in line["exc_info"]
    assert "555" not in written.getvalue().replace("******", "")
    assert written.getvalue().count("\n") == 1  # one line, traceback and all


def test_the_log_format_is_chosen_by_setting_and_a_bad_one_is_refused() -> None:
    assert Settings.from_env({"PEERLINE_LOG_FORMAT": "JSON"}, mode="test").log_format == "json"
    assert Settings.from_env({}, mode="test").log_format == "text"
    with pytest.raises(ConfigError, match="PEERLINE_LOG_FORMAT: text or json"):
        Settings.from_env({"PEERLINE_LOG_FORMAT": "xml"}, mode="test")


def _root_formatters() -> list[logging.Formatter]:
    return [h.formatter for h in logging.getLogger().handlers if h.formatter is not None]


def test_configure_switches_the_root_handler_to_json_and_back() -> None:
    record = logging.LogRecord(
        "service.web.sms", logging.INFO, __file__, 1, "from %s", ("+12025550188",), None
    )
    try:
        logs.configure("INFO", "json")
        masked = [f for f in _root_formatters() if isinstance(f, logs.MaskingJsonFormatter)]
        assert len(masked) == 1
        assert json.loads(masked[0].format(record))["message"] == "from +1******0188"
    finally:
        logs.configure("INFO", "text")
    texts = [f for f in _root_formatters() if isinstance(f, logs.MaskingFormatter)]
    assert len(texts) == 1
    assert texts[0].format(record).endswith("service.web.sms: from +1******0188")
