"""The one seam to the telephone network: Twilio in production, the console in the demo."""

from __future__ import annotations

import contextlib
import logging
import secrets
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TextIO

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import MaxRetryError, NewConnectionError

from service.config import Settings
from service.phones import mask

log = logging.getLogger(__name__)

RATE_LIMITED = 20429
UNSUBSCRIBED = 21610
INVALID_TO = 21211
NOT_MOBILE = 21614
LANDLINE_OR_UNREACHABLE = 30006


@dataclass(frozen=True)
class OutgoingText:
    to: str
    body: str
    status_callback: str | None = None
    validity_period: int | None = None  # seconds Twilio may keep trying, 1 to 36000


@dataclass(frozen=True)
class OutgoingCall:
    to: str
    url: str  # where Twilio fetches the call's TwiML once someone (or something) answers
    status_callback: str | None = None
    timeout: int = 30  # seconds to let it ring
    # Twilio tells a person from an answering machine, and waits for the beep, before the
    # TwiML is fetched: AnsweredBy then says which it was.
    machine_detection: str = "DetectMessageEnd"


@dataclass(frozen=True)
class Receipt:
    sid: str
    status: str  # Twilio's MessageStatus: queued, sent, delivered, failed, ...
    error_code: int | None = None


class GatewayError(Exception):
    """A send that did not go as planned, and what is known about it."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        status: int | None = None,
        retryable: bool = False,
        may_have_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        # Retryable: the provider surely did not act on it (429, connection refused).
        self.retryable = retryable
        # May have sent: the request may have been acted on (timeout, 5xx); never resend blindly.
        self.may_have_sent = may_have_sent


class Gateway(Protocol):
    # Whose rate limit a text counts against: the From number or the Messaging Service.
    sender: str

    def send_text(self, text: OutgoingText) -> Receipt: ...

    def place_call(self, call: OutgoingCall) -> Receipt: ...

    def lookup_call(self, to: str, since: datetime) -> Receipt | None:
        """The provider's record of a call we placed to `to` at or after since, else None."""
        ...

    def lookup(self, text: OutgoingText, since: datetime) -> Receipt | None:
        """The provider's record of text if it accepted it at or after since, else None.

        None must mean "proven not sent": a failed lookup raises GatewayError instead.
        """
        ...


class TwilioGateway:
    """Sends through Twilio's REST API with twilio-python."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.from_number = settings.twilio_from_number
        self.messaging_service_sid = settings.twilio_messaging_service_sid
        self.sender = self.messaging_service_sid or self.from_number or "twilio"
        self._local = threading.local()

    @property
    def client(self) -> Client:
        """This thread's client: each sending thread keeps its own connection pool."""
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            client = Client(
                self.settings.twilio_account_sid,
                self.settings.twilio_auth_token,
                http_client=TwilioHttpClient(timeout=self.settings.twilio_timeout),
            )
            # twilio-python has no base-URL option; Domain.base_url is where it builds URLs.
            client.api.base_url = self.settings.twilio_api_base_url
            # It would rewrite that host from TWILIO_EDGE / TWILIO_REGION in the environment.
            client.edge = client.region = None
            self._local.client = client
        return client

    def send_text(self, text: OutgoingText) -> Receipt:
        sender: dict[str, str] = (
            {"messaging_service_sid": self.messaging_service_sid}
            if self.messaging_service_sid
            else {"from_": self.from_number or ""}
        )
        optional: dict[str, object] = {}
        if text.status_callback:
            optional["status_callback"] = text.status_callback
        if text.validity_period is not None:
            optional["validity_period"] = max(1, min(36000, text.validity_period))
        with _creating():
            message = self.client.messages.create(to=text.to, body=text.body, **sender, **optional)
        return Receipt(sid=str(message.sid), status=str(message.status))

    def place_call(self, call: OutgoingCall) -> Receipt:
        """Start a call from TWILIO_FROM_NUMBER; its TwiML comes from call.url."""
        if not self.from_number:
            raise GatewayError("calls need TWILIO_FROM_NUMBER (a Messaging Service cannot call)")
        optional: dict[str, object] = {}
        if call.status_callback:
            optional |= {
                "status_callback": call.status_callback,
                "status_callback_method": "POST",
                "status_callback_event": ["initiated", "ringing", "answered", "completed"],
            }
        with _creating():
            created = self.client.calls.create(
                to=call.to,
                from_=self.from_number,
                url=call.url,
                method="POST",
                timeout=call.timeout,
                machine_detection=call.machine_detection,
                **optional,
            )
        return Receipt(sid=str(created.sid), status=str(created.status))

    def lookup_call(self, to: str, since: datetime) -> Receipt | None:
        """Look a call up in Twilio's call list: to that number, from ours, created since."""
        with _listing():
            listed = self.client.calls.list(to=to, from_=self.from_number, limit=self.LOOKUP_DEPTH)
        for call in listed:
            if call.date_created is not None and call.date_created < since:
                continue
            return Receipt(sid=str(call.sid), status=str(call.status))
        return None

    # How many of the person's latest messages a lookup reads; a text we tried to send minutes
    # ago is among the newest few.
    LOOKUP_DEPTH = 100

    def lookup(self, text: OutgoingText, since: datetime) -> Receipt | None:
        """Look text up in Twilio's message list: same To, our sender, same body, created since.

        The list is filtered by To (and From, for a plain number) on Twilio's side; the date is
        compared here with date_created, because a message still waiting in Twilio's own queue
        has no date_sent yet and a DateSent filter would hide exactly the send in doubt.
        """
        sender: dict[str, str] = (
            {} if self.messaging_service_sid else {"from_": self.from_number or ""}
        )
        with _listing():
            listed = self.client.messages.list(to=text.to, **sender, limit=self.LOOKUP_DEPTH)
        for message in listed:
            if message.body != text.body or (message.direction or "").startswith("inbound"):
                continue
            if (
                self.messaging_service_sid
                and message.messaging_service_sid != self.messaging_service_sid
            ):
                continue
            if message.date_created is not None and message.date_created < since:
                continue
            code = message.error_code if isinstance(message.error_code, int) else None
            return Receipt(sid=str(message.sid), status=str(message.status), error_code=code)
        return None


