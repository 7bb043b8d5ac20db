"""A local Twilio REST API for tests that drive the real twilio-python client.

It serves the two operations of Twilio's OpenAPI document (create a Message, create a
Call), checks each request as Twilio does, answers with the documented response shape,
records what it accepted, and can be told to refuse, stall or hang up, for one number or
for the next few requests. It also serves Twilio's lists of Messages and of Calls (GET
Messages.json with the To, From and DateSent filters; GET Calls.json with To, From, Status,
StartTime and EndTime; both with the page-token paging that twilio-python's
`client.messages.list()`, `client.calls.list()` and `stream()` use), showing the recorded
Messages and Calls with a status a test sets, so a test can reconcile a send or call whose
outcome was lost; those lookups can be told to fail too. Point a client at it with
`client.api.base_url = server.base_url` (TwilioGateway does this from TWILIO_API_BASE_URL).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import math
import re
import secrets
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import Message
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qs, urlencode, urlsplit

import phonenumbers
import pytest

from service.messages.segments import count_segments

log = logging.getLogger(__name__)

# The part of twilio/twilio-oai's twilio_api_v2010.json that Peerline uses, copied from
# ../shared/twilio so that a clone of the project tests on its own.
OPENAPI_SPEC = Path(__file__).resolve().parent / "twilio" / "api_v2010_message_call.openapi.json"

_SID_PREFIX = {"Messages": "SM", "Calls": "CA"}

# Twilio's code and message for a missing parameter; a group of alternatives (the
# document's x-twilio "conditional") is keyed by its first member.
_MISSING: Mapping[tuple[str, str], tuple[int, str]] = {
    ("Messages", "To"): (21604, "A 'To' phone number is required."),
    ("Messages", "From"): (21603, "A 'From' phone number is required."),
    ("Messages", "Body"): (21619, "A text message body or media url must be specified."),
    ("Calls", "To"): (21201, "No 'To' number is specified"),
    ("Calls", "From"): (21213, "No 'From' number is specified"),
    ("Calls", "Url"): (21205, "Url parameter is required."),
}

# Twilio's code and message for an invalid value; other invalid values get 400 Bad Request.
_INVALID: Mapping[tuple[str, str], tuple[int, str]] = {
    ("Messages", "To"): (21211, "The 'To' number {value} is not a valid phone number."),
    ("Messages", "From"): (
        21212,
        "The 'From' number {value} is not a valid phone number, shortcode, "
        "or alphanumeric sender ID.",
    ),
    ("Messages", "MessagingServiceSid"): (21705, "The Messaging Service Sid {value} is invalid."),
    ("Messages", "Body"): (
        21617,
        "The concatenated message body exceeds the 1600 character limit.",
    ),
    ("Messages", "ValidityPeriod"): (
        21624,
        "Invalid validity period value {value}: it must be an integer from 1 to 36000.",
    ),
    ("Messages", "StatusCallback"): (21609, "The StatusCallback URL {value} is not a valid URL."),
    ("Calls", "To"): (21211, "The 'To' number {value} is not a valid phone number."),
    ("Calls", "From"): (21212, "The 'From' number {value} is not a valid phone number."),
    ("Calls", "Url"): (21205, "Url is not a valid URL: {value}"),
    ("Calls", "StatusCallback"): (21609, "The StatusCallback URL {value} is not a valid URL."),
    ("Calls", "ApplicationSid"): (21218, "The ApplicationSid {value} is invalid."),
    ("Calls", "Twiml"): (32018, "Twiml size exceeded maximum allowed value of 4000 characters"),
    ("Calls", "MachineDetection"): (21234, "Invalid Machine Detection configuration value {value}"),
}

# Limits Twilio states in the parameters' descriptions, which their schemas do not encode.
_DOCUMENTED_LIMITS: Mapping[tuple[str, str], Callable[[str], bool]] = {
    ("Messages", "Body"): lambda value: len(value) <= 1600,
    ("Messages", "ValidityPeriod"): lambda value: 1 <= int(value) <= 36000,
    ("Calls", "Twiml"): lambda value: len(value) <= 4000,
    ("Calls", "MachineDetection"): lambda value: value in ("Enable", "DetectMessageEnd"),
}

# Messages for the errors tests inject most; any other code gets its HTTP status phrase.
_FAULT_MESSAGES = {
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    21211: "The 'To' number is not a valid phone number.",
    21610: "Attempt to send to unsubscribed recipient",
}


# Twilio's AnsweredBy values (answering machine detection), which set_call_status() accepts.
_ANSWERED_BY = frozenset(
    (
        "human",
        "machine_start",
        "machine_end_beep",
        "machine_end_silence",
        "machine_end_other",
        "fax",
        "unknown",
    )
)


@dataclass(frozen=True)
class _Listing:
    """The query of one list operation, Twilio's ListMessage or ListCall.

    They are in twilio-oai's twilio_api_v2010.json (the copied document holds only the create
    operations). twilio-python's MessageList.page() sends To, From, DateSent, DateSent<
    (date_sent_before) and DateSent> (date_sent_after); CallList.page() sends To, From,
    ParentCallSid, Status, StartTime, StartTime<, StartTime>, EndTime, EndTime< and EndTime>;
    both then PageToken, Page and PageSize. twilio-python writes a datetime or date as
    %Y-%m-%dT%H:%M:%SZ, passing a string as is.
    """

    key: str  # the page's array of resources: "messages" or "calls"
    exact: tuple[str, ...]  # filters the resource's value must equal, in twilio-python's order
    times: tuple[str, ...]  # filters on a moment, each also sent as Name< and Name>
    choices: Mapping[str, frozenset[str]]  # exact filters whose value must be one of these

    @property
    def filters(self) -> tuple[str, ...]:
        """Every filter, in the order twilio-python sends them."""
        moments = (f"{name}{comparison}" for name in self.times for comparison in ("", "<", ">"))
        return (*self.exact, *moments)


def _listings(schemas: Mapping[str, Any]) -> dict[str, _Listing]:
    return {
        "Messages": _Listing("messages", exact=("To", "From"), times=("DateSent",), choices={}),
        "Calls": _Listing(
            "calls",
            exact=("To", "From", "ParentCallSid", "Status"),
            times=("StartTime", "EndTime"),
            choices={"Status": frozenset(schemas["call_enum_status"]["enum"])},
        ),
    }


_PAGING = ("PageSize", "Page", "PageToken")
_DEFAULT_PAGE_SIZE = 50
_MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Accepted:
    """A create request the server accepted (or recorded before a fault), as it arrived."""

    resource: str  # "Messages" or "Calls"
    sid: str
    account_sid: str
    params: Mapping[str, str | tuple[str, ...]]  # array parameters (MediaUrl, ...) as tuples
    received_at: datetime


@dataclass(frozen=True)
class _Fault:
    error: tuple[int, int, str] | None  # HTTP status, Twilio code, message
    delay: float
    drop: bool
    after_recording: bool


@dataclass
class _Rule:
    fault: _Fault
    to: str | None
    remaining: int | None  # None: until reset()
    resource: str | None = None  # list rules: "Messages", "Calls" or None for both


@dataclass(frozen=True)
class _Reply:
    status: int | None  # None: close the connection without answering
    body: Mapping[str, Any] | None = None
    delay: float = 0.0
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True)
class _State:
    """Where a recorded Message or Call stands, as the list shows it."""

    status: str
    updated_at: datetime
    # Calls: when it was dialed (None while queued, as at Twilio) and when it completed.
    start_time: datetime | None = None
    end_time: datetime | None = None
    answered_by: str | None = None  # Calls: what answering machine detection found


@dataclass(frozen=True)
class _Operation:
    resource: str
    path: re.Pattern[str]
    account_sid: re.Pattern[str]
    form: Mapping[str, Mapping[str, Any]]  # parameter name -> schema, $refs resolved
    required: tuple[str, ...]
    one_of_each: tuple[tuple[str, ...], ...]
    response: tuple[str, ...]  # the documented response's property names
    example: Mapping[str, Any]  # the documented example response


def _load_operations(document: Mapping[str, Any]) -> list[_Operation]:
    schemas = document["components"]["schemas"]

    def resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = schema.get("$ref")
        return cast(Mapping[str, Any], schemas[ref.rsplit("/", 1)[1]]) if ref else schema

    operations = []
    for template, item in document["paths"].items():
        post = item["post"]
        form = post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        created = post["responses"]["201"]["content"]["application/json"]
        (sid_parameter,) = [p for p in post["parameters"] if p["name"] == "AccountSid"]
        # x-twilio names the alternatives in snake_case (messaging_service_sid).
        by_key = {name.lower(): name for name in form["properties"]}
        groups = post.get("x-twilio", {}).get("conditional", [])
        before, after = template.split("{AccountSid}")
        operations.append(
            _Operation(
                resource=template.rsplit("/", 1)[1].removesuffix(".json"),
                path=re.compile(re.escape(before) + "(?P<account_sid>[^/]*)" + re.escape(after)),
                account_sid=re.compile(sid_parameter["schema"]["pattern"]),
                form={name: resolve(schema) for name, schema in form["properties"].items()},
                required=tuple(form.get("required", ())),
                one_of_each=tuple(
                    tuple(by_key[name.replace("_", "")] for name in group) for group in groups
                ),
                response=tuple(resolve(created["schema"])["properties"]),
                example=next(iter(created["examples"].values()))["value"],
            )
        )
    return operations


def _is_phone_number(value: str) -> bool:
    if not re.fullmatch(r"\+[1-9]\d{1,14}", value):
        return False
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(value, None)))
    except phonenumbers.NumberParseException:
        return False


def _is_web_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    host = parts.hostname or ""
    # The document: "URL must contain a valid hostname and underscores are not allowed".
    return parts.scheme in ("http", "https") and bool(host) and "_" not in host and " " not in value


def _is_iso_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


# "endpoint" also admits SIP and Client addresses at Twilio; Peerline only calls phones.
_FORMATS: Mapping[str, Callable[[str], bool]] = {
    "uri": _is_web_url,
    "phone-number": _is_phone_number,
    "endpoint": _is_phone_number,
    "date-time": _is_iso_datetime,
}


def _conforms(schema: Mapping[str, Any], value: str) -> bool:
    """Whether one form value fits its schema: type, enum, pattern, length and format."""
    kind = schema.get("type")
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return False
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return False
    if kind == "boolean" and value.lower() not in ("true", "false"):
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return False
    if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", math.inf):
        return False
    if schema.get("x-twilio", {}).get("ignoreFormat"):
        return True
    check = _FORMATS.get(schema.get("format", ""))
    return check is None or check(value)


def _twilio_error(status: int, code: int, message: str) -> _Reply:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return _Reply(status, body)


_AUTHENTICATE = _Reply(
    401,
    _twilio_error(401, 20003, "Authenticate").body,
    headers={"WWW-Authenticate": 'Basic realm="Twilio API"'},
)


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, colon, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (username, password) if colon else None


def _check(operation: _Operation, form: Mapping[str, list[str]]) -> _Reply | None:
    """Twilio's error for the first thing wrong with a create request, or None."""
    resource = operation.resource
    for name, values in form.items():
        if name not in operation.form:
            # Twilio ignores unknown names (warning 20001); refusing them catches a misspelt one.
            return _twilio_error(400, 20001, f"Unknown parameter {name}")
        if len(values) > 1 and operation.form[name].get("type") != "array":
            return _twilio_error(400, 400, f"{name} was given {len(values)} times")
    given = {name for name, values in form.items() if any(values)}
    for group in [(name,) for name in operation.required] + list(operation.one_of_each):
        if given.isdisjoint(group):
            code, message = _MISSING.get(
                (resource, group[0]), (400, f"Missing parameter: one of {', '.join(group)}")
            )
            return _twilio_error(400, code, message)
    for name, schema in operation.form.items():
        limit = _DOCUMENTED_LIMITS.get((resource, name))
        for value in filter(None, form.get(name, ())):
            fits = _conforms(schema.get("items", schema), value)
            if not fits or (limit is not None and not limit(value)):
                code, message = _INVALID.get(
                    (resource, name), (400, f"{name} is invalid: {{value}}")
                )
                return _twilio_error(400, code, message.format(value=value))
    return None


