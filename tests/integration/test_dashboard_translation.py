"""The domain's refusals reach the dashboard's pages through its catalogue, in its language."""

from __future__ import annotations

import html
import io
from dataclasses import replace
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.dashboard import csrf_token, sign_in, with_password
from tests.support import Clock, make_group

SPANISH = {
    "the code %(code)s is taken; choose another %(what)s": (
        "el código %(code)s ya lo tiene otro grupo; elige otro %(what)s"
    ),
    "join code": "código para unirse",
    "the phone number %(number)s is not a valid number for %(region)s": (
        "el número %(number)s no es un número válido en %(region)s"
    ),
    "%(reason)s; %(more)s": "%(reason)s; además, %(more)s",
    "time zone %(value)s is not known": "la zona horaria %(value)s no existe",
}


@pytest.fixture
def spanish(app: Flask, tmp_path: Path) -> Flask:
    """The app with a test catalogue in Spanish (a .mo in tmp_path), Spanish its locale."""
    catalog = Catalog(locale="es")
    for msgid, msgstr in SPANISH.items():
        catalog.add(msgid, msgstr)
    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.mo").open("wb") as mo:
        write_mo(mo, catalog)
    app.config.update(BABEL_TRANSLATION_DIRECTORIES=str(tmp_path), BABEL_DEFAULT_LOCALE="es")
    # Flask-Babel reads both settings once, when the dashboard sets it up: set up again.
    babel = app.extensions["babel"]
    app.extensions["babel"] = replace(
        babel, default_locale="es", translation_directories=[str(tmp_path)]
    )
    return app


@pytest.mark.usefixtures("spanish")
def test_a_taken_join_code_is_refused_in_the_catalogues_language(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE", coordinator_email="robin@example.org")
    make_group(session, "HARBOR", coordinator_email="kim@example.org")
    with_password(session, "robin@example.org", clock)
    sign_in(client, "robin@example.org")
    path = f"/groups/{circle.id}/edit"
    form = {
        "name": circle.name,
        "public_name": circle.public_name,
        "join_code": "harbor",
        "keypad_code": circle.keypad_code or "",
        "timezone": circle.timezone,
        "language": circle.language,
        "quiet_start": f"{circle.quiet_start:%H:%M}",
        "quiet_end": f"{circle.quiet_end:%H:%M}",
        "on_call_phone": "",
    }

    answer = client.post(path, data={"csrf_token": csrf_token(client, path), **form})

    assert answer.status_code == 422
    error = html.unescape(answer.text.split('id="join_code-error"')[1].split("</small>")[0])
    assert "El código HARBOR ya lo tiene otro grupo; elige otro código para unirse" in error
    assert "taken" not in error


@pytest.mark.usefixtures("spanish")
def test_a_rosters_bad_rows_are_explained_in_the_catalogues_language(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE", coordinator_email="robin@example.org")
    with_password(session, "robin@example.org", clock)
    sign_in(client, "robin@example.org")
    roster = "phone,time zone\n+12025550101,\n2025550,Mars/Base\n"

    answer = client.post(
        "/people/import",
        data={
            "csrf_token": csrf_token(client, "/people/import"),
            "group": circle.id,
            "consent_note": "",
            "roster": (io.BytesIO(roster.encode()), "roster.csv"),
        },
        content_type="multipart/form-data",
    )

    assert answer.status_code == 200, answer.text
    table = html.unescape(answer.text.split('class="problems"')[1].split("</table>")[0])
    assert (
        "el número ***5550 no es un número válido en US; además, "
        "la zona horaria 'Mars/Base' no existe"
    ) in table
    assert "is not a valid number" not in table and "is not known" not in table
