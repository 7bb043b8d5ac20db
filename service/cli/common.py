"""What every command shares: the time, the audit log, the settings, finding a group, failing."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.clock import app_clock
from service.config import Settings
from service.models import Base, Group
from service.people import audit


def now() -> datetime:
    return app_clock()()


def audited(session: Session, action: str, target: Base | None = None, **details: Any) -> None:
    """Record a coordinator's command in the audit log, in the command's transaction."""
    session.flush()
    audit.record(
        session,
        actor=audit.command_line_actor(),
        action=action,
        now=now(),
        target_type=type(target).__name__.lower() if target is not None else None,
        target_id=getattr(target, "id", None),
        **details,
    )


def settings() -> Settings:
    value: Settings = current_app.extensions["peerline.settings"]
    return value


def fail(message: str) -> None:
    raise click.ClickException(message)


def find_group(session: Session, code: str) -> Group:
    group = session.scalar(select(Group).where(Group.join_code == code.upper()))
    if group is None:
        fail(f"no group has the code {code.upper()}; see: peerline groups list")
    assert group is not None
    return group


def valid_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"{value!r} is not a time zone; use a name such as America/New_York")
    return value


# The domain names its inputs as the API does; these are the same inputs as options here.
_OPTIONS = {
    "duration_minutes": "--duration",
    "key": "--meeting",
    "offsets": "--offset",
    "send_at": "--at",
}


def option_of(field: str) -> str:
    """The option a domain field comes from: "wording.en" is --wording-en."""
    return _OPTIONS.get(field) or "--" + field.replace(".", "-").replace("_", "-")


def parse_local(value: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(value.strip().replace("T", " "))
    except ValueError:
        fail(f"{option}: {value!r} is not a date and time such as 2026-03-03 18:30")
        raise  # unreachable: fail() raises
