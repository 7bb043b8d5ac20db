"""A local Twilio REST API for tests that drive the real twilio-python client.

It serves the two operations of Twilio's OpenAPI document (create a Message, create a
Call), checks each request as Twilio does, answers with the documented response shape,
records what it accepted, and can be told to refuse, stall or hang up, for one number or
for the next few requests. Point a client at it with `client.api.base_url = server.base_url`
(TwilioGateway does this from TWILIO_API_BASE_URL).
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
from datetime import UTC, datetime
from email.message import Message
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qs, urlsplit

import phonenumbers
import pytest

from service.segments import count_segments

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


@dataclass(frozen=True)
class _Reply:
    status: int | None  # None: close the connection without answering
    body: Mapping[str, Any] | None = None
    delay: float = 0.0
    headers: Mapping[str, str] | None = None


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


def _national(number: str | None) -> str | None:
    if number is None:
        return None
    return str(
        phonenumbers.format_number(
            phonenumbers.parse(number, None), phonenumbers.PhoneNumberFormat.NATIONAL
        )
    )


class TwilioFakeServer:
    """Twilio's create-Message and create-Call API on 127.0.0.1, checked against its OpenAPI spec.

    Use it as a context manager (or start() and stop()). Faults are rules: a request gets
    the first rule that matches its To, counted rules (times=n) before standing ones, and
    only requests Twilio would accept meet a fault. All state lives here, behind a lock,
    so worker threads and other processes can hit the server while a test inspects it.
    """

    def __init__(self) -> None:
        self._operations = _load_operations(json.loads(OPENAPI_SPEC.read_text(encoding="utf-8")))
        self._lock = threading.Lock()
        self._accepted: list[Accepted] = []
        self._received = 0
        self._rules: list[_Rule] = []
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

    def reset(self) -> None:
        """Forget recorded requests, the request count and every fault."""
        with self._lock:
            self._accepted.clear()
            self._received = 0
            self._rules.clear()

    def _add(self, fault: _Fault, to: str | None, times: int | None) -> None:
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1, or None for every request, not {times}")
        with self._lock:
            self._rules.append(_Rule(fault, to, times))

    def _take_fault(self, to: str | None) -> _Fault | None:
        """The fault for a request to `to`, using up one of a counted rule's times."""
        counted = [rule for rule in self._rules if rule.remaining is not None]
        standing = [rule for rule in self._rules if rule.remaining is None]
        for rule in counted + standing:
            if rule.to is None or rule.to == to:
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                return rule.fault
        return None

    def _answer(self, method: str, target: str, headers: Message, body: bytes) -> _Reply:
        """Decide the reply to one HTTP request, recording it if it creates something."""
        with self._lock:
            self._received += 1
        path = urlsplit(target).path
        for operation in self._operations:
            if match := operation.path.fullmatch(path):
                break
        else:
            return _twilio_error(404, 20404, f"The requested resource {path} was not found")
        if method != "POST":
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
            fault = self._take_fault(form["To"][0])
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
            received_at=datetime.now(UTC),
        )
        self._accepted.append(accepted)
        return accepted

    def _created(self, operation: _Operation, accepted: Accepted) -> dict[str, Any]:
        """The documented 201 body: every property of the response schema, null when unknown."""
        params = accepted.params
        uri = f"/2010-04-01/Accounts/{accepted.account_sid}/{operation.resource}/{accepted.sid}"
        example_uri = operation.example["uri"].removesuffix(".json")
        stamp = format_datetime(accepted.received_at.replace(microsecond=0))
        known: dict[str, Any] = {
            "sid": accepted.sid,
            "account_sid": accepted.account_sid,
            "api_version": "2010-04-01",
            "status": "queued",
            "direction": "outbound-api",
            "to": params["To"],
            "from": params.get("From"),
            "date_created": stamp,
            "date_updated": stamp,
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
            }
        else:
            known |= {
                "to_formatted": _national(str(params["To"])),
                "from_formatted": _national(str(params["From"])),
                "queue_time": "0",
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
