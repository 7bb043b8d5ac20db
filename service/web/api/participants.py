"""Participants and their memberships in the caller's groups."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from service.clock import app_clock
from service.config import Settings
from service.db import get_session
from service.messages.wording import LANGUAGES
from service.models import (
    Channel,
    ConsentEvent,
    ConsentState,
    Group,
    Membership,
    MembershipStatus,
    Participant,
)
from service.people.erasure import erase_participant
from service.people.participants import (
    MAX_NAME,
    MAX_NOTE,
    Details,
    Enrolled,
    ParticipantError,
    enrol,
    remove_from_group,
    update_details,
)
from service.phones import InvalidPhone, mask, normalize
from service.web.api.auth import (
    Input,
    actor,
    api_blueprint,
    attributes,
    audited,
    filtered,
    id_field,
    in_my_groups,
    my_group,
    my_group_ids,
    my_participant,
    one_of_mine,
    page_of,
    refuse,
)

participants_blp = api_blueprint(
    "participants", "People in the caller's groups: enrol, read, update, erase."
)
memberships_blp = api_blueprint("memberships", "Who belongs to which of the caller's groups.")


class MembershipSchema(Schema):
    id = fields.Integer()
    group_id = fields.Integer()
    participant_id = fields.Integer()
    status = fields.String(validate=validate.OneOf([s.value for s in MembershipStatus]))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ParticipantSchema(Schema):
    id = fields.Integer()
    phone = fields.String(metadata={"description": "Masked: +1******4567."})
    name = fields.String(allow_none=True)
    language = fields.String()
    timezone = fields.String()
    channel = fields.String()
    consent = fields.String(
        metadata={"description": "unknown (not yet said YES), granted, or revoked (opted out)."}
    )
    landline = fields.Boolean()
    number_invalid = fields.Boolean()
    created_at = fields.DateTime()
    memberships = fields.List(
        fields.Nested(MembershipSchema),
        metadata={"description": "Memberships in the caller's groups only."},
    )


class ParticipantDetailSchema(ParticipantSchema):
    phone_e164 = fields.String(metadata={"description": "The full number, to call them back."})


class EnrolledSchema(ParticipantDetailSchema):
    created = fields.Boolean(metadata={"description": "False: already known from a group."})
    invited = fields.Boolean(metadata={"description": "A welcome text asks them to reply YES."})
    opted_out = fields.Boolean(
        metadata={"description": "They had opted out: pending until they text START themselves."}
    )


_languages = validate.OneOf(LANGUAGES)
_channels = validate.OneOf([c.value for c in Channel])


class DetailsSchema(Input):
    name = fields.String(allow_none=True, validate=validate.Length(max=MAX_NAME))
    language = fields.String(validate=_languages)
    timezone = fields.String(
        validate=validate.Length(min=1, max=64), metadata={"description": "e.g. America/Chicago"}
    )
    channel = fields.String(validate=_channels)


class NewParticipantSchema(DetailsSchema):
    group_id = id_field(required=True)
    phone = fields.String(required=True, validate=validate.Length(min=1, max=32))
    consent_note = fields.String(
        validate=validate.Length(min=1, max=MAX_NOTE),
        metadata={
            "description": "Prior written consent and where it is kept; without it they are "
            "invited by text to reply YES."
        },
    )


class ParticipantQuery(Input):
    group_id = id_field(metadata={"description": "Only members of this group."})
    status = fields.String(validate=validate.OneOf([s.value for s in MembershipStatus]))
    consent = fields.String(validate=validate.OneOf([c.value for c in ConsentState]))


class ConsentEventSchema(Schema):
    change = fields.String(metadata={"description": "opt_in or opt_out."})
    source = fields.String(
        metadata={"description": "keyword, keypad, coordinator, provider_error or import."}
    )
    words = fields.String(
        allow_none=True, metadata={"description": "What they said, or the coordinator's note."}
    )
    created_at = fields.DateTime()


class ErasedSchema(Schema):
    texts_out = fields.Integer(metadata={"description": "Kept for counts, without words."})
    texts_in = fields.Integer()
    ledger_entries = fields.Integer(metadata={"description": "Kept as a keyed hash."})


class NewMembershipSchema(Input):
    group_id = id_field(required=True)
    participant_id = id_field(required=True)
    consent_note = fields.String(validate=validate.Length(min=1, max=MAX_NOTE))


class MembershipQuery(Input):
    group_id = id_field()
    participant_id = id_field()
    status = fields.String(validate=validate.OneOf([s.value for s in MembershipStatus]))


class RemovedSchema(MembershipSchema):
    withdrawn = fields.Integer(metadata={"description": "Planned texts taken back."})


def _memberships(participants: list[Participant]) -> dict[int, list[Membership]]:
    found: dict[int, list[Membership]] = {p.id: [] for p in participants}
    rows = get_session().scalars(
        select(Membership)
        .where(Membership.participant_id.in_(found), in_my_groups(Membership.group_id))
        .order_by(Membership.group_id)
    )
    for membership in rows:
        found[membership.participant_id].append(membership)
    return found


def _dump(participants: list[Participant], *, full: bool = False) -> list[dict[str, Any]]:
    memberships = _memberships(participants)
    dumped = []
    for person in participants:
        row = attributes(person, ParticipantSchema, skip=("memberships",))
        row["phone"] = mask(person.phone)
        row["memberships"] = memberships[person.id]
        if full:
            row["phone_e164"] = person.phone
        dumped.append(row)
    return dumped


def _details(body: dict[str, Any]) -> Details:
    return Details(
        name=body.get("name"),
        language=body.get("language"),
        timezone=body.get("timezone"),
        channel=Channel(body["channel"]) if "channel" in body else None,
    )


def _enrol(group: Group, phone: str, body: dict[str, Any], details: Details) -> dict[str, Any]:
    session = get_session()
    settings: Settings = current_app.extensions["peerline.settings"]
    try:
        enrolled: Enrolled = enrol(
            session,
            group,
            phone,
            details,
            consent_note=body.get("consent_note"),
            secret_key=settings.secret_key,
            wording=current_app.extensions["peerline.wording"],
            now=app_clock()(),
            actor=actor(),
        )
    except ParticipantError as error:
        refuse(422, str(error), error.field)
    session.commit()
    row = _dump([enrolled.participant], full=True)[0]
    row.update(
        created=enrolled.created,
        invited=enrolled.invitation is not None,
        opted_out=enrolled.opted_out,
    )
    return row


@participants_blp.route("")
class Participants(MethodView):
    @participants_blp.arguments(ParticipantQuery, location="query")
    @participants_blp.response(200, ParticipantSchema(many=True))
    @participants_blp.paginate()
    def get(
        self, query: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """People in the caller's groups (or one of them), by id; phones masked."""
        if "group_id" in query:
            my_group(query["group_id"])
        condition = in_my_groups(Membership.group_id)
        for name in ("group_id", "status"):
            if name in query:
                condition &= getattr(Membership, name) == query[name]
        people = select(Participant).where(
            select(Membership.id)
            .where(Membership.participant_id == Participant.id, condition)
            .exists()
        )
        if "consent" in query:
            people = people.where(Participant.consent == query["consent"])
        return _dump(list(page_of(people.order_by(Participant.id), pagination_parameters)))

    @participants_blp.arguments(NewParticipantSchema)
    @participants_blp.response(201, EnrolledSchema)
    @participants_blp.alt_response(422, description="A bad number, time zone or note.")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Enrol someone in a group: invited to reply YES, or active with a consent note.

        Someone who opted out stays opted out: they are added as pending, and only they can
        opt back in.
        """
        settings: Settings = current_app.extensions["peerline.settings"]
        group = my_group(body["group_id"])  # another's group is a 404 before anything else
        try:
            phone = normalize(body["phone"], settings.default_region)
        except InvalidPhone as error:
            refuse(422, str(error), "phone")
        return _enrol(group, phone, body, _details(body))


@participants_blp.route("/<id:participant_id>")
class OneParticipant(MethodView):
    @participants_blp.response(200, ParticipantDetailSchema)
    def get(self, participant_id: int) -> dict[str, Any]:
        """One person, with their full number."""
        return _dump([my_participant(participant_id)], full=True)[0]

    @participants_blp.arguments(DetailsSchema)
    @participants_blp.response(200, ParticipantDetailSchema)
    def patch(self, body: dict[str, Any], participant_id: int) -> dict[str, Any]:
        """Change a name, language, time zone or channel (texts or calls)."""
        session = get_session()
        person = my_participant(participant_id)
        try:
            update_details(session, person, _details(body), now=app_clock()(), actor=actor())
        except ParticipantError as error:
            refuse(422, str(error), error.field)
        session.commit()
        return _dump([person], full=True)[0]

    @participants_blp.response(200, ErasedSchema)
    @participants_blp.alt_response(409, description="They are also in a group the caller "
                                   "does not run: an admin must erase them.")  # fmt: skip
    def delete(self, participant_id: int) -> Any:
        """Erase a person: number, name and words go; counts and their opt-out stay."""
        session = get_session()
        person = my_participant(participant_id)
        visible = my_group_ids()
        if visible is not None:
            groups = set(
                session.scalars(
                    select(Membership.group_id).where(Membership.participant_id == person.id)
                )
            )
            if not groups <= visible:
                refuse(409, "This person is also in a group you do not run; an admin can erase "
                       "them.")  # fmt: skip
        audited("participant.erase", "participant", person.id)
        erased = erase_participant(session, person, app_clock()())
        session.commit()
        return erased


@participants_blp.route("/<id:participant_id>/consent")
class ConsentHistory(MethodView):
    @participants_blp.response(200, ConsentEventSchema(many=True))
    def get(self, participant_id: int) -> list[ConsentEvent]:
        """Their consent ledger, oldest first: read-only, as the law wants it kept."""
        person = my_participant(participant_id)
        return list(
            get_session().scalars(
                select(ConsentEvent)
                .where(ConsentEvent.phone_hash == person.phone_hash)
                .order_by(ConsentEvent.created_at, ConsentEvent.id)
            )
        )


def _my_membership(membership_id: int) -> Membership:
    return one_of_mine(Membership, membership_id, "membership")


@memberships_blp.route("")
class Memberships(MethodView):
    @memberships_blp.arguments(MembershipQuery, location="query")
    @memberships_blp.response(200, MembershipSchema(many=True))
    @memberships_blp.paginate()
    def get(
        self, query: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[Membership]:
        """Memberships in the caller's groups, filtered by group, person or status."""
        rows = filtered(Membership, query)
        return list(page_of(rows.order_by(Membership.id), pagination_parameters))

    @memberships_blp.arguments(NewMembershipSchema)
    @memberships_blp.response(201, EnrolledSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add someone already in one of the caller's groups to another of them."""
        person = my_participant(body["participant_id"])
        return _enrol(my_group(body["group_id"]), person.phone, body, Details())


@memberships_blp.route("/<id:membership_id>")
class OneMembership(MethodView):
    @memberships_blp.response(200, MembershipSchema)
    def get(self, membership_id: int) -> Membership:
        """One membership."""
        return _my_membership(membership_id)

    @memberships_blp.response(200, RemovedSchema)
    def delete(self, membership_id: int) -> dict[str, Any]:
        """Take someone out of a group (they stay on record, as having left)."""
        session = get_session()
        membership = _my_membership(membership_id)
        withdrawn = remove_from_group(session, membership, now=app_clock()(), actor=actor())
        session.commit()
        row = attributes(membership, MembershipSchema)
        row["withdrawn"] = withdrawn
        return row
