"""Who is calling the API, and what they may see."""

from __future__ import annotations

from typing import NoReturn, TypeVar

from flask import g, request
from flask_smorest import Blueprint, abort
from sqlalchemy import ColumnElement, Select, true
from sqlalchemy.orm import QueryableAttribute

from service.accounts import authenticate_token, visible_group_ids
from service.clock import app_clock
from service.db import get_session
from service.models import Coordinator

T = TypeVar("T")


def api_blueprint(name: str, description: str) -> Blueprint:
    """A blueprint whose every route needs a valid bearer token."""
    blp = Blueprint(name, __name__, description=description)
    blp.before_request(_authenticate)
    return blp


def _authenticate() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    coordinator = None
    if scheme.lower() == "bearer" and token.strip():
        coordinator = authenticate_token(get_session(), token.strip(), app_clock()())
    if coordinator is None:
        get_session().rollback()
        abort(
            401,
            message="A valid API token is needed: Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": 'Bearer realm="peerline"'},
        )
    get_session().commit()  # the token's last use
    g.coordinator = coordinator


def not_found(what: str) -> NoReturn:
    """404 for what does not exist and for what belongs to another coordinator's groups alike."""
    abort(404, message=f"No {what}.")
    raise AssertionError("abort() returned")  # it raises; this tells the type checker


def caller() -> Coordinator:
    coordinator: Coordinator = g.coordinator
    return coordinator


GroupColumn = QueryableAttribute[int] | QueryableAttribute[int | None] | ColumnElement[int]


def in_my_groups(column: GroupColumn) -> ColumnElement[bool]:
    """A condition that keeps only rows of the caller's groups (every group for an admin).

    A row of no group (a stranger's text) matches only for an admin.
    """
    visible = visible_group_ids(get_session(), caller())
    return true() if visible is None else column.in_(visible)


def mine(query: Select[T], column: GroupColumn) -> Select[T]:
    return query.where(in_my_groups(column))
