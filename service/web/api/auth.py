"""Who is calling the API, and what they may see."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

from flask import Request, g, request, url_for
from flask_smorest import Blueprint, abort
from flask_smorest.pagination import PaginationMetadataSchema, PaginationParameters
from marshmallow import Schema, ValidationError, fields, pre_load, validate
from sqlalchemy import ColumnElement, Select, func, select, true, tuple_
from sqlalchemy.orm import QueryableAttribute
from webargs.flaskparser import FlaskParser, is_json_request
from webargs.flaskparser import abort as webargs_abort
from werkzeug.routing import IntegerConverter

from service.clock import app_clock
from service.db import get_session
from service.models import (
    Campaign,
    Coordinator,
    Group,
    InboundMessage,
    Membership,
    OutboxMessage,
    Participant,
    Role,
)
from service.people import audit
from service.people.accounts import authenticate_token, visible_group_ids

T = TypeVar("T")
InAGroup = TypeVar("InAGroup", Campaign, InboundMessage, Membership, OutboxMessage)

MAX_ID = 2**31 - 1  # ids are the databases' 32-bit integers


class IdConverter(IntegerConverter):
    """`<id:name>` in a route: a row id; anything else is no such route (404)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, min=1, max=MAX_ID)


def id_field(**options: Any) -> fields.Integer:
    """A row id given in a query or body."""
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **options)


class LocalDateTime(fields.NaiveDateTime):
    """A wall-clock date and time in a group's zone: 2026-03-03T18:30, no offset."""

    def __init__(self, **options: Any) -> None:
        metadata = {
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$",
            "example": "2026-03-03T18:30",
        }
        metadata.update(options.pop("metadata", {}))
        super().__init__(metadata=metadata, **options)


class Input(Schema):
    """A request's query or body: no NUL characters anywhere (PostgreSQL's text cannot hold
    them, and no person types one), and no deeper than any request of ours needs."""

    @pre_load
    def _plain(self, data: Any, **_: Any) -> Any:
        if problem := _problem(data):
            raise ValidationError(problem)
        return data


MAX_DEPTH = 16  # the deepest request body of ours is 3 levels; this leaves room and no more


def _problem(data: Any) -> str | None:
    """What makes a query or body unfit to read, looked at one value at a time (no recursion,
    so a body nested a thousand deep is refused, not a crash)."""
    waiting: list[tuple[Any, int]] = [(data, 0)]
    while waiting:
        value, depth = waiting.pop()
        if depth > MAX_DEPTH:
            return f"The request is nested more than {MAX_DEPTH} levels deep."
        if isinstance(value, str):
            if "\x00" in value:
                return "NUL characters are not allowed."
        elif hasattr(value, "getlist"):  # a query string: every value of every key
            waiting.extend(
                (item, depth + 1) for key in value for item in [key, *value.getlist(key)]
            )
        elif isinstance(value, dict):
            waiting.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list):
            waiting.extend((item, depth + 1) for item in value)
    return None


def json_depth(body: bytes) -> int:
    """How deep a JSON document's arrays and objects nest, read without decoding it."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


class Parser(FlaskParser):
    """webargs' parser, refusing a JSON body nested deeper than MAX_DEPTH before decoding it:
    Python's decoder recurses, and a few thousand brackets exhaust its stack."""

    def _raw_load_json(self, req: Request) -> Any:
        body = req.get_data(cache=True)
        if (
            is_json_request(req)
            and body.count(b"[") + body.count(b"{") > MAX_DEPTH
            and json_depth(body) > MAX_DEPTH
        ):
            message = f"The request is nested more than {MAX_DEPTH} levels deep."
            webargs_abort(422, message=message, messages={"json": [message]})
        return super()._raw_load_json(req)


class PagingSchema(PaginationMetadataSchema):  # type: ignore[misc]
    """The X-Pagination header: flask-smorest's page numbers, and a cursor to go on from."""

    next_after = fields.String(
        metadata={
            "description": "Give it as `after` for the next page (absent on the last page). "
            "A page reached by `after` has no totals: it is read from an index, not counted."
        }
    )


class ApiBlueprint(Blueprint):  # type: ignore[misc]
    ARGUMENTS_PARSER = Parser()

    def _set_pagination_metadata(
        self, page_params: PaginationParameters, result: Any, headers: Any
    ) -> tuple[Any, Any]:
        keyset: KeysetPage | None = getattr(page_params, "keyset", None)
        if keyset is None:
            return super()._set_pagination_metadata(page_params, result, headers)  # type: ignore[no-any-return]
        if keyset.counted:
            paging = self._make_pagination_metadata(
                page_params.page, page_params.page_size, page_params.item_count
            )
        else:
            paging = {}
        headers = dict(headers or {})
        if keyset.next_after is not None:
            paging["next_after"] = keyset.next_after
            arguments: dict[str, Any] = {k: v for k, v in request.args.lists() if k != "page"}
            arguments["after"] = [keyset.next_after]
            url = url_for(request.endpoint or "", **(request.view_args or {}), **arguments)
            headers["Link"] = f'<{url}>; rel="next"'
        headers[self.PAGINATION_HEADER_NAME] = json.dumps(PagingSchema().dump(paging))
        return result, headers

    def _document_pagination_metadata(self, spec: Any, resp_doc: dict[str, Any]) -> None:
        super()._document_pagination_metadata(spec, resp_doc)
        resp_doc["headers"]["Link"] = {
            "description": 'The next page\'s URL, by cursor: <...>; rel="next" (lists that '
            "take after, while there is a next page).",
            "schema": {"type": "string"},
        }


