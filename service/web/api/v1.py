"""The coordinators' REST API at /api/v1.

Bearer tokens (`peerline tokens create`) identify a coordinator; every object is checked
against the groups they may see, and anything else is a 404, exactly as if it did not exist.
Requests are validated with marshmallow (through flask-smorest and webargs), and the OpenAPI 3
document is generated from the same schemas, at /api/v1/openapi.json, and shown at /api/v1/docs.
Errors have one shape: `{"error": "Not Found", "message": "...", "details": {...}}`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask
from flask_smorest import Api
from marshmallow import Schema, fields

from service.web.api import (
    accounts,
    audit,
    campaigns,
    docs,
    groups,
    imports,
    inbox,
    meetings,
    outbox,
    participants,
)
from service.web.api.auth import MAX_ID, Cursor, IdConverter, LocalDateTime, PagingSchema


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "The HTTP status, in words."})
    message = fields.String(required=True, metadata={"description": "What went wrong."})
    details = fields.Dict(
        metadata={"description": "Per-field problems of a request that failed validation."}
    )


class PeerlineApi(Api):  # type: ignore[misc]
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        """The app's own handler answers every error, in the one shape above."""

    def _register_pagination_header(self) -> None:
        # The header's value is a JSON object: say so, so clients and checkers can read it.
        self.spec.components.header(
            "PAGINATION",
            {
                "description": "Pagination metadata, as JSON.",
                "content": {"application/json": {"schema": PagingSchema}},
            },
            lazy=True,
        )


def _id_parameter(_converter: Any) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def init_app(app: Flask) -> list[Blueprint]:
    """Serve the API and its OpenAPI document; returns the API's blueprints."""
    app.config.update(
        API_TITLE="Peerline",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": __doc__},
            "security": [{"bearer": []}],
            "components": {
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "description": "An API token."}
                }
            },
        },
    )
    app.url_map.converters["id"] = IdConverter
    api = PeerlineApi(app)
    api.register_converter(IdConverter, _id_parameter)
    api.register_field(LocalDateTime, "string", None)
    api.register_field(Cursor, "string", None)
    blueprints = [
        (groups.blp, "/api/v1/groups"),
        (meetings.blp, "/api/v1/groups"),
        (imports.blp, "/api/v1/groups"),
        (participants.participants_blp, "/api/v1/participants"),
        (participants.memberships_blp, "/api/v1/memberships"),
        (campaigns.blp, "/api/v1/campaigns"),
        (outbox.blp, "/api/v1/outbox"),
        (inbox.blp, "/api/v1/inbox"),
        (audit.blp, "/api/v1/audit"),
        (accounts.coordinators_blp, "/api/v1/coordinators"),
        (accounts.tokens_blp, "/api/v1/tokens"),
    ]
    for blueprint, prefix in blueprints:
        api.register_blueprint(blueprint, url_prefix=prefix)
    app.register_blueprint(docs.bp)
    return [blueprint for blueprint, _ in blueprints]
