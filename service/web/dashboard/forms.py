"""The dashboard's forms; each carries its CSRF token."""

from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    TelField,
    TextAreaField,
)
from wtforms.validators import EqualTo, InputRequired, Length, Optional
from wtforms.widgets import HiddenInput


def form_status() -> int:
    """The status of a page that shows a form: 200 when asked for, 422 when a posted form comes
    back refused (a form that went through answers with a redirect, never with this page)."""
    return 422 if request.method == "POST" else 200


class SignInForm(FlaskForm):  # type: ignore[misc]
    email = EmailField(
        _l("Email"),
        validators=[InputRequired(), Length(max=254)],
        render_kw={"autocomplete": "username", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )


class PasswordForm(FlaskForm):  # type: ignore[misc]
    current = PasswordField(
        _l("Current password"),
        validators=[InputRequired(), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    new = PasswordField(
        _l("New password"),
        validators=[InputRequired(), Length(max=1024)],
        description=_l("At least 12 characters."),
        render_kw={"autocomplete": "new-password"},
    )
    repeat = PasswordField(
        _l("New password again"),
        validators=[InputRequired(), EqualTo("new", message=_l("The two new passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class ReplyForm(FlaskForm):  # type: ignore[misc]
    text = TextAreaField(
        _l("Your reply"),
        validators=[InputRequired(), Length(max=4000)],
        description=_l("Goes by text. You may use {{ first_name }} and {{ group }}."),
        render_kw={"rows": 4},
    )
    # How many replies the page showed as sent: a form posted twice is not texted twice.
    answered = IntegerField(widget=HiddenInput(), validators=[Optional()])


class DailyTextForm(FlaskForm):  # type: ignore[misc]
    on = BooleanField(_l("Text me once a day when replies are waiting"))
    phone = TelField(
        _l("My phone"),
        validators=[Length(max=40)],
        description=_l("Your own phone. The text says only how many replies wait, around 9 am."),
        render_kw={"autocomplete": "tel"},
    )
