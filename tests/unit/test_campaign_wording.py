"""Campaign wording: checking coordinators' templates and rendering them per participant."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_time as babel_format_time
from jinja2 import nodes

from service.campaigns import wording as campaign_wording
from service.campaigns.wording import (
    VARIABLES,
    Rendered,
    WordingError,
    check_template,
    default_pool,
    default_template,
    render,
)
from service.messages.segments import count_segments

NY = "America/New_York"
LA = "America/Los_Angeles"

ALLOWED = (
    "{{ first_name }}, {{ group }}, {{ meeting_day }}, {{ meeting_time }}, {{ meeting_when }}, "
    "{{ location }}, {{ reply_instructions }}"
)
ONLY = "only variables, {% if %} and the filters upper, lower, title, capitalize, trim, default"


def at(zone: str, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock moment in zone, handed over in UTC as it is stored."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


MONDAY_MORNING = utc(2026, 3, 2, 14)


def fill(
    text: str,
    *,
    language: str = "en",
    now: datetime = MONDAY_MORNING,
    first_name: str | None = "Ana",
    meeting_start: datetime | None = None,
    zone: str | None = NY,
    location: str | None = None,
    rsvp: bool = False,
    send_at: datetime | None = None,
) -> Rendered:
    return render(
        text,
        language=language,
        now=now,
        first_name=first_name,
        group="Tuesday Circle",
        meeting_start=meeting_start,
        zone=zone,
        location=location,
        rsvp=rsvp,
        send_at=send_at,
    )


# The meeting is Tuesday 3 March 2026 unless the row says otherwise; `now` is in UTC, so the
# same instant can be "today" in New York and still "tomorrow" in Los Angeles.
@pytest.mark.parametrize(
    ("language", "zone", "meeting", "now", "when", "day", "time"),
    [
        ("en", NY, (2026, 3, 3, 18, 30), utc(2026, 3, 3, 14), "today at 6:30 PM",
         "Tuesday, March 3", "6:30 PM"),
        ("en", NY, (2026, 3, 3, 18, 30), utc(2026, 3, 2, 14), "tomorrow at 6:30 PM",
         "Tuesday, March 3", "6:30 PM"),
        ("en", NY, (2026, 3, 3, 18, 30), utc(2026, 2, 27, 14), "Tuesday, March 3 at 6:30 PM",
         "Tuesday, March 3", "6:30 PM"),
        ("en", NY, (2026, 3, 3, 18, 30), utc(2026, 3, 3, 6), "today at 6:30 PM",
         "Tuesday, March 3", "6:30 PM"),
        ("en", LA, (2026, 3, 3, 18, 30), utc(2026, 3, 3, 6), "tomorrow at 6:30 PM",
         "Tuesday, March 3", "6:30 PM"),
        ("en", LA, (2026, 3, 3, 9, 0), utc(2026, 3, 3, 18), "today at 9:00 AM",
         "Tuesday, March 3", "9:00 AM"),
        # After the spring-forward of 8 March the wall time still reads 6:30 PM.
        ("en", NY, (2026, 3, 10, 18, 30), utc(2026, 3, 9, 22), "tomorrow at 6:30 PM",
         "Tuesday, March 10", "6:30 PM"),
        ("en", NY, (2026, 3, 3, 23, 45), utc(2026, 3, 4, 3), "today at 11:45 PM",
         "Tuesday, March 3", "11:45 PM"),
        ("es", NY, (2026, 3, 3, 18, 30), utc(2026, 3, 3, 14), "hoy a las 18:30",
         "martes, 3 de marzo", "18:30"),
        ("es", NY, (2026, 3, 3, 18, 30), utc(2026, 3, 2, 14), "mañana a las 18:30",
         "martes, 3 de marzo", "18:30"),
        ("es", LA, (2026, 3, 3, 18, 30), utc(2026, 2, 27, 14),
         "el martes 3 de marzo a las 18:30", "martes, 3 de marzo", "18:30"),
        ("es", LA, (2026, 3, 3, 18, 30), utc(2026, 3, 3, 6), "mañana a las 18:30",
         "martes, 3 de marzo", "18:30"),
        ("es", NY, (2026, 3, 7, 13, 0), utc(2026, 3, 2, 14), "el sábado 7 de marzo a las 13:00",
         "sábado, 7 de marzo", "13:00"),
        ("es", NY, (2026, 3, 4, 1, 30), utc(2026, 3, 2, 14),
         "el miércoles 4 de marzo a la 1:30", "miércoles, 4 de marzo", "1:30"),
        # A language Peerline has no words for falls back to English.
        ("fr", NY, (2026, 3, 3, 18, 30), utc(2026, 3, 2, 14), "tomorrow at 6:30 PM",
         "Tuesday, March 3", "6:30 PM"),
    ],
)  # fmt: skip
def test_meeting_in_words(
    language: str,
    zone: str,
    meeting: tuple[int, int, int, int, int],
    now: datetime,
    when: str,
    day: str,
    time: str,
) -> None:
    rendered = fill(
        "{{ meeting_when }} / {{ meeting_day }} / {{ meeting_time }}",
        language=language,
        now=now,
        meeting_start=at(zone, *meeting),
        zone=zone,
    )
    assert rendered.text == f"{when} / {day} / {time}"


def test_the_meeting_zone_decides_the_wall_time() -> None:
    start = utc(2026, 3, 3, 23, 30)
    assert fill("{{ meeting_time }}", meeting_start=start, zone=NY).text == "6:30 PM"
    assert fill("{{ meeting_time }}", meeting_start=start, zone=LA).text == "3:30 PM"


@pytest.mark.parametrize(
    ("send_at", "when"),
    [
        (None, "Tuesday, March 3 at 6:30 PM"),
        (at(NY, 2026, 3, 2, 18), "tomorrow at 6:30 PM"),
        (at(NY, 2026, 3, 3, 16, 30), "today at 6:30 PM"),
    ],
)
def test_today_and_tomorrow_are_reckoned_from_the_send_time(
    send_at: datetime | None, when: str
) -> None:
    # Planned on Friday 27 February, days before the text goes out.
    rendered = fill(
        "{{ meeting_when }}",
        now=at(NY, 2026, 2, 27, 9),
        meeting_start=at(NY, 2026, 3, 3, 18, 30),
        send_at=send_at,
    )
    assert rendered.text == when


@pytest.mark.parametrize(
    ("language", "first_name", "location", "rsvp", "text"),
    [
        ("en", "Ana", "Room 5", True,
         "Hi Ana, a reminder: Tuesday Circle meets tomorrow at 6:30 PM at Room 5. "
         "Reply C to confirm, N if you can't come."),
        ("en", "Ana", None, False, "Hi Ana, a reminder: Tuesday Circle meets tomorrow at 6:30 PM."),
        ("en", None, "Room 5", False,
         "Hi there, a reminder: Tuesday Circle meets tomorrow at 6:30 PM at Room 5."),
        ("en", "", None, True,
         "Hi there, a reminder: Tuesday Circle meets tomorrow at 6:30 PM. "
         "Reply C to confirm, N if you can't come."),
        ("es", "Ana", "Sala 5", True,
         "Hola Ana, le esperamos en Tuesday Circle mañana a las 18:30 en Sala 5. "
         "Responda C para confirmar, N si no puede venir."),
        ("es", "Ana", None, False, "Hola Ana, le esperamos en Tuesday Circle mañana a las 18:30."),
        ("es", None, None, True,
         "Hola de nuevo, le esperamos en Tuesday Circle mañana a las 18:30. "
         "Responda C para confirmar, N si no puede venir."),
    ],
)  # fmt: skip
def test_default_reminder(
    language: str, first_name: str | None, location: str | None, rsvp: bool, text: str
) -> None:
    rendered = fill(
        default_template("reminder", language),
        language=language,
        first_name=first_name,
        meeting_start=at(NY, 2026, 3, 3, 18, 30),
        location=location,
        rsvp=rsvp,
    )
    assert rendered == Rendered(text, 1, "GSM-7", None)


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize(
    "meeting",
    [(2026, 3, 2, 19, 0), (2026, 3, 3, 18, 30), (2026, 9, 30, 18, 30), (2026, 11, 25, 12, 0)],
)
def test_default_reminder_is_one_gsm_segment_for_typical_names(
    language: str, meeting: tuple[int, int, int, int, int]
) -> None:
    rendered = render(
        default_template("reminder", language),
        language=language,
        now=utc(2026, 3, 2, 14),
        first_name="Guadalupe",
        group="Tuesday Circle",
        meeting_start=at(NY, *meeting),
        zone=NY,
        location="St Mark's, Room 5",
        rsvp=True,
    )
    assert (rendered.segments, rendered.encoding, rendered.warning) == (1, "GSM-7", None)


def test_a_saturday_in_spanish_is_ucs2_and_warned_about() -> None:
    rendered = fill(
        default_template("reminder", "es"),
        language="es",
        meeting_start=at(NY, 2026, 3, 7, 10),
        location="Sala 5",
        rsvp=True,
    )
    assert "el sábado 7 de marzo a las 10:00" in rendered.text
    assert (rendered.encoding, rendered.segments) == ("UCS-2", 2)
    assert rendered.warning == (
        f"This message is 2 segments: 'á' makes it UCS-2, where one segment holds 70 "
        f"characters, and it has {len(rendered.text)}."
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The message is empty; write the text to send."),
        (" \n\t", "The message is empty; write the text to send."),
        ("See you {{ meeting_place }}",
         f"Unknown variable {{{{ meeting_place }}}}; use one of {ALLOWED}."),
        ("{{ name }} {{ place }} {{ name }}",
         f"Unknown variables {{{{ name }}}}, {{{{ place }}}}; use one of {ALLOWED}."),
        ("{{ FIRST_NAME }}", f"Unknown variable {{{{ FIRST_NAME }}}}; use one of {ALLOWED}."),
        ("{% if venue %}x{% endif %}", f"Unknown variable {{{{ venue }}}}; use one of {ALLOWED}."),
        ("{{ group|default(place) }}", f"Unknown variable {{{{ place }}}}; use one of {ALLOWED}."),
        ("{{ cycler }}", f"Unknown variable {{{{ cycler }}}}; use one of {ALLOWED}."),
        ("{{ self }}", f"Unknown variable {{{{ self }}}}; use one of {ALLOWED}."),
        ("Hi {{ first_name ", "Syntax error on line 1: unexpected end of template, "
         "expected 'end of print statement'."),
        ("Hi\n\n{{ first_name }", "Syntax error on line 3: unexpected '}'."),
        ("{{ }}", "Syntax error on line 1: expected an expression, got 'end of print statement'."),
        ("{% if location %}at {{ location }}",
         "Syntax error on line 1: unexpected end of template inside {% if %}, "
         "which needs {% endif %}."),
        ("{% if location %}\n{% endfor %}",
         "Syntax error on line 2: encountered unknown tag 'endfor' inside {% if %}, "
         "which needs {% endif %}."),
        ("Hi\n{% endif %}", "Syntax error on line 2: encountered unknown tag 'endif'."),
        ("Hi {# note", "Syntax error on line 1: missing end of comment tag."),
        ("{{ group|center(200) }}", "Line 1 uses the filter 'center'; "
         "the filters that can be used are upper, lower, title, capitalize, trim, default."),
        ("{{ group|upper(1) }}", "A filter in this message is used wrongly: "
         "do_upper() takes 1 positional argument but 2 were given."),
        ("{% for c in group %}{{ c }}{% endfor %}", f"Line 1 uses {{% for %}}, which a message "
         f"cannot use; {ONLY} can be used."),
        ("\n{% set who = group %}{{ who }}", f"Line 2 uses {{% set %}}, which a message cannot "
         f"use; {ONLY} can be used."),
        ("{% macro m() %}x{% endmacro %}", f"Line 1 uses {{% macro %}}, which a message cannot "
         f"use; {ONLY} can be used."),
        ("{% include 'help.txt' %}", f"Line 1 uses {{% include %}}, which a message cannot use; "
         f"{ONLY} can be used."),
        ("{% filter upper %}x{% endfilter %}", f"Line 1 uses {{% filter %}}, which a message "
         f"cannot use; {ONLY} can be used."),
        ("{{ group * 1000000 }}", f"Line 1 uses the operator '*', which a message cannot use; "
         f"{ONLY} can be used."),
        ("{{ group.upper() }}", f"Line 1 uses a function call, which a message cannot use; "
         f"{ONLY} can be used."),
        ("{{ group[0] }}", f"Line 1 uses '[...]', which a message cannot use; {ONLY} can be used."),
    ],
)  # fmt: skip
def test_check_template_refuses_with_a_clear_sentence(text: str, message: str) -> None:
    with pytest.raises(WordingError) as caught:
        check_template(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "text",
    [
        "Thinking of you today.",
        "{{ first_name|title }}, {{ group|upper }} meets {{ meeting_when }}.",
        "{% if location %}At {{ location|trim }}.{% else %}Online.{% endif %}",
        "{{ location|default('online', true) }} {{ group ~ '!' }}",
        "{% if reply_instructions and 'C' in group %}{{ reply_instructions }}{% endif %}",
        "{{ first_name if first_name else group }}",
        "{# a note for other coordinators #}{{ meeting_day }}",
    ],
)
def test_check_template_accepts_what_a_message_needs(text: str) -> None:
    check_template(text)


@pytest.mark.parametrize(
    "text",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ group.__class__ }}",
        "{{ group|attr('__class__') }}",
        "{{ group.format.__globals__ }}",
        "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
    ],
)
def test_sandbox_escapes_are_refused_before_anything_runs(text: str) -> None:
    with pytest.raises(WordingError):
        check_template(text)
    with pytest.raises(WordingError):
        fill(text)


def test_the_sandbox_still_refuses_what_the_node_check_would_let_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    allowed = (*campaign_wording._ALLOWED_NODES, nodes.Getattr)
    monkeypatch.setattr(campaign_wording, "_ALLOWED_NODES", allowed)
    with pytest.raises(WordingError) as caught:
        check_template("{{ group.__class__ }}")
    assert str(caught.value) == (
        "This message cannot be filled in: "
        "access to attribute '__class__' of 'str' object is unsafe."
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("See you {{ meeting_day }}.",
         "This message uses {{ meeting_day }}, but it is not about a meeting; "
         "it can use {{ first_name }} or {{ group }}."),
        ("{{ meeting_when }}, {{ meeting_time }}",
         "This message uses {{ meeting_time }} and {{ meeting_when }}, "
         "but it is not about a meeting; it can use {{ first_name }} or {{ group }}."),
        ("{% if meeting_day %}Soon.{% endif %}",
         "This message uses {{ meeting_day }}, but it is not about a meeting; "
         "it can use {{ first_name }} or {{ group }}."),
    ],
)  # fmt: skip
def test_meeting_words_without_a_meeting_are_refused(text: str, message: str) -> None:
    check_template(text)
    with pytest.raises(WordingError) as at_creation:
        check_template(text, meeting=False)
    with pytest.raises(WordingError) as at_render:
        fill(text)
    assert str(at_creation.value) == str(at_render.value) == message


def test_a_message_that_comes_out_empty_is_refused() -> None:
    text = "{% if location %}Meet at {{ location }}.{% endif %}"
    assert fill(text, location="Room 5").text == "Meet at Room 5."
    with pytest.raises(
        WordingError, match=r"^This message comes out empty for this participant\.$"
    ):
        fill(text)


def test_whitespace_is_collapsed_and_reply_instructions_are_empty_without_rsvp() -> None:
    text = "Hi {{ first_name }},\n\n  see you soon.   {{ reply_instructions }}\n"
    assert fill(text).text == "Hi Ana, see you soon."
    assert fill(text, rsvp=True).text == (
        "Hi Ana, see you soon. Reply C to confirm, N if you can't come."
    )


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"now": datetime(2026, 3, 2, 14)}, "now must be timezone-aware"),
        ({"meeting_start": datetime(2026, 3, 3, 18, 30)}, "meeting_start must be timezone-aware"),
        ({"send_at": datetime(2026, 3, 3, 9)}, "send_at must be timezone-aware"),
        ({"meeting_start": utc(2026, 3, 3, 23), "zone": None},
         "zone is required with meeting_start"),
    ],
)  # fmt: skip
def test_times_that_cannot_be_placed_are_a_programming_error(
    kwargs: dict[str, datetime | None], problem: str
) -> None:
    with pytest.raises(ValueError, match=f"^{problem}$") as caught:
        fill("Hello", **kwargs)  # type: ignore[arg-type]
    assert not isinstance(caught.value, WordingError)


@pytest.mark.parametrize(
    ("text", "segments", "encoding", "warning"),
    [
        ("x" * 160, 1, "GSM-7", None),
        ("x" * 161, 2, "GSM-7",
         "This message is 2 segments: one segment holds 160 characters and it has 161."),
        ("Café, mañana, ¿sí? " + "x" * 20, 1, "UCS-2", None),
        ("Café, mañana, ¿sí? " + "x" * 60, 2, "UCS-2",
         "This message is 2 segments: 'í' makes it UCS-2, where one segment holds 70 "
         "characters, and it has 79."),
        ("We\u2019re glad you came. " + "x" * 60, 2, "UCS-2",
         "This message is 2 segments: '\u2019' makes it UCS-2, where one segment holds 70 "
         "characters, and it has 81."),
    ],
)  # fmt: skip
def test_segments_and_the_warning(
    text: str, segments: int, encoding: str, warning: str | None
) -> None:
    assert fill(text) == Rendered(text, segments, encoding, warning)


# Words that would tell whoever sees a lock screen what the group is about.
TOPIC_WORDS = re.compile(
    r"\b(recover\w*|addict\w*|sober\w*|sobriety|aa|na|12[- ]step\w*|twelve[- ]step\w*"
    r"|grie\w*|bereave\w*|loss|mourn\w*|depress\w*|suicid\w*|alcohol\w*|drink\w*|drugs?"
    r"|substance\w*|therap\w*|relaps\w*|rehab\w*|clean|craving\w*|using|anxi\w*|mental\w*"
    r"|heal\w*|serenity|higher power|one day at a time|keep coming back"
    r"|recuperaci[oó]n|adicci[oó]n|adict\w*|sobri\w*|duelo|luto|p[eé]rdida|depresi[oó]n"
    r"|alcoh[oó]lic\w*|beber|drogas?|sustancias?|terapia|reca[ií]das?|rehabilitaci[oó]n"
    r"|limpi[oa]s?|ansiedad|salud mental|sanaci[oó]n|serenidad|poder superior|solo por hoy)\b",
    re.IGNORECASE,
)


@pytest.mark.parametrize("language", ["en", "es"])
def test_default_pool_is_discreet_short_and_renders(language: str) -> None:
    pool = default_pool(language)
    assert len(pool) >= 12
    assert len(set(pool)) == len(pool)
    for line in pool:
        assert not TOPIC_WORDS.search(line), line
        assert count_segments(line).segments == 1, line
        check_template(line, meeting=False)
        assert fill(line, language=language).text == line


def test_the_topic_word_list_catches_what_it_is_for() -> None:
    for line in ["Stay sober today", "Un dia de recuperación", "See you at NA", "Solo por hoy"]:
        assert TOPIC_WORDS.search(line), line


@pytest.mark.parametrize("language", ["en", "es"])
def test_default_reminder_is_discreet_and_valid(language: str) -> None:
    text = default_template("reminder", language)
    check_template(text)
    assert not TOPIC_WORDS.search(text)


def test_default_wording_for_an_unknown_language_is_english() -> None:
    assert default_template("reminder", "fr") == default_template("reminder", "en")
    assert default_pool("fr") == default_pool("en")


def test_broadcasts_have_no_default_wording() -> None:
    with pytest.raises(
        ValueError, match=r"^There is no default wording for 'broadcast' campaigns\.$"
    ):
        default_template("broadcast", "en")


def test_variables_are_described_for_help_texts() -> None:
    assert list(VARIABLES) == [
        "first_name",
        "group",
        "meeting_day",
        "meeting_time",
        "meeting_when",
        "location",
        "reply_instructions",
    ]
    assert all(description for description in VARIABLES.values())


def test_a_text_is_compiled_once_however_many_people_it_is_worded_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A campaign words the same text for everyone: Jinja compiles it once, not per person."""
    env = campaign_wording._environment()
    compiled: list[object] = []

    def from_string(source: object, *args: object, **kwargs: object) -> object:
        compiled.append(source)
        return type(env).from_string(env, source, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(env, "from_string", from_string)
    campaign_wording._compiled.cache_clear()
    text = "Hi {{ first_name }}, {{ group }} meets {{ meeting_when }}."
    names = [f"Person{n}" for n in range(50)]

    bodies = [
        render(text, language="en", now=utc(2026, 3, 3, 12), first_name=name, group="Circle",
               meeting_start=at(NY, 2026, 3, 3, 18, 30), zone=NY).text
        for name in names
    ]  # fmt: skip
    check_template(text)
    render("Hello {{ first_name }}.", language="es", now=utc(2026, 3, 3, 12), first_name=None,
           group="Circle")  # fmt: skip

    assert bodies[0] == "Hi Person0, Circle meets today at 6:30 PM."
    assert bodies[49] == "Hi Person49, Circle meets today at 6:30 PM."
    assert len(compiled) == 2  # the campaign's text once, the other text once
    with pytest.raises(WordingError):
        render("{{ nobody }}", language="en", now=utc(2026, 3, 3, 12), first_name=None, group="")


def test_a_meetings_day_and_time_are_put_in_words_once_per_zone_and_day(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Babel formats a meeting's time once for everyone reading it on one day in one zone; the
    same instant in another zone, or read on another day, is worded for itself."""
    calls: list[datetime] = []

    def format_time(moment: datetime, *args: object, **kwargs: object) -> str:
        calls.append(moment)
        return babel_format_time(moment, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(campaign_wording, "format_time", format_time)
    campaign_wording._wall_words.cache_clear()
    meeting = at(NY, 2026, 3, 3, 18, 30)

    def when(zone: str, now: datetime) -> str:
        return render("{{ meeting_when }}", language="en", now=now, first_name=None, group="",
                      meeting_start=meeting, zone=zone).text  # fmt: skip

    assert {when(NY, utc(2026, 3, 3, 12, n)) for n in range(40)} == {"today at 6:30 PM"}
    assert when(LA, utc(2026, 3, 3, 12)) == "today at 3:30 PM"
    assert when(NY, utc(2026, 3, 2, 12)) == "tomorrow at 6:30 PM"
    assert len(calls) == 3
