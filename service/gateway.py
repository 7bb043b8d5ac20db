"""The one seam to the telephone network: Twilio in production, the console in the demo."""

from __future__ import annotations

import logging
import secrets
import sys
from dataclasses import dataclass
from typing import Protocol, TextIO

import requests
from twilio.base.exceptions import TwilioRestException
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
class Receipt:
    sid: str
    status: str


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
    def send_text(self, text: OutgoingText) -> Receipt: ...


class TwilioGateway:
    """Sends through Twilio's REST API with twilio-python."""

    def __init__(self, settings: Settings, timeout: float = 10.0) -> None:
        self.client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            http_client=TwilioHttpClient(timeout=timeout),
        )
        # twilio-python has no base-URL option; Domain.base_url is where it builds request URLs.
        self.client.api.base_url = settings.twilio_api_base_url
        # It would rewrite that host from TWILIO_EDGE / TWILIO_REGION in the environment.
        self.client.edge = self.client.region = None
        self.from_number = settings.twilio_from_number
        self.messaging_service_sid = settings.twilio_messaging_service_sid

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
        try:
            message = self.client.messages.create(to=text.to, body=text.body, **sender, **optional)
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
        return Receipt(sid=str(message.sid), status=str(message.status))


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

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send_text(self, text: OutgoingText) -> Receipt:
        out = self.stream or sys.stdout
        print(f"[console] text to {mask(text.to)}: {text.body}", file=out, flush=True)
        return Receipt(sid="SM" + secrets.token_hex(16), status="sent")


def gateway_for(settings: Settings) -> Gateway:
    if settings.uses_twilio:
        return TwilioGateway(settings)
    return ConsoleGateway()
