"""The domain's refusals and warnings in the dashboard's language."""

from __future__ import annotations

from flask_babel import gettext

from service.text import Said, sentence_of


def translated(message: str | BaseException) -> str:
    """A said sentence (or an error raised with one) from the catalogue, its values too; any
    other string as it is."""
    if isinstance(message, BaseException):
        message = sentence_of(message)
    if not isinstance(message, Said):
        return message
    values = {
        name: translated(value) if isinstance(value, Said) else value
        for name, value in message.values.items()
    }
    return str(gettext(message.template, **values))
