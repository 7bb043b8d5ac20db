"""Roster import by upload: a dry run by default, that lists every bad row by line."""

from __future__ import annotations

import logging
from typing import Any

import phonenumbers
from flask import current_app, request
from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy.exc import IntegrityError

from service.clock import app_clock
from service.config import Settings
from service.db import get_session
from service.people.roster import RosterError, parse
from service.people.roster_import import apply_import, plan_import
from service.web.api.auth import Input, api_blueprint, audited, my_group, refuse

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 16 * 1024 * 1024  # some 200,000 rows: far beyond any group's roster

blp = api_blueprint("import", "Enrol a roster from a CSV file: phone, name, language, ...")


@blp.before_request
def _larger_uploads() -> None:
    request.max_content_length = MAX_UPLOAD_BYTES


class ImportQuery(Input):
    apply = fields.Boolean(
        load_default=False, metadata={"description": "Import for real; otherwise a dry run."}
    )
    skip_bad_rows = fields.Boolean(
        load_default=False,
        metadata={"description": "Import the good rows of a file with bad ones."},
    )
    consent_note = fields.String(
        validate=validate.Length(min=1, max=500),
        metadata={"description": "Everyone in the file gave prior written consent, kept here."},
    )
    region = fields.String(
        validate=validate.OneOf(sorted(phonenumbers.SUPPORTED_REGIONS)),
        metadata={"description": "How to read national numbers; the server's default if absent."},
    )


class UploadSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class ProblemSchema(Schema):
    line = fields.Integer(metadata={"description": "As a spreadsheet counts: the header is 1."})
    reason = fields.String()


class NoteSchema(Schema):
    line = fields.Integer(allow_none=True)
    message = fields.String()


class CountsSchema(Schema):
    added = fields.Integer(
        metadata={"description": "New to this group (whether or not known elsewhere)."}
    )
    already_members = fields.Integer()
    kept_opted_out = fields.Integer(metadata={"description": "Opted out: kept so, sent nothing."})
    left_before = fields.Integer(metadata={"description": "Left this group: not added back."})
    invited = fields.Integer(metadata={"description": "Welcome texts asking them to reply YES."})
    consent_recorded = fields.Integer()


class ImportReportSchema(Schema):
    applied = fields.Boolean(metadata={"description": "False: a dry run, nothing written."})
    rows_read = fields.Integer()
    to_import = fields.Integer(metadata={"description": "Distinct good numbers."})
    problems = fields.List(fields.Nested(ProblemSchema), metadata={"description": "Bad rows."})
    notes = fields.List(fields.Nested(NoteSchema))
    counts = fields.Nested(CountsSchema, metadata={"description": "What it does, or would do."})


@blp.route("/<id:group_id>/import")
class Import(MethodView):
    @blp.arguments(ImportQuery, location="query")
    @blp.arguments(UploadSchema, location="files")
    @blp.response(200, ImportReportSchema)
    @blp.alt_response(422, description="An unreadable file, or bad rows and no skip_bad_rows.")
    @blp.alt_response(413, description="A file larger than 16 MB.")
    def post(self, query: dict[str, Any], upload: dict[str, Any], group_id: int) -> Any:
        """Import a CSV roster into a group: a dry run unless apply=true.

        Numbers are normalised (national ones read in region), duplicates merged, and a number
        that opted out stays opted out. New people are invited by text to reply YES, unless
        consent_note records their prior written consent.
        """
        session = get_session()
        group = my_group(group_id)
        settings: Settings = current_app.extensions["peerline.settings"]
        try:
            with upload["file"].stream as file:  # a large upload is spooled to a temporary file
                text = file.read().decode("utf-8-sig")
            parsed = parse(
                text,
                default_region=query.get("region", settings.default_region),
                default_timezone=group.timezone,
                default_language=group.language,
            )
        except UnicodeDecodeError:
            refuse(422, "The file is not UTF-8 text: save it as CSV UTF-8.", "file")
        except RosterError as error:
            refuse(422, f"The file is not a roster: {error}.", "file")
        moment = app_clock()()
        note = " ".join(query["consent_note"].split()) if "consent_note" in query else None
        plan = plan_import(
            session, group, parsed, consent_note=note, hash_key=settings.secret_key, now=moment
        )
        report: dict[str, Any] = {
            "applied": False,
            "rows_read": parsed.rows_read,
            "to_import": len(parsed.rows),
            "problems": parsed.problems,
            "notes": parsed.notes,
            "counts": plan.expected().counts(),
        }
        if not query["apply"]:
            session.rollback()
            return report
        if parsed.problems and not query["skip_bad_rows"]:
            refuse(
                422,
                f"Nothing was imported: {len(parsed.problems)} bad row(s). Fix them, or send "
                "skip_bad_rows=true to import the others.",
                "file",
            )
        try:
            result = apply_import(
                session, plan, wording=current_app.extensions["peerline.wording"], now=moment
            )
            audited(
                "participants.import",
                "group",
                group.id,
                rows=parsed.rows_read,
                bad_rows_skipped=len(parsed.problems),
                **result.counts(),
            )
            session.commit()
        except IntegrityError:
            refuse(409, "Some of these numbers were added by someone else meanwhile; nothing "
                   "was imported. Send the file again.")  # fmt: skip
        log.info("roster imported into %s: %s", group.join_code, result.counts())
        report.update(applied=True, counts=result.counts())
        return report
