"""Wording a lock screen could show: the group's internal name and its topic words are warned of."""

from __future__ import annotations

from service.campaigns.wording import discretion_warnings, split_topic_words


def test_the_internal_name_and_topic_words_are_found_as_whole_words_whatever_their_case() -> None:
    warnings = discretion_warnings(
        "Hi {{ first_name }}, the TUESDAY  circle talks about Grief tonight",
        internal_name="Tuesday circle",
        topic_words=["grief", "loss"],
    )

    assert warnings == [
        "This text names the group's internal name 'Tuesday circle', which participants never "
        "see; a text can show on a locked phone.",
        "This text has the topic word 'grief'; a text can show on a locked phone, where someone "
        "else may read it.",
    ]


def test_a_word_inside_another_word_is_not_a_topic_word() -> None:
    assert discretion_warnings("Glossy news", internal_name="Circle", topic_words=["loss"]) == []


def test_discreet_wording_gets_no_warning() -> None:
    assert discretion_warnings("See you {{ meeting_when }}", internal_name="Grief circle") == []


def test_topic_words_are_written_with_commas_or_lines() -> None:
    assert split_topic_words("grief, loss\n bereavement ,,") == ["grief", "loss", "bereavement"]
