"""The one rule for a coordinator's words: variables by kind of text, Twilio's length, the cost."""

from __future__ import annotations

import pytest

from service.campaigns.wording import WordingError, check_template

PLAIN = "{{ first_name }}, {{ group }}"


@pytest.mark.parametrize(
    ("text", "meeting", "message"),
    [
        ("Hi {{ nme }}", False, f"Unknown variable {{{{ nme }}}}; use one of {PLAIN}."),
        ("{{ frist_name }} {{ grup }}", False,
         f"Unknown variables {{{{ frist_name }}}}, {{{{ grup }}}}; use one of {PLAIN}."),
        ("See you at {{ location }}", False,
         "This message uses {{ location }}, but it is not about a meeting; "
         "it can use {{ first_name }} or {{ group }}."),
        ("Hi {{ first_name }", False, "Syntax error on line 1: unexpected '}'."),
        ("   ", False, "The message is empty; write the text to send."),
    ],
)  # fmt: skip
def test_words_a_text_cannot_have_are_refused_naming_them_and_the_allowed_ones(
    text: str, meeting: bool, message: str
) -> None:
    with pytest.raises(WordingError) as refused:
        check_template(text, meeting=meeting)
    assert str(refused.value) == message


def test_a_reminder_may_use_the_meeting_variables() -> None:
    checked = check_template("{{ first_name }}: {{ meeting_when }} at {{ location }}")
    assert checked.sample == "Alexandra: Friday, March 6 at 6:00 PM at Community Center, Room 5"


def test_two_thousand_characters_are_refused_and_sixteen_hundred_are_not() -> None:
    with pytest.raises(WordingError) as refused:
        check_template("a" * 2000, meeting=False)
    assert str(refused.value) == (
        "This message is 2000 characters long; a text holds at most 1600."
    )
    assert check_template("a" * 1600, meeting=False).count.segments == 11


def test_a_text_that_only_fits_with_short_names_is_refused() -> None:
    # 1,494 characters for Alexandra; 1,605 for a name of 120 letters, which a group may keep.
    text = "Hi {{ first_name }}! " + "a" * 1480
    with pytest.raises(WordingError) as refused:
        check_template(text, meeting=False)
    assert str(refused.value) == (
        "This message can come out 1605 characters long with the longest names and places; "
        "a text holds at most 1600."
    )


def test_the_cost_names_the_character_that_makes_it_ucs2() -> None:
    checked = check_template("Hi {{ first_name }}, we\u2019re in room 7 from now on. " + "x" * 130)
    assert checked.summary == (
        "173 characters, 3 segments; \u2019 (U+2019) makes this UCS-2: 3 segments instead of 2."
    )
