"""Participants and their memberships in the caller's groups."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields, validate
from sqlalchemy import ColumnElement, select

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
from service.people import consent
from service.people.erasure import erase_in_groups, erase_participant
from service.people.participants import (
    MAX_NAME,
    MAX_NOTE,
    REACH,
    Details,
    Enrolled,
    ParticipantError,
    enrol,
    remove_from_group,
    update_details,
)
from service.phones import InvalidPhone, mask, normalize
from service.web.api.auth import (
    Cursor,
    Input,
    Keyset,
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

BY_PARTICIPANT = Keyset((Participant.id,))
BY_MEMBERSHIP = Keyset((Membership.id,))


class MembershipSchema(Schema):
    id = fields.Integer()
    group_id = fields.Integer()
    participant_id = fields.Integer()
    name = fields.String(
        allow_none=True, metadata={"description": "This group's name for the person."}
    )
    status = fields.String(validate=validate.OneOf([s.value for s in MembershipStatus]))
    language = fields.String(metadata={"description": "The language this group writes in."})
    timezone = fields.String(metadata={"description": "This group's time zone for the person."})
    channel = fields.String(metadata={"description": "sms or voice: how this group reaches them."})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ParticipantSchema(Schema):
    id = fields.Integer()
    phone = fields.String(metadata={"description": "Masked: +1******4567."})
    name = fields.String(
        allow_none=True, metadata={"description": "The caller's groups' name for the person."}
    )
    language = fields.String(
        metadata={"description": "As the caller's groups reach them (an admin: their own)."}
    )
    timezone = fields.String(
        metadata={"description": "As the caller's groups have it (an admin: their own)."}
    )
    channel = fields.String(
        metadata={"description": "sms or voice, as the caller's groups reach them."}
    )
    consent = fields.String(
        metadata={
            "description": "As far as the caller's groups go: granted (an active member of one "
            "of them), unknown (not yet said YES to them), or revoked (opted out of everything)."
        }
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
    created = fields.Boolean(
        metadata={"description": "True: new in this group; false: a member of it already."}
    )
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
    after = Cursor(int)


class ConsentEventSchema(Schema):
    group_id = fields.Integer(
        allow_none=True,
        metadata={"description": "The caller's group it came through; null: made everywhere."},
    )
    change = fields.String(metadata={"description": "opt_in or opt_out."})
    source = fields.String(
        metadata={"description": "keyword, keypad, coordinator, provider_error or import."}
    )
    words = fields.String(
        allow_none=True,
        metadata={
            "description": "What they said, or the coordinator's note; only for a change that "
            "came through one of the caller's groups."
        },
    )
    created_at = fields.DateTime()


class ErasedSchema(Schema):
    """What the caller's groups held of the person (an admin's: everything)."""

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
    after = Cursor(int)


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


def seen_consent(person: Participant, mine: list[Membership]) -> ConsentState:
    """A person's consent as the caller's groups know it: an opt-out holds everywhere, but a
    YES said to another group is not a YES to these."""
    if person.consent is ConsentState.REVOKED or my_group_ids() is None:
        return person.consent
    if any(m.status is MembershipStatus.ACTIVE for m in mine):
        return person.consent
    return ConsentState.UNKNOWN


def _dump(participants: list[Participant], *, full: bool = False) -> list[dict[str, Any]]:
    memberships = _memberships(participants)
    dumped = []
    for person in participants:
        mine = memberships[person.id]
        row = attributes(person, ParticipantSchema, skip=("memberships", "name", "consent"))
        row["phone"] = mask(person.phone)
        row["name"] = next((m.name for m in mine if m.name), None)
        row["consent"] = seen_consent(person, mine)
        if my_group_ids() is not None and mine:
            # How the caller's groups reach them, not how another group does (or the person's
            # first group set): that would say the number is known elsewhere.
            for field in REACH:
                row[field] = getattr(mine[0], field)
        row["memberships"] = mine
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
        created=enrolled.added,
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
            people = people.where(_consent_seen_as(ConsentState(query["consent"])))
        found = page_of(people, pagination_parameters, BY_PARTICIPANT, query.get("after"))
        return _dump(list(found))

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


def _consent_seen_as(state: ConsentState) -> ColumnElement[bool]:
    """The SQL of seen_consent: people whose consent the caller's groups see as state."""
    if my_group_ids() is None or state is ConsentState.REVOKED:
        return Participant.consent == state
    active_here = (
        select(Membership.id)
        .where(
            Membership.participant_id == Participant.id,
            in_my_groups(Membership.group_id),
            Membership.status == MembershipStatus.ACTIVE,
        )
        .exists()
    )
    if state is ConsentState.GRANTED:
        return (Participant.consent == ConsentState.GRANTED) & active_here
    return (Participant.consent != ConsentState.REVOKED) & (
        (Participant.consent == ConsentState.UNKNOWN) | ~active_here
    )


