"""Every default text and spoken script exists in Spanish as in English, with the same blanks."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import Environment, meta

from service.messages.wording import LANGUAGES, Wording

MESSAGES = Path(__file__).resolve().parents[2] / "templates" / "messages"


def names(language: str) -> set[str]:
    folder = MESSAGES / language
    return {str(p.relative_to(folder)) for p in folder.rglob("*.txt")}


def blanks(path: Path) -> set[str]:
    env = Environment(autoescape=False)  # noqa: S701 - plain-text SMS, never HTML
    return meta.find_undeclared_variables(env.parse(path.read_text(encoding="utf-8")))


def test_every_english_wording_has_its_spanish_twin_and_no_more() -> None:
    assert names("en"), "no wording found"
    assert names("es") == names("en")


@pytest.mark.parametrize("name", sorted(names("en")))
def test_both_languages_fill_the_same_blanks(name: str) -> None:
    assert blanks(MESSAGES / "es" / name) == blanks(MESSAGES / "en" / name), name


def test_help_names_the_coordinator_in_the_readers_language() -> None:
    wording = Wording(program="Peerline", contact=None)
    assert "your group's coordinator" in wording.render("help", "en")
    spanish = wording.render("help", "es")
    assert "la persona que coordina su grupo" in spanish and "your" not in spanish
    named = Wording(program="Peerline", contact="Ana, 555-0100")
    assert all("Ana, 555-0100" in named.render("help", lang) for lang in LANGUAGES)
