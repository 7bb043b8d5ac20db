"""The coordinators' REST API at /api/v1.

Bearer tokens (`peerline tokens create`) identify a coordinator; every object is checked
against the groups they may see, and anything else is a 404, exactly as if it did not exist.
Requests are validated with marshmallow (through flask-smorest and webargs), and the OpenAPI 3
document is generated from the same schemas, at /api/v1/openapi.json. Errors have one shape:
`{"error": "Not Found", "message": "...", "details": {...}}`.
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api
from marshmallow import Schema, fields

from service.api import audit, groups, imports, inbox, outbox, participants


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


def init_app(app: Flask) -> None:
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
    api = PeerlineApi(app)
    api.register_blueprint(groups.blp, url_prefix="/api/v1/groups")
    api.register_blueprint(imports.blp, url_prefix="/api/v1/groups")
    api.register_blueprint(participants.participants_blp, url_prefix="/api/v1/participants")
    api.register_blueprint(participants.memberships_blp, url_prefix="/api/v1/memberships")
    api.register_blueprint(outbox.blp, url_prefix="/api/v1/outbox")
    api.register_blueprint(inbox.blp, url_prefix="/api/v1/inbox")
    api.register_blueprint(audit.blp, url_prefix="/api/v1/audit")
