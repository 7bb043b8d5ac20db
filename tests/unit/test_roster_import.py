"""Reading a roster CSV: what a coordinator's spreadsheet may hold, and what each bad row says."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.models import Channel
from service.people import roster
from service.people.roster import Parsed, Problem, RosterError, Row, parse


def read(text: str, region: str = "US") -> Parsed:
    return parse(
        text,
        default_region=region,
        default_timezone="America/Chicago",
        default_language="en",
    )


def test_rows_are_normalised_and_defaults_filled_in() -> None:
    parsed = read(
        "phone,name,language,timezone,channel\n"
        "(202) 555-0142,Sam Rivera,es,America/New_York,voice\n"
        "+1 202 555 0143,,,,\n"
    )

    assert parsed.problems == []
    assert parsed.rows == [
        Row(2, "+12025550142", "Sam Rivera", "es", "America/New_York", Channel.VOICE),
        Row(3, "+12025550143", None, "en", "America/Chicago", Channel.SMS),
    ]
    assert parsed.rows_read == 2


def test_quoted_cells_may_hold_commas_quotes_and_line_breaks() -> None:
    parsed = read(
        'phone,name\n"202-555-0142","Rivera, Sam ""Sammy"""\n'
        '"202-555-0143","Lee\nJordan"\n'
        "202-555-01x4,Kim\n"
    )

    assert [(r.line, r.name) for r in parsed.rows] == [
        (2, 'Rivera, Sam "Sammy"'),
        (3, "Lee Jordan"),  # a line break inside a cell is one spreadsheet row
    ]
    assert [p.line for p in parsed.problems] == [4]


def test_an_excel_bom_and_windows_line_ends_are_read() -> None:
    parsed = read("\ufeffPhone,Name\r\n2025550142,Sam\r\n")

    assert parsed.rows[0].phone == "+12025550142"
    assert parsed.notes == []


@pytest.mark.parametrize(
    "header",
    [
        "Phone Number,Full Name,Lang,Time Zone,Contact by",
        "MOBILE,name,Language,TZ,Channel",
        "cell_phone;participant;preferred-language;timezone;channel",
        "Teléfono\tNombre\tIdioma\tZone\tChannel",
    ],
)
def test_header_names_are_read_whatever_their_case_synonym_or_separator(header: str) -> None:
    delimiter = ";" if ";" in header else "\t" if "\t" in header else ","
    values = ["2025550142", "Sam", "Spanish", "america/denver", "call"]
    parsed = read(f"{header}\n{delimiter.join(values)}\n")

    assert parsed.problems == []
    assert parsed.rows == [
        Row(2, "+12025550142", "Sam", "es", "America/Denver", Channel.VOICE),
    ]


def test_first_and_last_name_columns_make_the_name() -> None:
    parsed = read("First Name,Last Name,Phone\nSam,Rivera,2025550142\n,Lee,2025550143\n")
    assert [r.name for r in parsed.rows] == ["Sam Rivera", "Lee"]


def test_every_kind_of_bad_row_is_reported_with_its_line_and_reason() -> None:
    parsed = read(
        "phone,name,language,time zone,channel\n"
        "2025550142,Good,en,America/Chicago,sms\n"  # 2
        "555-0100,Short,,,\n"  # 3
        ",No phone,,,\n"  # 4
        "1.20256E+10,Excel,,,\n"  # 5
        "2025550144,Mars,,Mars/Base,\n"  # 6
        "2025550145,Fax,,,fax\n"  # 7
        "\n"  # 8: skipped, yet a spreadsheet counts it
        "2025550146,French,fr,,\n"  # 9
        f"2025550147,{'x' * 121},,,\n"  # 10
        "not a number,Many,de,Nowhere,pigeon\n"  # 11
        "+44 20 7946 09,UK,,,\n"  # 12
    )

    assert [r.line for r in parsed.rows] == [2]
    assert parsed.problems == [
        Problem(3, "the phone number ***0100 is not a valid number for US"),
        Problem(4, "no phone number"),
        Problem(
            5,
            "the phone number was turned into a number like 1.2E+10 by a spreadsheet; "
            "format the column as text and export again",
        ),
        Problem(6, "time zone 'Mars/Base' is not known"),
        Problem(7, "channel must be sms or voice, not 'fax'"),
        Problem(9, "language must be en or es, not 'fr'"),
        Problem(10, "the name is longer than 120 characters"),
        Problem(
            11,
            "the phone number 'not a number' is not a valid number for US; language must be "
            "en or es, not 'de'; time zone 'Nowhere' is not known; channel must be sms or "
            "voice, not 'pigeon'",
        ),
        Problem(12, "the phone number +44****4609 is not a valid number"),
    ]
    assert parsed.rows_read == 10


def test_a_bad_number_is_never_shown_in_full() -> None:
    # A real number from elsewhere, read with the wrong region, is still someone's number.
    parsed = read("phone\n07700 900123\n")
    (problem,) = parsed.problems
    assert "900123" not in problem.reason
    assert problem.reason == "the phone number *******0123 is not a valid number for US"


