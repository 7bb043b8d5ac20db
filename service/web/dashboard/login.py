"""Who is signed in to the dashboard: Flask-Login on the coordinators' accounts.

The session cookie names the coordinator and a fingerprint of their password hash and of how
many times the account was disabled, so that a new password or disabling the account ends every
other sign-in at its next request, and enabling it again does not bring one back.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from urllib.parse import urlsplit

from flask import abort, session
from flask_login import UserMixin, current_user, login_user, logout_user
from sqlalchemy import select

from service.db import get_session
from service.models import Coordinator, Group
from service.people.accounts import visible_group_ids

SEEN = "peerline_seen"  # the session's last request, for the idle timeout


class SignedIn(UserMixin):  # type: ignore[misc]
    """A coordinator as Flask-Login sees them."""

    def __init__(self, coordinator: Coordinator) -> None:
        self.coordinator = coordinator

    def get_id(self) -> str:
        return f"{self.coordinator.id}:{_fingerprint(self.coordinator)}"


def _fingerprint(coordinator: Coordinator) -> str:
    held = f"{coordinator.sign_in_generation}:{coordinator.password_hash or ''}"
    return hashlib.sha256(held.encode()).hexdigest()[:16]


def load(user_id: str) -> SignedIn | None:
    """The coordinator a session names, if that sign-in still holds."""
    number, _, fingerprint = user_id.partition(":")
    if not number.isdigit():
        return None
    coordinator = get_session().get(Coordinator, int(number))
    if (
        coordinator is None
        or coordinator.disabled
        or coordinator.password_hash is None
        or fingerprint != _fingerprint(coordinator)
    ):
        return None
    return SignedIn(coordinator)


def me() -> Coordinator:
    """The signed-in coordinator (a view runs only once someone is signed in)."""
    coordinator: Coordinator = current_user.coordinator
    return coordinator


def visible() -> set[int] | None:
    """The ids of the groups the signed-in coordinator may see; None for an admin (all)."""
    return visible_group_ids(get_session(), me())


def my_groups() -> list[Group]:
    """The signed-in coordinator's groups (an admin's: all), by public name."""
    query = select(Group).order_by(Group.public_name, Group.id)
    ids = visible()
    if ids is not None:
        query = query.where(Group.id.in_(list(ids)))
    return list(get_session().scalars(query))


def my_group(group_id: int) -> Group:
    """One of the signed-in coordinator's groups (any, for an admin), or 404: another
    coordinator's group and a group that does not exist answer alike."""
    group = get_session().get(Group, group_id)
    ids = visible()
    if group is None or (ids is not None and group.id not in ids):
        abort(404)
    return group


def start(coordinator: Coordinator, now: datetime) -> None:
    """Sign the coordinator in, in a fresh session (nothing from before it carries over)."""
    session.clear()
    login_user(SignedIn(coordinator))
    session.permanent = True
    session[SEEN] = now.timestamp()


def end() -> None:
    logout_user()
    session.clear()


def still_active(now: datetime, idle_minutes: int) -> bool:
    """Note this request; False (and signed out) when the last one was too long ago."""
    seen = session.get(SEEN)
    if not isinstance(seen, int | float) or now.timestamp() - seen > idle_minutes * 60:
        end()
        return False
    session[SEEN] = now.timestamp()
    return True


def safe_next(target: str | None) -> str | None:
    """target if it is a path on this site, else None: a sign-in never sends anyone away."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(c in target for c in "\\\r\n\t"):
        return None
    return target