def api_blueprint(name: str, description: str) -> Blueprint:
    """A blueprint whose every route needs a valid bearer token."""
    blp = ApiBlueprint(name, __name__, description=description)
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
    visible = my_group_ids()
    return true() if visible is None else column.in_(visible)


def mine(query: Select[T], column: GroupColumn) -> Select[T]:
    return query.where(in_my_groups(column))


def my_group_ids() -> set[int] | None:
    """The caller's group ids (None: all, for an admin), read once per request."""
    if "visible_groups" not in g:
        g.visible_groups = visible_group_ids(get_session(), caller())
    visible: set[int] | None = g.visible_groups
    return visible


@functools.cache
def _field_names(schema: type[Schema]) -> tuple[str, ...]:
    return tuple(schema().fields)


def attributes(row: object, schema: type[Schema], *, skip: Collection[str] = ()) -> dict[str, Any]:
    """The row's attributes that schema shows, as a dict the caller may add to."""
    return {
        name: getattr(row, name)
        for name in _field_names(schema)
        if name not in skip and hasattr(row, name)
    }


def actor() -> str:
    """How the audit log names the caller."""
    return f"api:{caller().email}"


def audited(action: str, target_type: str, target_id: int, **details: Any) -> None:
    """Record what the caller did, in the request's transaction."""
    audit.record(
        get_session(),
        actor=actor(),
        action=action,
        now=app_clock()(),
        target_type=target_type,
        target_id=target_id,
        **details,
    )


def require_admin() -> None:
    if caller().role is not Role.ADMIN:
        abort(403, message="Only an admin may do this.")


def my_group(group_id: int) -> Group:
    """One of the caller's groups, or 404."""
    group = get_session().scalar(mine(select(Group).where(Group.id == group_id), Group.id))
    if group is None:
        not_found(f"group {group_id}")
    return group


def one_of_mine(model: type[InAGroup], row_id: int, what: str) -> InAGroup:
    """The row of model with this id if it belongs to one of the caller's groups, or 404."""
    found: InAGroup | None = get_session().scalar(
        select(model).where(model.id == row_id, in_my_groups(model.group_id))
    )
    if found is None:
        not_found(f"{what} {row_id}")
    return found


def filtered(
    model: type[T],
    query: dict[str, Any],
    *,
    scoped: bool = True,
    when: QueryableAttribute[Any] | None = None,
) -> Select[T]:
    """model's rows, in the caller's groups when scoped, narrowed by every filter in query.

    Each filter is a column equal to the value (or in it, for a list); since and until bound
    the `when` column. A filter naming another coordinator's group is a 404.
    """
    rows = select(model)
    if scoped:
        if "group_id" in query:
            my_group(query["group_id"])
        rows = rows.where(in_my_groups(getattr(model, "group_id")))  # noqa: B009 - any model
    for name, value in query.items():
        if name in ("since", "until"):
            continue
        column = getattr(model, name)
        rows = rows.where(column.in_(value) if isinstance(value, list) else column == value)
    if when is not None and "since" in query:
        rows = rows.where(when >= query["since"])
    if when is not None and "until" in query:
        rows = rows.where(when < query["until"])
    return rows


def my_participant(participant_id: int) -> Participant:
    """Someone who is (or was) in one of the caller's groups, or 404."""
    found = get_session().scalar(
        select(Participant).where(
            Participant.id == participant_id,
            select(Membership.id)
            .where(Membership.participant_id == Participant.id, in_my_groups(Membership.group_id))
            .exists(),
        )
    )
    if found is None:
        not_found(f"participant {participant_id}")
    return found