@contextlib.contextmanager
def _creating() -> Iterator[None]:
    """Turn what can go wrong creating a message or a call into a GatewayError that says
    whether Twilio may have acted on the request."""
    try:
        yield
    except TwilioRestException as exc:
        raise _from_rest_error(exc) from exc
    except requests.ConnectTimeout as exc:
        raise GatewayError("could not connect to Twilio", retryable=True) from exc
    except requests.ConnectionError as exc:
        refused = _never_connected(exc)
        raise GatewayError(
            "connection to Twilio failed", retryable=refused, may_have_sent=not refused
        ) from exc
    except (requests.RequestException, ValueError) as exc:
        # A read timeout, or an answer we cannot read: the request left and may have been
        # acted on.
        raise GatewayError(
            f"no usable answer from Twilio: {type(exc).__name__}", may_have_sent=True
        ) from exc


@contextlib.contextmanager
def _listing() -> Iterator[None]:
    """A list request that fails says nothing about what Twilio holds: the row stays in doubt."""
    try:
        yield
    except TwilioException as exc:
        # A page that fails raises the plain TwilioException, with the response beside it.
        response = exc.args[1] if len(exc.args) > 1 else None
        status = getattr(response, "status_code", None)
        raise GatewayError(f"Twilio's list answered {status}", status=status) from exc
    except (requests.RequestException, ValueError) as exc:
        raise GatewayError(f"could not read Twilio's list: {type(exc).__name__}") from exc


def _never_connected(exc: BaseException) -> bool:
    """Whether the connection was refused before anything was sent."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, NewConnectionError):
            return True
        if isinstance(seen, MaxRetryError) and seen.reason is not None:
            seen = seen.reason
            continue
        # requests raises its ConnectionError while handling urllib3's, which keeps the cause.
        seen = seen.__cause__ or seen.__context__
    return False


def _from_rest_error(exc: TwilioRestException) -> GatewayError:
    code = exc.code if isinstance(exc.code, int) else None
    if exc.status == 429 or code == RATE_LIMITED:
        return GatewayError("Twilio is rate limiting", code=code, status=exc.status, retryable=True)
    if exc.status in (401, 403):
        # The account, not the message, is at fault: keep the text queued while it is fixed.
        log.error("Twilio refused our credentials (%s): check TWILIO_AUTH_TOKEN", exc.status)
        return GatewayError(
            "Twilio refused our credentials", code=code, status=exc.status, retryable=True
        )
    if exc.status >= 500:
        return GatewayError(
            f"Twilio answered {exc.status}", code=code, status=exc.status, may_have_sent=True
        )
    return GatewayError(f"Twilio refused the message: {exc.msg}", code=code, status=exc.status)


class ConsoleGateway:
    """Prints each text instead of sending it: the embedded default without credentials."""

    sender = "console"

    def __init__(self, stream: TextIO | None = None, *, base_url: str | None = None) -> None:
        self.stream = stream
        # Where the simulator reaches the running demo, so a printed command works as printed.
        self.base_url = base_url

    def send_text(self, text: OutgoingText) -> Receipt:
        out = self.stream or sys.stdout
        print(f"[console] text to {mask(text.to)}: {text.body}", file=out, flush=True)
        return Receipt(sid="SM" + secrets.token_hex(16), status="sent")

    def place_call(self, call: OutgoingCall) -> Receipt:
        out = self.stream or sys.stdout
        sid = "CA" + secrets.token_hex(16)
        at = f" --url {self.base_url}" if self.base_url else ""
        print(
            f"[console] calling {mask(call.to)}: answer with "
            f"`peerline simulate-call{at} --answer '{call.url}' --call-sid {sid}`",
            file=out,
            flush=True,
        )
        return Receipt(sid=sid, status="queued")

    def lookup(self, text: OutgoingText, since: datetime) -> Receipt | None:
        # Nothing left this machine: a line the console may not have printed is printed again.
        return None

    def lookup_call(self, to: str, since: datetime) -> Receipt | None:
        return None


def gateway_for(settings: Settings) -> Gateway:
    if settings.uses_twilio:
        return TwilioGateway(settings)
    return ConsoleGateway()
