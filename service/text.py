"""Sentences Peerline says to people, marked so that a translation can reach them.

The domain says its refusals and warnings in English with said(): the value is the English
sentence, so the command line, the API and the logs read it as any string, and it keeps the
template and the named values it was made from, for the dashboard to look the template up in
its catalogue (pybabel extracts said as a keyword; see babel.cfg).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Said(str):
    """An English sentence that keeps its template and named values."""

    template: str
    values: Mapping[str, Any]

    def __new__(cls, template: str, /, **values: Any) -> Said:
        # Formatted only with values, as gettext does, so a bare "%" in a template stays itself.
        sentence = super().__new__(cls, template % values if values else template)
        sentence.template = template
        sentence.values = values
        return sentence


def said(template: str, /, **values: Any) -> Said:
    """The sentence template with its %(name)s placeholders filled in from values."""
    return Said(template, **values)


def sentence_of(error: BaseException) -> str:
    """The sentence an exception was raised with, still a Said if it was said (str() is not)."""
    if error.args and isinstance(error.args[0], Said):
        return error.args[0]
    return str(error)
