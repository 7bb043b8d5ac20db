"""A participant's phone for the demo: texts and calls a running Peerline through its signed
webhooks, exactly as Twilio would."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
from twilio.request_validator import RequestValidator


class SimulatorError(Exception):
    """The service could not be reached or refused the text."""


def text_service(
    base_url: str, token: str, from_phone: str, body: str, to: str = "+15005550006"
) -> list[str]:
    """Send body from from_phone as Twilio would, and return the texts Peerline replied with."""
    url = base_url.rstrip("/") + "/twilio/sms"
    params = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": "AC" + "0" * 32,
        "From": from_phone,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(token).compute_signature(url, params)
    try:
        response = requests.post(
            url, data=params, headers={"X-Twilio-Signature": signature}, timeout=15
        )
    except requests.RequestException as error:
        raise SimulatorError(f"could not reach Peerline at {base_url}: {error}") from error
    if response.status_code != 200:
        raise SimulatorError(f"Peerline answered {response.status_code}: {response.text[:200]}")
    root = ET.fromstring(response.text)  # noqa: S314
    return ["".join(message.itertext()).strip() for message in root.iter("Message")]


@dataclass(frozen=True)
class CallStep:
    """What one exchange of a simulated call said, and where a key press goes next."""

    said: list[str]
    action: str | None  # the Gather's (or Redirect's) absolute URL; None when the call ended
    asks_for_keys: bool


class CallSimulator:
    """A phone on a call with a running Peerline: each request signed as Twilio signs it."""

    def __init__(
        self,
        base_url: str,
        token: str,
        phone: str,
        our_number: str = "+15005550006",
        call_sid: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.phone = phone
        self.our_number = our_number
        # A reminder call has its SID from when it was placed; a call to us gets a new one.
        self.call_sid = call_sid or "CA" + secrets.token_hex(16)

    def dial(self) -> CallStep:
        """Call Peerline's number."""
        return self._post("/twilio/voice", {"From": self.phone, "To": self.our_number})

    def answer(self, url: str, *, machine: bool = False) -> CallStep:
        """Pick up a reminder call (url as the console printed it), or let voicemail take it."""
        answered_by = "machine_end_beep" if machine else "human"
        params = {"From": self.our_number, "To": self.phone, "AnsweredBy": answered_by}
        return self._post(url, params)

    def press(self, step: CallStep, digits: str | None) -> CallStep:
        """Press keys at the menu (None: stay silent until it times out)."""
        if step.action is None:
            raise SimulatorError("the call has ended")
        params = {"From": self.phone, "To": self.our_number}
        if digits is not None:
            params["Digits"] = digits
        return self._post(step.action, params)

    def _post(self, url: str, params: dict[str, str]) -> CallStep:
        url = urljoin(self.base_url + "/", url)
        form = {"CallSid": self.call_sid, "AccountSid": "AC" + "0" * 32, **params}
        signature = RequestValidator(self.token).compute_signature(url, form)
        try:
            response = requests.post(
                url, data=form, headers={"X-Twilio-Signature": signature}, timeout=15
            )
        except requests.RequestException as error:
            raise SimulatorError(f"could not reach Peerline at {self.base_url}: {error}") from error
        if response.status_code != 200:
            raise SimulatorError(f"Peerline answered {response.status_code}: {response.text[:200]}")
        root = ET.fromstring(response.text)  # noqa: S314 - Peerline's own TwiML
        said = [" ".join(say.itertext()).strip() for say in root.iter("Say")]
        gather = root.find("Gather")
        redirect = root.find("Redirect")
        action = gather.get("action") if gather is not None else None
        if action is None and redirect is not None and redirect.text:
            action = redirect.text.strip()
        return CallStep(
            said=said,
            action=urljoin(url, action) if action else None,
            asks_for_keys=gather is not None,
        )