class Cursor(fields.Field):  # type: ignore[type-arg]
    """A position in a list, opaque to the caller: the key of the last row of the page before,
    as `next_after` gave it. kinds are the key's types, datetime, int or bool, in order."""

    def __init__(self, *kinds: type, **options: Any) -> None:
        self.kinds = kinds
        metadata = {
            "description": "Go on after this position: the `next_after` of the X-Pagination "
            "header of the page before. Then `page` is not given (a deep page costs no more "
            "than the first)."
        }
        metadata.update(options.pop("metadata", {}))
        super().__init__(metadata=metadata, **options)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **_: Any) -> str | None:
        return None if value is None else encode_cursor(value)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **_: Any
    ) -> tuple[Any, ...]:
        problem = ValidationError("Not a position this list gave: use its next_after as it is.")
        try:
            padded = str(value) + "=" * (-len(str(value)) % 4)
            parts = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        except (UnicodeError, ValueError, binascii.Error) as error:
            raise problem from error
        if not isinstance(parts, list) or len(parts) != len(self.kinds):
            raise problem
        key: list[Any] = []
        for kind, part in zip(self.kinds, parts, strict=True):
            whole = kind is int and type(part) is int and 0 < part <= MAX_ID
            if whole or (kind is bool and type(part) is bool):
                key.append(part)
            elif kind is datetime and isinstance(part, str):
                try:
                    moment = datetime.fromisoformat(part)
                except ValueError as error:
                    raise problem from error
                if moment.tzinfo is None:
                    raise problem
                key.append(moment.astimezone(UTC))
            else:
                raise problem
        return tuple(key)


def encode_cursor(key: Sequence[Any]) -> str:
    """The opaque text of a position: base64 of its key as JSON, times in ISO 8601."""
    parts = [part.isoformat() if isinstance(part, datetime) else part for part in key]
    packed = json.dumps(parts, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class Keyset:
    """A list's order by columns that together are unique, so a page can go on after a row.

    A column may be an expression (the inbox's "may ask to stop"); then values gives a row's
    key in the columns' order.
    """

    columns: tuple[Any, ...]
    descending: bool = False
    values: Callable[[Any], tuple[Any, ...]] | None = None

    def ordered(self, query: Select[T]) -> Select[T]:
        return query.order_by(*(c.desc() if self.descending else c.asc() for c in self.columns))

    def after(self, query: Select[T], position: tuple[Any, ...]) -> Select[T]:
        key = tuple_(*self.columns)
        return query.where(key < position if self.descending else key > position)

    def position(self, row: Any) -> tuple[Any, ...]:
        if self.values is not None:
            return self.values(row)
        return tuple(getattr(row, column.key) for column in self.columns)


@dataclass(frozen=True)
class KeysetPage:
    """What the X-Pagination header says of a page of a keyset list."""

    counted: bool
    next_after: str | None


def page_of(
    query: Select[T],
    pages: PaginationParameters,
    keyset: Keyset | None = None,
    after: tuple[Any, ...] | None = None,
) -> Sequence[T]:
    """One page of query's rows; the total goes to the X-Pagination header.

    With a keyset, query is put in its order and the header carries `next_after`; after such a
    position, the page is read from there on, neither counted nor offset.
    """
    session = get_session()
    if keyset is not None:
        return _keyset_page(keyset.ordered(query), pages, keyset, after)
    pages.item_count = session.scalar(
        select(func.count()).select_from(query.order_by(None).subquery())
    )
    if pages.first_item >= (pages.item_count or 0):
        return []  # past the last page (and no offset too large for the database to take)
    return session.scalars(query.offset(pages.first_item).limit(pages.page_size)).all()


def _keyset_page(
    query: Select[T], pages: PaginationParameters, keyset: Keyset, after: tuple[Any, ...] | None
) -> Sequence[T]:
    if after is None:
        rows = page_of(query, pages)
        more = pages.last_item + 1 < (pages.item_count or 0)
    else:
        if pages.page != 1:
            get_session().rollback()
            message = "Give page or after, not both."
            abort(422, message=message, errors={"query": {"page": [message]}})
        found = get_session().scalars(keyset.after(query, after).limit(pages.page_size + 1)).all()
        rows, more = found[: pages.page_size], len(found) > pages.page_size
        # flask-smorest writes the header only once item_count is set; this page counts its own.
        pages.item_count = len(rows)
    next_after = encode_cursor(keyset.position(rows[-1])) if more and rows else None
    pages.keyset = KeysetPage(counted=after is None, next_after=next_after)
    return rows


def refuse(status: int, message: str, field: str | None = None) -> NoReturn:
    """Answer a refused request; a field names the input at fault, as validation errors do."""
    get_session().rollback()
    details: dict[str, Any] = {"json": {field: [message]}} if field else {}
    abort(status, message=message, **({"errors": details} if details else {}))
    raise AssertionError("abort() returned")


class WordsSchema(Schema):
    """What one text costs, shown before it goes."""

    characters = fields.Integer()
    segments = fields.Integer()
    encoding = fields.String(metadata={"description": "GSM-7 or UCS-2."})
    ucs2_character = fields.String(
        allow_none=True, metadata={"description": "The first character that makes it UCS-2."}
    )
    summary = fields.Function(
        lambda count: count.summary(),
        metadata={"description": 'e.g. "\u2019 (U+2019) makes this UCS-2: 3 instead of 2"'},
    )
