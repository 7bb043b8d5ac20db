"""A participant's phone for the demo: texts a running Peerline through its signed webhook."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET

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