def _date_filter(value: str) -> date | datetime | None:
    """A DateSent, StartTime or EndTime value: a GMT date YYYY-MM-DD or a datetime (naive is
    GMT); None if neither."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ].+", value):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _within(moment: datetime, comparison: str, bound: date | datetime) -> bool:
    """Whether `moment` meets Name (comparison ""), Name> (on or after) or Name< (on or before).

    A date compares the day of the moment (GMT); a datetime compares the moment, to the
    second, as the resource shows it. Both ends are inclusive, as Twilio documents.
    """
    if isinstance(bound, datetime):
        moment = moment.replace(microsecond=0)
        low, high = bound <= moment, moment <= bound
    else:
        day = moment.astimezone(UTC).date()
        low, high = bound <= day, day <= bound
    return {"": low and high, ">": low, "<": high}[comparison]


@dataclass(frozen=True)
class _ListQuery:
    filters: tuple[tuple[str, str], ...]  # as given, in twilio-python's order, for the page URIs
    exact: tuple[tuple[str, str], ...]
    moments: tuple[tuple[str, str, date | datetime], ...]  # name, comparison, bound
    page_size: int
    page: int
    page_token: str | None

    def matches(self, fields: Mapping[str, object]) -> bool:
        """Whether a resource with these values (by filter name) passes every filter.

        A moment the resource lacks (a queued call's StartTime) meets no filter on it.
        """
        if any(fields.get(name) != wanted for name, wanted in self.exact):
            return False
        for name, comparison, bound in self.moments:
            moment = fields.get(name)
            if not isinstance(moment, datetime) or not _within(moment, comparison, bound):
                return False
        return True


def _parse_list_query(listing: _Listing, query: str) -> _ListQuery | _Reply:
    """The list request's filters and paging, or Twilio's 400 for the first thing wrong."""
    given = parse_qs(query, keep_blank_values=True)
    for name, values in given.items():
        if name not in (*listing.filters, *_PAGING):
            # As for creates: Twilio ignores unknown names; refusing them catches a misspelt one.
            return _twilio_error(400, 20001, f"Unknown parameter {name}")
        if len(values) > 1:
            return _twilio_error(400, 400, f"{name} was given {len(values)} times")
    args = {name: values[0] for name, values in given.items() if values[0]}
    for name, choices in listing.choices.items():
        if name in args and args[name] not in choices:
            return _twilio_error(400, 400, f"{name} is invalid: {args[name]}")
    moments = []
    for field in listing.times:
        for comparison in ("", "<", ">"):
            if (value := args.get(field + comparison)) is not None:
                bound = _date_filter(value)
                if bound is None:
                    return _twilio_error(400, 400, f"{field}{comparison} is invalid: {value}")
                moments.append((field, comparison, bound))
    size = args.get("PageSize", str(_DEFAULT_PAGE_SIZE))
    if not re.fullmatch(r"\d+", size) or not 1 <= int(size) <= _MAX_PAGE_SIZE:
        return _twilio_error(
            400, 400, f"PageSize must be an integer from 1 to {_MAX_PAGE_SIZE}, not {size}"
        )
    page = args.get("Page", "0")
    if not re.fullmatch(r"\d+", page):
        return _twilio_error(400, 400, f"Page must be a non-negative integer, not {page}")
    return _ListQuery(
        filters=tuple((name, args[name]) for name in listing.filters if name in args),
        exact=tuple((name, args[name]) for name in listing.exact if name in args),
        moments=tuple(moments),
        page_size=int(size),
        page=int(page),
        page_token=args.get("PageToken"),
    )


def _rfc2822(moment: datetime | None) -> str | None:
    """A moment as Twilio writes it (Tue, 31 Aug 2010 20:36:28 +0000), to the second."""
    return None if moment is None else format_datetime(moment.replace(microsecond=0))


def _seconds_between(start: datetime, end: datetime) -> str:
    """A call's duration: whole seconds between the times it shows (to the second)."""
    return str(int((end.replace(microsecond=0) - start.replace(microsecond=0)).total_seconds()))


def _national(number: str | None) -> str | None:
    if number is None:
        return None
    return str(
        phonenumbers.format_number(
            phonenumbers.parse(number, None), phonenumbers.PhoneNumberFormat.NATIONAL
        )
    )


class TwilioFakeServer:
    """Twilio's create-Message, create-Call, list-Messages and list-Calls API on 127.0.0.1.

    Creates are checked against Twilio's OpenAPI spec. The lists (GET Messages.json, GET
    Calls.json) show the Messages or Calls the server recorded, newest first by
    date_created, each with the status set_message_status() or set_call_status() gave it
    ("queued" until then); a Message's date_sent is the time it was recorded, a Call's
    start_time and end_time follow its status. The other resource and refused requests
    never appear. `clock` (default: now in UTC) stamps what is recorded and every status
    change, so a test can place them in time; a naive datetime is taken as UTC.

    Use it as a context manager (or start() and stop()). Faults are rules: a create gets
    the first rule that matches its To, counted rules (times=n) before standing ones, and
    only requests Twilio would accept meet a fault; fail_list() rules apply to list
    requests alone. All state lives here, behind a lock, so worker threads and other
    processes can hit the server while a test inspects it.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        document = json.loads(OPENAPI_SPEC.read_text(encoding="utf-8"))
        self._operations = _load_operations(document)
        schemas = document["components"]["schemas"]
        self._message_statuses = frozenset(schemas["message_enum_status"]["enum"])
        self._call_statuses = frozenset(schemas["call_enum_status"]["enum"])
        self._listings = _listings(schemas)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._accepted: list[Accepted] = []
        self._states: dict[str, _State] = {}  # sid -> what set_*_status() last made it
        self._received = 0
        self._rules: list[_Rule] = []
        self._list_rules: list[_Rule] = []
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Listen on a free port of 127.0.0.1 and serve from a background thread."""
        if self._httpd is not None:
            raise RuntimeError("the fake Twilio server is already running")
        self._stopping.clear()
        httpd = _HTTPServer(self)
        thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"twilio-fake:{httpd.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._httpd, self._thread = httpd, thread
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections and wait for every handler thread to end."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._stopping.set()  # wakes delayed answers, which then hang up instead
        httpd.shutdown()
        httpd.hang_up()
        httpd.server_close()
        thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Where the server listens, such as http://127.0.0.1:50123 (a new port on each start)."""
        if self._httpd is None:
            raise RuntimeError("the fake Twilio server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def messages(self) -> list[Accepted]:
        """The Messages the server accepted or recorded, oldest first."""
        with self._lock:
            return [a for a in self._accepted if a.resource == "Messages"]

    @property
    def calls(self) -> list[Accepted]:
        """The Calls the server accepted or recorded, oldest first."""
        with self._lock:
            return [a for a in self._accepted if a.resource == "Calls"]

    @property
    def requests_received(self) -> int:
        """Every GET, POST, PUT, PATCH or DELETE that reached the server, however answered."""
        with self._lock:
            return self._received

    def fail(
        self,
        status: int,
        code: int,
        *,
        to: str | None = None,
        times: int | None = None,
        message: str | None = None,
        after_recording: bool = False,
    ) -> None:
        """Answer Twilio's error (e.g. 400/21610, 429/20429, 500/20500) instead of creating.

        With after_recording the request is recorded first, as when Twilio created the
        message and then failed to say so.
        """
        if not 400 <= status <= 599:
            raise ValueError(f"an error needs an HTTP status from 400 to 599, not {status}")
        text = message or _FAULT_MESSAGES.get(code) or HTTPStatus(status).phrase
        fault = _Fault((status, code, text), delay=0.0, drop=False, after_recording=after_recording)
        self._add(fault, to, times)

    def delay(self, seconds: float, *, to: str | None = None, times: int | None = None) -> None:
        """Record the request, then wait seconds before answering it (or until stop())."""
        self._add(_Fault(None, delay=seconds, drop=False, after_recording=True), to, times)

    def drop(
        self, *, to: str | None = None, times: int | None = None, after_recording: bool = True
    ) -> None:
        """Close the connection without answering, after recording the request or before."""
        self._add(_Fault(None, delay=0.0, drop=True, after_recording=after_recording), to, times)

    def fail_list(
        self,
        status: int,
        code: int,
        *,
        times: int | None = None,
        message: str | None = None,
        resource: str | None = None,
    ) -> None:
        """Answer Twilio's error (e.g. 500/20500, 429/20429) to list requests.

        resource "Messages" or "Calls" limits the rule to GET Messages.json or GET Calls.json;
        None (the default) lets it meet either, a counted rule counting both. Only list
        requests meet these rules (counted before standing, as for fail()); creates are
        untouched.
        """
        if resource is not None and resource not in self._listings:
            raise ValueError(f"resource must be one of {', '.join(self._listings)} or None")
        if not 400 <= status <= 599:
            raise ValueError(f"an error needs an HTTP status from 400 to 599, not {status}")
        text = message or _FAULT_MESSAGES.get(code) or HTTPStatus(status).phrase
        fault = _Fault((status, code, text), delay=0.0, drop=False, after_recording=False)
        self._add(fault, None, times, rules=self._list_rules, resource=resource)

    def set_message_status(self, sid: str, status: str) -> None:
        """Give a recorded Message the status the list shows, as Twilio's delivery updates do.

        status is one of Twilio's message statuses ("sent", "delivered", "failed", ...);
        the list shows date_updated as the clock's time of this call.
        """
        if status not in self._message_statuses:
            known = ", ".join(sorted(self._message_statuses))
            raise ValueError(f"{status!r} is not a Twilio message status ({known})")
        with self._lock:
            self._find("Messages", sid)
            self._states[sid] = _State(status, self._now())

    def set_call_status(self, sid: str, status: str, *, answered_by: str | None = None) -> None:
        """Move a recorded Call to a status the list shows, as the call's progress does.

        status is one of Twilio's call statuses (queued, ringing, in-progress, completed,
        busy, failed, no-answer, canceled); answered_by (human, machine_end_beep, ...) is
        what answering machine detection found, kept until another is given. The clock's
        time of this call becomes date_updated, and, as at Twilio:
        - start_time is when the call was dialed ("empty if the call has not yet been
          dialed"): null while queued, set by the first status past queued and kept after;
          a call canceled while still queued never gets one;
        - end_time is when it completed ("empty if the call did not complete
          successfully"), and duration the seconds from start_time to end_time: both null
          unless the status is completed.
        """
        if status not in self._call_statuses:
            known = ", ".join(sorted(self._call_statuses))
            raise ValueError(f"{status!r} is not a Twilio call status ({known})")
        if answered_by is not None and answered_by not in _ANSWERED_BY:
            known = ", ".join(sorted(_ANSWERED_BY))
            raise ValueError(f"{answered_by!r} is not a Twilio AnsweredBy value ({known})")
        with self._lock:
            before = self._state(self._find("Calls", sid))
            now = self._now()
            start = None
            if status != "queued":
                start = before.start_time or (None if status == "canceled" else now)
            end = None
            if status == "completed":
                end = before.end_time if before.status == "completed" else now
            self._states[sid] = _State(
                status,
                now,
                start_time=start,
                end_time=end,
                answered_by=answered_by or before.answered_by,
            )

    def reset(self) -> None:
        """Forget recorded requests, their statuses, the request count and every fault."""
        with self._lock:
            self._accepted.clear()
            self._states.clear()
            self._received = 0
            self._rules.clear()
            self._list_rules.clear()

    def clear_faults(self) -> None:
        """Drop every fault rule, keeping what was recorded: Twilio recovers, its history stays."""
        with self._lock:
            self._rules.clear()
            self._list_rules.clear()

    def _now(self) -> datetime:
        now = self._clock()
        return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)

    def _find(self, resource: str, sid: str) -> Accepted:
        """The recorded Message or Call `sid` (hold the lock)."""
        for accepted in self._accepted:
            if accepted.sid == sid and accepted.resource == resource:
                return accepted
        raise ValueError(f"the server recorded no {resource.removesuffix('s')} {sid}")

    def _state(self, accepted: Accepted) -> _State:
        """Where a recorded Message or Call stands (hold the lock): queued until told."""
        return self._states.get(accepted.sid) or _State("queued", accepted.received_at)

    def _add(
        self,
        fault: _Fault,
        to: str | None,
        times: int | None,
        *,
        rules: list[_Rule] | None = None,
        resource: str | None = None,
    ) -> None:
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1, or None for every request, not {times}")
        with self._lock:
            (self._rules if rules is None else rules).append(_Rule(fault, to, times, resource))

    @staticmethod
    def _take_fault(
        rules: list[_Rule], to: str | None, resource: str | None = None
    ) -> _Fault | None:
        """The fault for a request to `to` (or a list of `resource`), using up one of a counted
        rule's times."""
        counted = [rule for rule in rules if rule.remaining is not None]
        standing = [rule for rule in rules if rule.remaining is None]
        for rule in counted + standing:
            if rule.to in (None, to) and rule.resource in (None, resource):
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        rules.remove(rule)
                return rule.fault
        return None

    def _answer(self, method: str, target: str, headers: Message, body: bytes) -> _Reply:
        """Decide the reply to one HTTP request, recording it if it creates something."""
        with self._lock:
            self._received += 1
        path, query = urlsplit(target)[2:4]
        for operation in self._operations:
            if match := operation.path.fullmatch(path):
                break
        else:
            return _twilio_error(404, 20404, f"The requested resource {path} was not found")
        listable = method == "GET" and operation.resource in self._listings
        if method != "POST" and not listable:
            return _twilio_error(405, 20004, "Method not allowed")
        account_sid = match["account_sid"]
        credentials = _basic_auth(headers.get("Authorization"))
        # A SID that breaks the documented pattern names no account, so it cannot authenticate.
        if (
            credentials is None
            or credentials[0] != account_sid
            or not credentials[1]
            or not operation.account_sid.fullmatch(account_sid)
        ):
            return _AUTHENTICATE
        if listable:
            return self._list(operation, account_sid, query)
        form: dict[str, list[str]] = {}
        if headers.get_content_type() == "application/x-www-form-urlencoded":
            try:
                form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                return _twilio_error(400, 400, "The request body is not UTF-8")
        if refusal := _check(operation, form):
            return refusal
        accepted: Accepted | None = None
        with self._lock:
            fault = self._take_fault(self._rules, form["To"][0])
            if fault is None or fault.after_recording:
                accepted = self._record(operation, account_sid, form)
        if fault is not None and fault.error is not None:
            return _twilio_error(*fault.error)
        if accepted is None or (fault is not None and fault.drop):
            return _Reply(None)
        return _Reply(201, self._created(operation, accepted), delay=fault.delay if fault else 0.0)

    def _record(
        self, operation: _Operation, account_sid: str, form: Mapping[str, list[str]]
    ) -> Accepted:
        params = {
            name: tuple(values) if operation.form[name].get("type") == "array" else values[0]
            for name, values in form.items()
        }
        accepted = Accepted(
            resource=operation.resource,
            sid=_SID_PREFIX[operation.resource] + secrets.token_hex(16),
            account_sid=account_sid,
            params=params,
            received_at=self._now(),
        )
        self._accepted.append(accepted)
        return accepted

    def _list(self, operation: _Operation, account_sid: str, query: str) -> _Reply:
        """One page of the account's recorded Messages or Calls, newest first, as Twilio lists
        them."""
        resource = operation.resource
        listing = self._listings[resource]
        parsed = _parse_list_query(listing, query)
        if isinstance(parsed, _Reply):
            return parsed
        with self._lock:
            fault = self._take_fault(self._list_rules, None, resource)
            if fault is not None and fault.error is not None:
                return _twilio_error(*fault.error)
            # Newest first; among those recorded at the same time, the later recorded first.
            newest_first = sorted(
                reversed(self._accepted), key=lambda a: a.received_at, reverse=True
            )
            rows: list[tuple[Accepted, _State]] = []
            for accepted in newest_first:
                if accepted.resource != resource or accepted.account_sid != account_sid:
                    continue
                state = self._state(accepted)
                if parsed.matches(self._filtered(accepted, state)):
                    rows.append((accepted, state))
        size, number, token = parsed.page_size, parsed.page, parsed.page_token
        if token:
            sids = [accepted.sid for accepted, _ in rows]
            if token[2:] not in sids or token[:2] not in ("PA", "PB"):
                return _twilio_error(400, 20001, f"Invalid PageToken {token}")
            mark = sids.index(token[2:])
            first = mark + 1 if token.startswith("PA") else max(mark - size, 0)
        else:
            first = number * size
        shown = rows[first : first + size]
        base = f"/2010-04-01/Accounts/{account_sid}/{resource}.json"

        def page_uri(page: int, page_token: str | None) -> str:
            pairs = [*parsed.filters, ("PageSize", str(size)), ("Page", str(page))]
            if page_token:
                pairs.append(("PageToken", page_token))
            return f"{base}?{urlencode(pairs)}"

        start = number * size
        body = {
            listing.key: [
                self._resource(operation, accepted, state, listed=True) for accepted, state in shown
            ],
            "end": start + max(len(shown) - 1, 0),
            "first_page_uri": page_uri(0, None),
            "next_page_uri": (
                page_uri(number + 1, "PA" + shown[-1][0].sid)
                if shown and first + size < len(rows)
                else None
            ),
            "page": number,
            "page_size": size,
            "previous_page_uri": (
                page_uri(max(number - 1, 0), "PB" + shown[0][0].sid) if shown and first else None
            ),
            "start": start,
            "uri": page_uri(number, token),
        }
        return _Reply(200, body)

    @staticmethod
    def _filtered(accepted: Accepted, state: _State) -> dict[str, object]:
        """The values a list's filters compare, by filter name."""
        fields: dict[str, object] = {
            "To": accepted.params.get("To"),
            "From": accepted.params.get("From"),
        }
        if accepted.resource == "Messages":
            return fields | {"DateSent": accepted.received_at}
        # Every call here is an outbound-api parent call, so ParentCallSid matches none.
        return fields | {
            "ParentCallSid": None,
            "Status": state.status,
            "StartTime": state.start_time,
            "EndTime": state.end_time,
        }

    def _created(self, operation: _Operation, accepted: Accepted) -> dict[str, Any]:
        """The documented 201 body: every property of the response schema, null when unknown."""
        queued = _State("queued", accepted.received_at)
        return self._resource(operation, accepted, queued, listed=False)

    def _resource(
        self, operation: _Operation, accepted: Accepted, state: _State, *, listed: bool
    ) -> dict[str, Any]:
        """A Message or Call as Twilio shows it: every property of the schema, null when unknown.

        A listed Message shows date_sent (the create's answer has none yet).
        """
        params = accepted.params
        uri = f"/2010-04-01/Accounts/{accepted.account_sid}/{operation.resource}/{accepted.sid}"
        example_uri = operation.example["uri"].removesuffix(".json")
        stamp = format_datetime(accepted.received_at.replace(microsecond=0))
        known: dict[str, Any] = {
            "sid": accepted.sid,
            "account_sid": accepted.account_sid,
            "api_version": "2010-04-01",
            "status": state.status,
            "direction": "outbound-api",
            "to": params["To"],
            "from": params.get("From"),
            "date_created": stamp,
            "date_updated": _rfc2822(state.updated_at),
            "uri": f"{uri}.json",
            "subresource_uris": {
                name: link.replace(example_uri, uri)
                for name, link in operation.example["subresource_uris"].items()
            },
        }
        if operation.resource == "Messages":
            body = str(params.get("Body", ""))
            known |= {
                "body": body,
                "num_segments": str(max(1, count_segments(body).segments)),
                "num_media": str(len(params.get("MediaUrl", ()))),
                "messaging_service_sid": params.get("MessagingServiceSid"),
                "date_sent": stamp if listed else None,
            }
        else:
            start, end = state.start_time, state.end_time
            known |= {
                "to_formatted": _national(str(params["To"])),
                "from_formatted": _national(str(params["From"])),
                "queue_time": "0",
                "start_time": _rfc2822(start),
                "end_time": _rfc2822(end),
                "duration": _seconds_between(start, end) if start and end else None,
                "answered_by": state.answered_by,
            }
        return {name: known.get(name) for name in operation.response}


class _HTTPServer(ThreadingHTTPServer):
    # Track handler threads (not daemons) so server_close() can wait for all of them.
    daemon_threads = False
    block_on_close = True

    def __init__(self, fake: TwilioFakeServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        if isinstance(request, socket.socket):
            with self._open_lock:
                self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        if isinstance(request, socket.socket):
            with self._open_lock:
                self._open.discard(request)
        super().shutdown_request(request)

    def hang_up(self) -> None:
        """Shut every open connection, ending handlers that wait for a kept-alive client."""
        with self._open_lock:
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    # api.twilio.com keeps connections alive and twilio-python's session reuses them.
    protocol_version = "HTTP/1.1"
    server_version = "TwilioFake"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes; without this, Nagle's algorithm holds the body
        # back until the client's delayed ACK, some 40 ms on every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        fake = cast(_HTTPServer, self.server).fake
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        reply = fake._answer(self.command, self.path, self.headers, body)
        if reply.delay and fake._stopping.wait(reply.delay):
            reply = _Reply(None)
        if reply.status is None or reply.body is None:
            self.close_connection = True
            return
        payload = json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (reply.headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            # The client stopped waiting (a delayed answer after its timeout); nobody to tell.
            self.close_connection = True

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


@pytest.fixture
def twilio_server() -> Iterator[TwilioFakeServer]:
    """A running fake Twilio, stopped after the test."""
    with TwilioFakeServer() as server:
        yield server
