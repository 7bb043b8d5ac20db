"""Logging that never writes a full phone number."""

from __future__ import annotations

import logging
import re

from service.phones import mask

# Anything that looks like an international number, however it is punctuated.
_PHONE = re.compile(r"\+\d[\d\s().-]{6,18}\d")


class MaskPhones(logging.Filter):
    """Rewrites each record's message with every phone number masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _PHONE.sub(lambda m: mask(re.sub(r"[^\d+]", "", m.group())), message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure(level: str) -> None:
    """Log to standard error, masked; quiet chatty libraries (twilio-python logs
    request headers at INFO; APScheduler logs every tick)."""
    root = logging.getLogger()
    if not any(isinstance(f, MaskPhones) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(MaskPhones())
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
