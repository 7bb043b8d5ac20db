"""Phone numbers: parsing to E.164, masking for logs, and keyed hashing for the ledger."""

from __future__ import annotations

import hashlib
import hmac
import re

import phonenumbers

from service.text import said

_E164 = re.compile(r"\+[1-9]\d{6,14}")


class InvalidPhone(ValueError):
    """The text is not a phone number we can reach."""


def normalize(raw: str, region: str = "US") -> str:
    """Return raw as an E.164 number, reading national numbers as being in region."""
    text = raw.strip()
    # The message quotes what was typed, so the person who typed it sees their mistake; log
    # lines mask it like any number (service.logs).
    if not text:
        raise InvalidPhone(said("no phone number was given"))
    if len(text) > 32:
        raise InvalidPhone(said("%(text)r... is too long for a phone number", text=text[:32]))
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(said("%(text)r is not a phone number", text=text)) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(said("%(text)r is not a valid phone number", text=text))
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def is_e164(value: str) -> bool:
    """Whether value is a valid phone number already written in E.164."""
    if not _E164.fullmatch(value):
        return False
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(value, None)))
    except phonenumbers.NumberParseException:
        return False


def mask(phone: str | None) -> str:
    """Hide all but the country code and last four digits: +1******4567."""
    if not phone:
        return "(none)"
    digits = re.sub(r"\D", "", phone)
    if len(digits) <= 4:
        return "*" * len(digits)
    country = ""
    if phone.startswith("+"):
        try:
            country = str(phonenumbers.parse(phone, None).country_code)
        except phonenumbers.NumberParseException:
            country = digits[:1]
    hidden = len(digits) - len(country) - 4
    return f"{'+' if phone.startswith('+') else ''}{country}{'*' * hidden}{digits[-4:]}"


def phone_hash(phone: str, key: str) -> str:
    """A keyed hash of an E.164 number, kept where the number itself may not be."""
    return hmac.new(key.encode(), phone.encode(), hashlib.sha256).hexdigest()
