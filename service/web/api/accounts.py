"""Coordinators' accounts and API tokens: admins only, as on the admin pages and the CLI."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from service.clock import app_clock
from service.db import get_session
from service.models import ApiToken, Coordinator, Group, Role
from service.people import accounts
from service.web.api.auth import (
    Input,
    api_blueprint,
    audited,
    id_field,
    not_found,
    refuse,
    require_admin,
)

coordinators_blp = api_blueprint("coordinators", "Coordinators' accounts: admins only.")
tokens_blp = api_blueprint("tokens", "API tokens: admins only. A new token is shown once.")


class CoordinatorSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.Function(lambda c: c.role.value)
    disabled = fields.Boolean()
    has_password = fields.Function(lambda c: c.password_hash is not None)
    group_ids = fields.Function(
        lambda c: [g.id for g in c.groups],
        metadata={"description": "The groups they run; a coordinator sees only these."},
    )


class NewCoordinatorSchema(Input):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    role = fields.String(
        load_default="coordinator", validate=validate.OneOf([r.value for r in Role])
    )
    password = fields.String(
        load_default=None,
        validate=validate.Length(max=1024),
        metadata={"description": "At least 12 characters; without one, only tokens let them in."},
    )


class PasswordSchema(Input):
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class HandOverSchema(Input):
    group_id = id_field(required=True)


def _coordinator(coordinator_id: int) -> Coordinator:
    found = get_session().get(Coordinator, coordinator_id)
    if found is None:
        not_found(f"coordinator {coordinator_id}")
    return found


@coordinators_blp.route("")
class Coordinators(MethodView):
    @coordinators_blp.response(200, CoordinatorSchema(many=True))
    @coordinators_blp.alt_response(403, description="The caller is not an admin.")
    def get(self) -> list[Coordinator]:
        """Every coordinator by email, with the groups each runs."""
        require_admin()
        return [c for c, _groups in accounts.coordinators_and_groups(get_session())]

    @coordinators_blp.arguments(NewCoordinatorSchema)
    @coordinators_blp.response(201, CoordinatorSchema)
    @coordinators_blp.alt_response(403, description="The caller is not an admin.")
    def post(self, body: dict[str, Any]) -> Coordinator:
        """Add a coordinator (422 for an email taken, a bad email or a short password)."""
        require_admin()
        session = get_session()
        try:
            coordinator = accounts.create_coordinator(
                session, email=body["email"], name=body["name"], role=Role(body["role"]),
                password=body["password"], now=app_clock()(),
            )  # fmt: skip
        except accounts.AccountError as error:
            refuse(422, str(error), "password" if "password" in str(error) else "email")
        audited("coordinator.create", "coordinator", coordinator.id, role=body["role"],
                password=body["password"] is not None)  # fmt: skip
        session.commit()
        return coordinator


def _changed(coordinator_id: int, action: str, change: Any) -> Coordinator:
    require_admin()
    coordinator = _coordinator(coordinator_id)
    change(coordinator)
    audited(action, "coordinator", coordinator.id)
    get_session().commit()
    return coordinator


@coordinators_blp.route("/<id:coordinator_id>/disable")
class Disable(MethodView):
    @coordinators_blp.response(200, CoordinatorSchema)
    @coordinators_blp.alt_response(403, description="The caller is not an admin.")
    def post(self, coordinator_id: int) -> Coordinator:
        """Shut a coordinator out: password and tokens stop working (again: no change)."""
        return _changed(coordinator_id, "coordinator.disable", accounts.disable)


@coordinators_blp.route("/<id:coordinator_id>/enable")
class Enable(MethodView):
    @coordinators_blp.response(200, CoordinatorSchema)
    @coordinators_blp.alt_response(403, description="The caller is not an admin.")
    def post(self, coordinator_id: int) -> Coordinator:
        """Let a disabled coordinator in again."""
        return _changed(coordinator_id, "coordinator.enable", accounts.enable)


@coordinators_blp.route("/<id:coordinator_id>/password")
class Password(MethodView):
    @coordinators_blp.arguments(PasswordSchema)
    @coordinators_blp.response(200, CoordinatorSchema)
    @coordinators_blp.alt_response(403, description="The caller is not an admin.")
    def put(self, body: dict[str, Any], coordinator_id: int) -> Coordinator:
        """Set a new password; the coordinator's other sign-ins end."""
        require_admin()
        coordinator = _coordinator(coordinator_id)
        try:
            accounts.set_password(coordinator, body["password"])
        except accounts.AccountError as error:
            refuse(422, str(error), "password")
        audited("coordinator.password", "coordinator", coordinator.id)
        get_session().commit()
        return coordinator


