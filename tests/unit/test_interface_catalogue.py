"""The message catalogue holds the domain's refusals and warnings, and the dashboard reads it.

Extracted as `pybabel extract -F babel.cfg -k _l -k said` does, through Babel's own API, and a
sentence said with values reaches the page in a catalogue's language, its values too.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import Babel

from service.conversation.groups import GroupError
from service.text import Said, said, sentence_of
from service.web.dashboard.translated import translated

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def extracted() -> dict[str, set[str]]:
    """Every message id babel.cfg's extraction finds, with the files it is found in."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        # Babel's own reading of babel.cfg, as pybabel's; it has no annotations.
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "said": None}
    found: dict[str, set[str]] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        msgid = message if isinstance(message, str) else message[0]
        found.setdefault(msgid, set()).add(filename)
    return found


@pytest.mark.parametrize(
    ("msgid", "where"),
    [
        (
            "the code %(code)s is taken; choose another %(what)s",
            "service/conversation/groups.py",
        ),
        ("join code", "service/conversation/groups.py"),
        ("a password needs at least %(least)d characters", "service/people/accounts.py"),
        (
            "the phone number %(number)s is not a valid number for %(region)s",
            "service/people/roster.py",
        ),
        ("%(text)r is not a valid phone number", "service/phones.py"),
        (
            "The new time, %(when)s, is already past: no reminders will be sent for this meeting.",
            "service/campaigns/meeting_warnings.py",
        ),
        ("the rule gives no meeting at all; check its UNTIL, COUNT and BY... parts", None),
        ("This message comes out empty; write the text to send.", None),
        ("an encouragement stays worth sending for 1 to %(longest)d hours", None),
        ("say why it is undone, in 1 to %(longest)d characters", None),
        ("this person has not confirmed they want texts (no YES yet)", None),
        ("a name has at most %(longest)d characters", None),
        ("the file has a header but no rows below it", "service/people/roster.py"),
    ],
)
def test_the_domains_sentences_are_in_the_catalogue(
    extracted: dict[str, set[str]], msgid: str, where: str | None
) -> None:
    assert msgid in extracted
    if where is not None:
        assert where in extracted[msgid]


def test_the_dashboards_own_strings_are_still_in_it(extracted: dict[str, set[str]]) -> None:
    assert "The group %(name)s is created." in extracted  # _ in a view
    assert "Email" in extracted  # _l on a form


def test_a_said_sentence_reads_as_its_english_and_keeps_its_template_and_values() -> None:
    sentence = said("the code %(code)s is taken; choose another %(what)s", code="X1", what="no")
    error = GroupError(sentence, "join_code")

    assert sentence == "the code X1 is taken; choose another no"
    assert str(error) == "the code X1 is taken; choose another no"
    assert type(str(error)) is str  # what str() gives is plain: the dashboard asks sentence_of
    caught = sentence_of(error)
    assert isinstance(caught, Said)
    assert caught.template == "the code %(code)s is taken; choose another %(what)s"
    assert caught.values == {"code": "X1", "what": "no"}
    assert sentence_of(ValueError("plain")) == "plain"
    assert said("50% off") == "50% off"  # no values: no formatting, as gettext does


@pytest.fixture
def spanish(tmp_path: Path) -> Iterator[Flask]:
    """An app whose catalogue (a .po compiled to .mo in tmp_path) has a little Spanish."""
    po = BytesIO(
        b'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        b'msgid "the code %(code)s is taken; choose another %(what)s"\n'
        b'msgstr "el c\xc3\xb3digo %(code)s ya existe; elige otro %(what)s"\n\n'
        b'msgid "join code"\nmsgstr "c\xc3\xb3digo de grupo"\n'
    )
    catalog: Catalog = read_po(po, locale="es")
    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.mo").open("wb") as mo:
        write_mo(mo, catalog)
    app = Flask(__name__)
    app.config.update(BABEL_TRANSLATION_DIRECTORIES=str(tmp_path), BABEL_DEFAULT_LOCALE="es")
    Babel(app)
    with app.test_request_context():
        yield app


@pytest.mark.usefixtures("spanish")
def test_translated_reads_a_said_sentence_and_its_said_values_from_the_catalogue() -> None:
    taken = said(
        "the code %(code)s is taken; choose another %(what)s", code="HARBOR", what=said("join code")
    )

    assert translated(taken) == "el código HARBOR ya existe; elige otro código de grupo"
    assert translated(GroupError(taken)) == "el código HARBOR ya existe; elige otro código de grupo"
    # Not in this catalogue: the English, values filled in; a plain string: as it is.
    assert translated(said("a keypad code is %(n)d digits", n=4)) == "a keypad code is 4 digits"
    assert translated("said plainly") == "said plainly"
    assert translated(ValueError("said plainly")) == "said plainly"