def test_the_default_region_reads_national_numbers() -> None:
    assert read("phone\n020 7946 0958\n", region="GB").rows[0].phone == "+442079460958"
    assert read("phone\n020 7946 0958\n").problems[0].reason.endswith("for US")


def test_a_number_a_spreadsheet_wrote_as_a_decimal_is_read() -> None:
    assert read("phone\n2025550142.0\n").rows[0].phone == "+12025550142"


def test_repeated_numbers_are_merged_and_later_details_win() -> None:
    parsed = read(
        "phone,name,language,channel\n"
        "202-555-0142,Sam,es,\n"
        "2025550143,Lee,,\n"
        "+1 (202) 555-0142,Samuel,,voice\n"
        "2025550142,,en,bad\n"  # a bad row merges nothing
    )

    assert parsed.rows == [
        Row(2, "+12025550142", "Samuel", "es", "America/Chicago", Channel.VOICE),
        Row(3, "+12025550143", "Lee", "en", "America/Chicago", Channel.SMS),
    ]
    assert [(n.line, n.message) for n in parsed.notes] == [
        (4, "the number +1******0142 is also on line 2: rows merged")
    ]
    assert [p.line for p in parsed.problems] == [5]


def test_unknown_columns_are_noted_once_and_ignored() -> None:
    parsed = read("Email,phone,Notes,\nsam@example.org,2025550142,likes mornings,\n")

    assert [(n.line, n.message) for n in parsed.notes] == [
        (1, "columns not used: 'Email', 'Notes'")
    ]
    assert parsed.rows[0].name is None


def test_a_number_where_a_column_name_should_be_is_masked_too() -> None:
    parsed = read("phone,2025550199\n2025550142,x\n")
    assert [n.message for n in parsed.notes] == ["columns not used: ******0199"]


def test_empty_lines_are_skipped_before_and_after_the_header() -> None:
    parsed = read("\n\nphone\n\n2025550142\n   \n2025550143\n\n")
    assert [r.line for r in parsed.rows] == [5, 7]
    assert parsed.rows_read == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("\n\n", "the file is empty"),
        ("name,email\nSam,sam@example.org\n", "no phone column"),
        ("2025550142\n2025550143\n", "no phone column"),
        ("phone,name\n", "a header but no rows"),
        ("phone,mobile\n1,2\n", "two columns hold the phone: 'phone' and 'mobile'"),
        ("phone\n\x00\x01\x02PK\x03\x04\n", "not CSV text"),
        ("p\x00h\x00o\x00n\x00e\x00\n\x00", "not CSV text"),
        ('phone,name\n2025550142,"Sam\n', "not CSV"),
    ],
)
def test_a_file_that_is_no_roster_is_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(RosterError, match=message):
        read(text)


def test_a_file_in_another_encoding_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes("phone,name\n2025550142,José Núñez\n".encode("cp1252"))
    with (
        path.open(encoding="utf-8-sig", newline="") as lines,
        pytest.raises(RosterError, match="not UTF-8 text; in a spreadsheet, save it as CSV UTF-8"),
    ):
        parse(lines, default_region="US", default_timezone="UTC", default_language="en")


def test_a_file_streams_and_stops_at_the_row_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(roster, "MAX_ROWS", 100)
    pulled = 0

    def endless() -> Iterator[str]:
        nonlocal pulled
        yield "phone\n"
        while True:
            pulled += 1
            yield f"20255{pulled % 100000:05d}\n"

    with pytest.raises(RosterError, match="more than 100 rows; split it"):
        parse(endless(), default_region="US", default_timezone="UTC", default_language="en")
    assert pulled == 101


def test_lines_from_a_file_read_as_the_whole_text_does(tmp_path: Path) -> None:
    text = 'phone,name\n2025550142,"Rivera,\nSam"\nbad,x\n'
    path = tmp_path / "roster.csv"
    path.write_text("\ufeff" + text, encoding="utf-8", newline="")
    with path.open(encoding="utf-8-sig", newline="") as lines:
        streamed = parse(lines, default_region="US", default_timezone="UTC", default_language="en")
    assert streamed == parse(
        text, default_region="US", default_timezone="UTC", default_language="en"
    )


names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9999), names), min_size=1, max_size=20))
def test_any_roster_a_csv_writer_writes_reads_back(people: list[tuple[int, str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Name", "Phone"])
    for last4, name in people:
        writer.writerow([name, f"(202) 555-{last4:04d}"])

    parsed = read(out.getvalue())

    assert parsed.problems == []
    latest: dict[str, str | None] = {}
    for last4, name in people:
        clean = " ".join(name.split()) or None
        phone = f"+1202555{last4:04d}"
        latest[phone] = clean or latest.get(phone)
    assert {r.phone: r.name for r in parsed.rows} == latest


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_read_or_refused_as_a_roster_never_crashes(text: str) -> None:
    try:
        parsed = read("phone,name,language,tz,channel\n" + text)
    except RosterError:
        return
    assert len(parsed.rows) + len(parsed.problems) <= parsed.rows_read