@participants_blp.route("/<id:participant_id>")
class OneParticipant(MethodView):
    @participants_blp.response(200, ParticipantDetailSchema)
    def get(self, participant_id: int) -> dict[str, Any]:
        """One person, with their full number."""
        return _dump([my_participant(participant_id)], full=True)[0]

    @participants_blp.arguments(DetailsSchema)
    @participants_blp.response(200, ParticipantDetailSchema)
    def patch(self, body: dict[str, Any], participant_id: int) -> dict[str, Any]:
        """Change your groups' name for someone, and how your groups reach them: language,
        time zone, channel.

        The person's own choice (which their other groups, if any, use) changes too only when
        every group they are in is yours, or for an admin; the answer is the same either way.
        """
        session = get_session()
        person = my_participant(participant_id)
        details = _details(body)
        try:
            update_details(
                session,
                person,
                details,
                groups=my_group_ids(),
                now=app_clock()(),
                actor=actor(),
            )
        except ParticipantError as error:
            refuse(422, str(error), error.field)
        session.commit()
        return _dump([person], full=True)[0]

    @participants_blp.response(200, ErasedSchema)
    def delete(self, participant_id: int) -> Any:
        """Erase a person as your groups knew them: number, name and words go; counts and their
        opt-out stay.

        A coordinator erases what their own groups held (the whole person, unless another group
        holds them too, which the answer does not say); an admin erases the whole person.
        """
        session = get_session()
        person = my_participant(participant_id)
        visible = my_group_ids()
        audited("participant.erase", "participant", person.id)
        if visible is None:
            erased = erase_participant(session, person, app_clock()())
        else:
            erased = erase_in_groups(session, person, visible, app_clock()())
        session.commit()
        return erased


@participants_blp.route("/<id:participant_id>/consent")
class ConsentHistory(MethodView):
    @participants_blp.response(200, ConsentEventSchema(many=True))
    @participants_blp.paginate(page_size=50, max_page_size=500)
    def get(
        self, participant_id: int, pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """Their consent ledger as it concerns the caller's groups, oldest first: the changes
        that came through them, with their words, and those made everywhere (STOP, START, a
        carrier's report), without. Read-only, as the law wants it kept."""
        person = my_participant(participant_id)
        visible = my_group_ids()
        events = select(ConsentEvent).where(ConsentEvent.phone_hash == person.phone_hash)
        if visible is not None:
            events = events.where(consent.seen_by(visible))
        shown = []
        for event in page_of(
            events.order_by(ConsentEvent.created_at, ConsentEvent.id), pagination_parameters
        ):
            row = attributes(event, ConsentEventSchema)
            if visible is not None and event.group_id not in visible:
                row["words"] = None  # made everywhere: the person's words are no group's note
            shown.append(row)
        return shown


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
        after = query.pop("after", None)
        rows = filtered(Membership, query)
        return list(page_of(rows, pagination_parameters, BY_MEMBERSHIP, after))

    @memberships_blp.arguments(NewMembershipSchema)
    @memberships_blp.response(201, EnrolledSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add someone already in one of the caller's groups to another of them, under the name
        the caller's groups know them by."""
        person = my_participant(body["participant_id"])
        known_as = next((m.name for m in _memberships([person])[person.id] if m.name), None)
        return _enrol(my_group(body["group_id"]), person.phone, body, Details(name=known_as))


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


class OptOutSchema(Input):
    group_id = id_field(
        required=True, metadata={"description": "The caller's group they asked through."}
    )
    note = fields.String(
        required=True,
        validate=validate.Length(min=1, max=consent.MAX_NOTE),
        metadata={"description": "How and when they asked (in person, by phone)."},
    )


class UndoOptOutSchema(Input):
    note = fields.String(
        required=True,
        validate=validate.Length(min=1, max=consent.MAX_NOTE),
        metadata={"description": "Why the opt-out is undone (recorded by mistake)."},
    )


@participants_blp.route("/<id:participant_id>/opt-out")
class OptOut(MethodView):
    @participants_blp.arguments(OptOutSchema)
    @participants_blp.response(200, ParticipantDetailSchema)
    @participants_blp.alt_response(422, description="No note, or not a member of that group.")
    def post(self, body: dict[str, Any], participant_id: int) -> dict[str, Any]:
        """Record an opt-out the person asked for in person or by phone: nothing more goes out
        to them, from any group. Posting it twice changes nothing more."""
        session = get_session()
        person = my_participant(participant_id)
        group = my_group(body["group_id"])
        if not any(m.group_id == group.id for m in person.memberships):
            refuse(422, "they are not in that group", "group_id")
        try:
            changed = consent.record_opt_out(
                session, person, group_id=group.id, note=body["note"], now=app_clock()()
            )
        except consent.ConsentError as error:
            refuse(422, str(error), "note")
        if changed:
            audited("participant.opt_out", "participant", person.id, group=group.join_code)
        session.commit()
        return _dump([person], full=True)[0]


@participants_blp.route("/<id:participant_id>/undo-opt-out")
class UndoOptOut(MethodView):
    @participants_blp.arguments(UndoOptOutSchema)
    @participants_blp.response(200, ParticipantDetailSchema)
    @participants_blp.alt_response(
        422, description="The latest opt-out is not one a coordinator of the caller's recorded."
    )
    def post(self, body: dict[str, Any], participant_id: int) -> dict[str, Any]:
        """Undo an opt-out a coordinator of the caller's groups recorded (by mistake); their
        consent goes back to what it was. A person's own STOP is theirs to undo (START)."""
        session = get_session()
        person = my_participant(participant_id)
        try:
            consent.undo_opt_out(
                session, person, groups=my_group_ids(), note=body["note"], now=app_clock()()
            )
        except consent.ConsentError as error:
            refuse(422, str(error), "note")
        audited("participant.undo_opt_out", "participant", person.id)
        session.commit()
        return _dump([person], full=True)[0]
