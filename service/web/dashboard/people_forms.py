"""The People pages' forms; each carries its CSRF token."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from service.messages.wording import LANGUAGES
from service.people.consent import MAX_NOTE
from service.people.participants import MAX_NAME

LANGUAGE_NAMES = {"en": _l("English"), "es": _l("Spanish")}


def _languages() -> list[tuple[str, str]]:
    return [(code, str(LANGUAGE_NAMES.get(code, code))) for code in LANGUAGES]


def _channels() -> list[tuple[str, str]]:
    return [("sms", str(_l("Texts"))), ("voice", str(_l("Phone calls")))]


class DetailsForm(FlaskForm):  # type: ignore[misc]
    name = StringField(
        _l("Name"),
        validators=[Optional(), Length(max=MAX_NAME)],
        description=_l("As this group knows them; texts use the first word."),
        render_kw={"autocomplete": "off"},
    )
    language = SelectField(_l("Language"), choices=_languages)
    timezone = StringField(
        _l("Time zone"),
        validators=[InputRequired(), Length(max=64)],
        description=_l("Such as America/Chicago."),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    channel = SelectField(_l("Reach them by"), choices=_channels)


class AddForm(DetailsForm):
    group = SelectField(_l("Group"), coerce=int)
    phone = StringField(
        _l("Phone number"),
        validators=[InputRequired(), Length(max=32)],
        render_kw={"autocomplete": "off", "inputmode": "tel"},
    )
    consent_note = TextAreaField(
        _l("Written consent (optional)"),
        validators=[Optional(), Length(max=MAX_NOTE)],
        description=_l(
            "If they gave written consent, say where it is kept. Without a note they are "
            "invited by text to reply YES."
        ),
    )


class NoteForm(FlaskForm):  # type: ignore[misc]
    note = TextAreaField(
        _l("Note"),
        validators=[InputRequired(), Length(max=MAX_NOTE)],
        description=_l("How and when they asked, or why."),
    )


class UploadForm(FlaskForm):  # type: ignore[misc]
    group = SelectField(_l("Group"), coerce=int)
    roster = FileField(
        _l("Roster file (CSV)"),
        validators=[FileRequired(_l("Choose a CSV file."))],
        description=_l("One person a row: phone, and if you have them name, language, time zone."),
        render_kw={"accept": ".csv,text/csv"},
    )
    consent_note = TextAreaField(
        _l("Written consent (optional)"),
        validators=[Optional(), Length(max=MAX_NOTE)],
        description=_l(
            "If everyone in the file gave written consent, say where it is kept. Without a note "
            "they are invited by text to reply YES."
        ),
    )


class ApplyForm(FlaskForm):  # type: ignore[misc]
    roster = HiddenField(validators=[InputRequired()])
    skip_bad_rows = BooleanField(_l("Import the good rows and skip the bad ones"))