@coordinators_blp.route("/<id:coordinator_id>/groups")
class HandOver(MethodView):
    @coordinators_blp.arguments(HandOverSchema)
    @coordinators_blp.response(200, CoordinatorSchema)
    @coordinators_blp.alt_response(403, description="The caller is not an admin.")
    def post(self, body: dict[str, Any], coordinator_id: int) -> Coordinator:
        """Hand a group to this coordinator: they see it, its present coordinator no longer."""
        require_admin()
        session = get_session()
        coordinator = _coordinator(coordinator_id)
        group = session.get(Group, body["group_id"])
        if group is None:
            not_found(f"group {body['group_id']}")
        before = group.coordinator.email
        try:
            accounts.hand_over(group, coordinator)
        except accounts.AccountError as error:
            refuse(422, str(error), "group_id")
        audited("group.hand_over", "group", group.id, coordinator=coordinator.email,
                previous=before)  # fmt: skip
        session.commit()
        session.refresh(coordinator)
        return coordinator


class TokenSchema(Schema):
    id = fields.Integer()
    coordinator_id = fields.Integer()
    name = fields.String()
    prefix = fields.String(metadata={"description": "The token's first characters."})
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class NewTokenSchema(TokenSchema):
    token = fields.String(metadata={"description": "The token itself: shown this once only."})


class TokenInput(Input):
    coordinator_id = id_field(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))


class TokenQuery(Input):
    coordinator_id = id_field()


@tokens_blp.route("")
class Tokens(MethodView):
    @tokens_blp.arguments(TokenQuery, location="query")
    @tokens_blp.response(200, TokenSchema(many=True))
    @tokens_blp.alt_response(403, description="The caller is not an admin.")
    def get(self, query: dict[str, Any]) -> list[ApiToken]:
        """API tokens (of one coordinator, or all), oldest first; never the tokens themselves."""
        require_admin()
        return accounts.list_tokens(get_session(), query.get("coordinator_id"))

    @tokens_blp.arguments(TokenInput)
    @tokens_blp.response(201, NewTokenSchema)
    @tokens_blp.alt_response(403, description="The caller is not an admin.")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Issue a token for a coordinator; the answer holds it, and nothing will again."""
        require_admin()
        session = get_session()
        owner = _coordinator(body["coordinator_id"])
        try:
            token, plain = accounts.issue_token(session, owner, body["name"], app_clock()())
        except accounts.AccountError as error:
            refuse(422, str(error), "name")
        audited("token.create", "apitoken", token.id, coordinator=owner.email, name=token.name)
        session.commit()
        return {**{name: getattr(token, name) for name in TokenSchema().fields}, "token": plain}


@tokens_blp.route("/<id:token_id>/revoke")
class Revoke(MethodView):
    @tokens_blp.response(200, TokenSchema)
    @tokens_blp.alt_response(403, description="The caller is not an admin.")
    def post(self, token_id: int) -> ApiToken:
        """Stop a token working at once (again: no change)."""
        require_admin()
        session = get_session()
        try:
            token = accounts.revoke_token(session, token_id, app_clock()())
        except accounts.AccountError:
            not_found(f"token {token_id}")
        audited("token.revoke", "apitoken", token.id, coordinator=token.coordinator.email,
                name=token.name)  # fmt: skip
        session.commit()
        return token
