"""Logging that never writes a full phone number, in a message, a traceback or a stack.

Lines are text by default, or one JSON object each (``PEERLINE_LOG_FORMAT=json``) for a log
collector; both are masked the same way.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

from service.phones import mask

# Anything that looks like an international number, however it is punctuated.
_INTERNATIONAL = re.compile(r"\+\d[\d\s().-]{6,18}\d")
# A national number as people type it (2025550188, 202-555-0188, (202) 555 0188), not part of
# a longer word or number such as a SID or a hash.
_NATIONAL = re.compile(r"(?<![\w+])\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)")

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The JSON object's keys: time, level, logger and message, then exc_info and stack_info when
# there are any, and whatever a call passed in extra=.
JSON_FIELDS = ("asctime", "levelname", "name", "message")
JSON_NAMES = {"asctime": "time", "levelname": "level", "name": "logger"}


def mask_phones(text: str) -> str:
    """text with every phone number in it masked: +1******0188."""
    text = _INTERNATIONAL.sub(lambda m: mask(re.sub(r"[^\d+]", "", m.group())), text)
    return _NATIONAL.sub(lambda m: mask(re.sub(r"\D", "", m.group())), text)


class MaskingFormatter(logging.Formatter):
    """Formats a record whole (message, exception and stack), then masks phone numbers in it.

    Masking the finished text, not the message alone, covers what a traceback quotes: an
    exception's message, a database error's parameters, a line of source.
    """

    def format(self, record: logging.LogRecord) -> str:
        return mask_phones(super().format(record))


class MaskingJsonFormatter(JsonFormatter):
    """One JSON object a line, every string in it (message, traceback, stack, extra fields)
    masked before it is serialised, so no escaping can hide a number from the mask."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", JSON_NAMES)
        super().__init__(*args or (list(JSON_FIELDS),), **kwargs)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        masked: dict[str, Any] = _masked(log_data)
        return masked


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_phones(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


def formatter(log_format: str = "text") -> logging.Formatter:
    """The masking formatter for log_format: text or json."""
    return MaskingJsonFormatter() if log_format == "json" else MaskingFormatter(FORMAT)


def handler(stream: TextIO | None = None, log_format: str = "text") -> logging.Handler:
    """A handler writing masked lines to stream (standard error by default)."""
    made = logging.StreamHandler(stream or sys.stderr)
    made.setFormatter(formatter(log_format))
    return made


def _masking_handler() -> logging.Handler:
    """The root logger's masked handler, added on first use."""
    root = logging.getLogger()
    for existing in root.handlers:
        if isinstance(existing.formatter, MaskingFormatter | MaskingJsonFormatter):
            return existing
    made = handler()
    root.addHandler(made)
    return made


def configure(level: str, log_format: str = "text") -> None:
    """Log to standard error, masked, as text or JSON; quiet chatty libraries (twilio-python
    logs request headers at INFO; APScheduler logs every tick)."""
    _masking_handler().setFormatter(formatter(log_format))
    logging.getLogger().setLevel(level)
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)


@contextmanager
def silenced() -> Iterator[None]:
    """No log line reaches the terminal meanwhile: a command's answer is its output alone."""
    shown = _masking_handler()
    before = shown.level
    shown.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        shown.setLevel(before)
