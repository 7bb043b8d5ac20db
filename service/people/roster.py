"""Reading a roster: a CSV file's columns and rows, each checked, and what is wrong with each
bad one.

Spreadsheets write rosters in many ways: headers in other words, other separators, numbers
turned into 1.2E+10. `parse` reads what it can and names every bad row by its line.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain

from service.models import (
    Channel,
)
from service.phones import InvalidPhone, mask, normalize
from service.text import said

MAX_ROWS = 50_000
NAME_LENGTH = 120  # Participant.name

# Header names as spreadsheets write them, compared lower-cased with runs of spaces, '_', '-'
# and '.' read as one space.
_COLUMNS = {
    "phone": {
        "phone", "phone number", "phone no", "phone #", "mobile", "mobile number",
        "mobile phone", "cell", "cell phone", "cellphone", "telephone", "tel", "telefono",
        "teléfono", "celular", "movil", "móvil",
    },
    "name": {"name", "full name", "participant", "participant name", "nombre"},
    "first_name": {"first name", "given name", "first"},
    "last_name": {"last name", "surname", "family name", "last"},
    "language": {"language", "lang", "preferred language", "idioma"},
    "timezone": {"time zone", "timezone", "tz", "zone"},
    "channel": {"channel", "contact by", "contact method", "preferred channel", "reach by"},
}  # fmt: skip
_FIELD_OF = {synonym: name for name, synonyms in _COLUMNS.items() for synonym in synonyms}
_LANGUAGE_OF = {
    "en": "en", "english": "en", "inglés": "en", "ingles": "en",
    "es": "es", "spanish": "es", "español": "es", "espanol": "es",
}  # fmt: skip
_CHANNEL_OF = {
    "sms": Channel.SMS, "text": Channel.SMS, "texts": Channel.SMS,
    "voice": Channel.VOICE, "call": Channel.VOICE, "calls": Channel.VOICE,
}  # fmt: skip
_SEPARATORS = re.compile(r"[\s_.\-]+")
_SPREADSHEET_NUMBER = re.compile(r"\d(\.\d+)?e\+?\d+", re.IGNORECASE)


class RosterError(ValueError):
    """The file as a whole cannot be read as a roster; the message says why in plain words."""


@dataclass(frozen=True)
class Problem:
    """Why one row cannot be imported; line numbers count as a spreadsheet does (header 1)."""

    line: int
    reason: str


@dataclass(frozen=True)
class Note:
    """Something about the file worth knowing that stops nothing."""

    line: int | None
    message: str


@dataclass(frozen=True)
class Row:
    """One person from the file, checked and normalised, with defaults filled in."""

    line: int  # where the number first appears
    phone: str  # E.164
    name: str | None
    language: str
    timezone: str
    channel: Channel


@dataclass(frozen=True)
class Parsed:
    rows: list[Row]
    problems: list[Problem]
    notes: list[Note]
    rows_read: int  # non-empty lines below the header


def parse(
    text: str | Iterable[str],
    *,
    default_region: str,
    default_timezone: str,
    default_language: str,
) -> Parsed:
    """Read a roster: every bad row becomes a Problem; a file that is no roster, a RosterError.

    text is the whole file, or its lines as a file opened with newline="" yields them, which
    lets a large file stream through.
    """
    lines: Iterator[str] = iter(io.StringIO(text, newline="") if isinstance(text, str) else text)
    try:
        first = next(lines, "")
        first = first.removeprefix("\ufeff")  # Excel's "CSV UTF-8" begins with a BOM
        reader = csv.reader(chain([first], lines), delimiter=_delimiter(first), strict=True)
        return _read(
            reader,
            region=default_region,
            timezone=default_timezone,
            language=default_language,
        )
    except UnicodeDecodeError:
        raise RosterError(
            said("the file is not UTF-8 text; in a spreadsheet, save it as CSV UTF-8")
        ) from None
    except csv.Error as error:
        raise RosterError(
            said("the file is not CSV that can be read: %(error)s", error=str(error))
        ) from None


def _delimiter(header: str) -> str:
    # Spreadsheets in many locales write ';' (a comma being their decimal point), or tabs.
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read(reader: Iterator[list[str]], *, region: str, timezone: str, language: str) -> Parsed:
    header: list[str] | None = None
    header_line = 0
    line = 0
    for record in _text_only(reader):
        line += 1
        if any(cell.strip() for cell in record):
            header, header_line = record, line
            break
    if header is None:
        raise RosterError(said("the file is empty"))
    columns, unused = _columns(header)
    notes: list[Note] = []
    if unused:
        notes.append(
            Note(header_line, said("columns not used: %(columns)s", columns=", ".join(unused)))
        )

    merged: dict[str, _Person] = {}
    problems: list[Problem] = []
    rows_read = 0
    for record in _text_only(reader):
        line += 1
        if not any(cell.strip() for cell in record):
            continue
        rows_read += 1
        if rows_read > MAX_ROWS:
            raise RosterError(
                said(
                    "the file has more than %(most)s rows; split it into smaller files",
                    most=f"{MAX_ROWS:,}",
                )
            )
        cells = {name: record[i].strip() for name, i in columns.items() if i < len(record)}
        given, reasons = _check(cells, region)
        if reasons:
            problems.append(Problem(line, _one_reason(reasons)))
            continue
        phone = given.pop("phone")
        person = merged.get(phone)
        if person is None:
            merged[phone] = _Person(line, given)
            continue
        person.fields.update(given)  # later non-empty fields win
        notes.append(
            Note(
                line,
                said(
                    "the number %(phone)s is also on line %(line)d: rows merged",
                    phone=mask(phone),
                    line=person.line,
                ),
            )
        )
    if rows_read == 0:
        raise RosterError(said("the file has a header but no rows below it"))
    rows = [
        Row(
            line=person.line,
            phone=phone,
            name=person.fields.get("name"),
            language=person.fields.get("language", language),
            timezone=person.fields.get("timezone", timezone),
            channel=Channel(person.fields.get("channel", Channel.SMS)),
        )
        for phone, person in merged.items()
    ]
    return Parsed(rows=rows, problems=problems, notes=notes, rows_read=rows_read)


def _text_only(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    # csv reads NULs since Python 3.11; in a "CSV" they mean a workbook or UTF-16 text.
    for record in reader:
        if any("\x00" in cell for cell in record):
            raise RosterError(
                said(
                    "the file is not CSV text (a workbook, or UTF-16?); in a spreadsheet, save "
                    "it as CSV UTF-8"
                )
            )
        yield record


@dataclass
class _Person:
    line: int
    fields: dict[str, str]


def _columns(header: list[str]) -> tuple[dict[str, int], list[str]]:
    """Which column holds which field, and the names of the columns nothing reads."""
    columns: dict[str, int] = {}
    unused: list[str] = []
    for index, raw in enumerate(header):
        title = raw.strip()
        name = _FIELD_OF.get(_SEPARATORS.sub(" ", title.lower()).strip())
        if name is None:
            if title:
                unused.append(_quoted(title))
            continue
        if name in columns:
            raise RosterError(
                said(
                    "two columns hold the %(field)s: %(one)r and %(other)r; keep one",
                    field=name.replace("_", " "),
                    one=header[columns[name]].strip(),
                    other=title,
                )
            )
        columns[name] = index
    if "phone" not in columns:
        raise RosterError(
            said(
                "no phone column: the first line must name the columns, one of them "
                "'phone' (or 'phone number', 'mobile'); the others may be name, language, "
                "time zone and channel"
            )
        )
    return columns, unused


def _check(cells: dict[str, str], region: str) -> tuple[dict[str, str], list[str]]:
    """The row's non-empty fields, normalised, and what is wrong with it."""
    given: dict[str, str] = {}
    reasons: list[str] = []
    raw = cells.get("phone", "")
    if re.fullmatch(r"\d+\.0", raw):  # a spreadsheet that took the number for a number
        raw = raw[:-2]
    if not raw:
        reasons.append(said("no phone number"))
    elif _SPREADSHEET_NUMBER.fullmatch(raw):
        reasons.append(
            said(
                "the phone number was turned into a number like 1.2E+10 by a spreadsheet; "
                "format the column as text and export again"
            )
        )
    else:
        try:
            given["phone"] = normalize(raw, region)
        except InvalidPhone:
            if raw.startswith("+"):
                reasons.append(
                    said("the phone number %(number)s is not a valid number", number=_quoted(raw))
                )
            else:
                reasons.append(
                    said(
                        "the phone number %(number)s is not a valid number for %(region)s",
                        number=_quoted(raw),
                        region=region,
                    )
                )

    name = cells.get("name") or " ".join(
        part for part in (cells.get("first_name"), cells.get("last_name")) if part
    )
    name = " ".join(name.split())
    if len(name) > NAME_LENGTH:
        reasons.append(said("the name is longer than %(longest)d characters", longest=NAME_LENGTH))
    elif name:
        given["name"] = name

    if value := cells.get("language"):
        code = _LANGUAGE_OF.get(re.split(r"[-_]", value.lower(), maxsplit=1)[0])
        if code is None:
            reasons.append(said("language must be en or es, not %(value)s", value=_quoted(value)))
        else:
            given["language"] = code
    if value := cells.get("timezone"):
        zone = _zones().get(value.lower())
        if zone is None:
            reasons.append(said("time zone %(value)s is not known", value=_quoted(value)))
        else:
            given["timezone"] = zone
    if value := cells.get("channel"):
        channel = _CHANNEL_OF.get(value.lower())
        if channel is None:
            reasons.append(
                said("channel must be sms or voice, not %(value)s", value=_quoted(value))
            )
        else:
            given["channel"] = channel.value
    return given, reasons


def _one_reason(reasons: list[str]) -> str:
    """A row's reasons as one, "; " between them."""
    reason = reasons[-1]
    for earlier in reversed(reasons[:-1]):
        reason = said("%(reason)s; %(more)s", reason=earlier, more=reason)
    return reason


@functools.cache
def _zones() -> dict[str, str]:
    # IANA names are case-sensitive on disk; a spreadsheet's are whatever someone typed.
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def _quoted(value: str) -> str:
    """A cell as it may be shown: a phone number, bad or in the wrong column, stays masked."""
    return mask(value[:32]) if sum(c.isdigit() for c in value) > 4 else repr(value[:40])
