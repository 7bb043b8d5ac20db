"""Campaigns: reminders before meetings, encouragement between them, and broadcasts."""

from __future__ import annotations

from typing import Any, TypeVar

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields, validate

from service.campaigns.campaigns import (
    LAST_STAGE_DAY,
    LONGEST_WINDOW_HOURS,
    MAX_NAME,
    CampaignChanges,
    CampaignError,
    CampaignSpec,
    create_campaign,
    delete_campaign,
    live_campaigns,
    set_campaign_status,
    update_campaign,
)
from service.campaigns.preview import MAX_DAYS as MAX_PREVIEW_DAYS
from service.campaigns.preview import (
    MAX_SAMPLE,
    SAMPLE,
    PreviewLine,
    PreviewSummary,
    Reader,
    every_line,
    page_of_lines,
    preview_as,
    preview_draft_as,
    summary,
)
from service.campaigns.wording import WordingError, check_template, discretion_warnings
from service.clock import app_clock
from service.db import get_session
from service.messages.wording import LANGUAGES
from service.models import Campaign, CampaignKind, CampaignStatus, Group
from service.web.api.auth import (
    Input,
    WordsSchema,
    actor,
    api_blueprint,
    attributes,
    filtered,
    id_field,
    in_my_groups,
    my_group,
    not_found,
    page_of,
    refuse,
)

blp = api_blueprint("campaigns", "Reminders, encouragement and broadcasts, with a preview.")

_kinds = validate.OneOf([k.value for k in CampaignKind])
_languages = validate.OneOf(LANGUAGES)

T = TypeVar("T")


class CampaignFields(Input):
    """What a coordinator writes into a campaign, creating it or changing it."""

    name = fields.String(validate=validate.Length(min=1, max=MAX_NAME))
    offsets = fields.List(
        fields.String(validate=validate.Length(min=1, max=20)),
        validate=validate.Length(max=10),
        metadata={"description": 'Reminder: when, before each meeting: "2h", "30m", "1d@18:00".'},
    )
    rsvp = fields.Boolean(metadata={"description": "Reminder: ask C to confirm, N if not."})
    wording = fields.Dict(
        keys=fields.String(validate=_languages),
        # No length here: the one rule for outgoing words measures the text once filled in.
        values=fields.String(validate=validate.Length(min=1)),
        metadata={
            "description": "Reminder or broadcast: the group's own words per language, with "
            "variables such as {{ first_name }} and {{ meeting_when }}; without them, the "
            "discreet default."
        },
    )
    pools = fields.Dict(
        keys=fields.String(validate=_languages),
        values=fields.List(fields.String(validate=validate.Length(min=1))),
        metadata={"description": "Encouragement: messages per language, one is picked each time."},
    )
    cadence = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": 'Encouragement: an RRULE, e.g. "FREQ=WEEKLY;BYDAY=WE".'},
    )
    at = fields.Time(
        allow_none=True, metadata={"description": "Encouragement: local time of day (12:00)."}
    )
    stages = fields.List(
        fields.Integer(validate=validate.Range(min=0, max=LAST_STAGE_DAY)),
        validate=validate.Length(max=50),
        metadata={"description": "Encouragement: days since joining, e.g. [1, 3, 7, 14]."},
    )
    window_hours = fields.Integer(
        validate=validate.Range(min=1, max=LONGEST_WINDOW_HOURS),
        metadata={"description": "Encouragement: how long a text stays worth sending."},
    )
    send_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "Broadcast: when, with its zone; now if absent."}
    )


class CampaignSchema(CampaignFields):
    id = fields.Integer(dump_only=True)
    group_id = id_field(required=True)
    kind = fields.String(required=True, validate=_kinds)
    name = fields.String(required=True, validate=validate.Length(min=1, max=MAX_NAME))
    status = fields.String(dump_only=True, metadata={"description": "active or paused."})
    created_at = fields.DateTime(dump_only=True)


class CampaignChangesSchema(CampaignFields):
    """Only what changes: a language's wording or pool replaces that language's, offsets and
    stages the whole list. An empty wording goes back to the discreet default."""

    kind = fields.String(
        validate=_kinds, metadata={"description": "A campaign's kind cannot change."}
    )
    wording = fields.Dict(
        keys=fields.String(validate=_languages),
        values=fields.String(),
        metadata={"description": "Reminder or broadcast: words per language; empty: default."},
    )
    cadence = fields.String(
        validate=validate.Length(min=1, max=500),
        metadata={"description": "Encouragement: an RRULE; replaces stages."},
    )
    at = fields.Time(metadata={"description": "Encouragement: local time of day."})
    stages = fields.List(
        fields.Integer(validate=validate.Range(min=0, max=LAST_STAGE_DAY)),
        validate=validate.Length(min=1, max=50),
        metadata={"description": "Encouragement: days since joining; replaces a cadence."},
    )
    send_at = fields.AwareDateTime(
        metadata={"description": "Broadcast: its new time, with its zone, not in the past."}
    )


class CreatedSchema(CampaignSchema):
    warnings = fields.List(
        fields.String(), dump_only=True, metadata={"description": "e.g. a text of 2 segments."}
    )
    words = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(WordsSchema),
        dump_only=True,
        metadata={
            "description": "Per language of the campaign's own wording, what one text costs: "
            "characters, segments, encoding, and the character that makes it UCS-2."
        },
    )


class CampaignChangedSchema(CampaignSchema):
    withdrawn = fields.Integer(
        dump_only=True, metadata={"description": "Planned texts taken back."}
    )


class CampaignEditedSchema(CreatedSchema):
    withdrawn = fields.Integer(
        dump_only=True,
        metadata={"description": "Planned texts taken back: their time no longer fits."},
    )
    reworded = fields.Integer(
        dump_only=True,
        metadata={"description": "Planned texts already worded, to go in the new words."},
    )


class CampaignQuery(Input):
    group_id = id_field()
    kind = fields.String(validate=_kinds)
    status = fields.String(validate=validate.OneOf([s.value for s in CampaignStatus]))


class PreviewQuery(Input):
    days = fields.Integer(load_default=7, validate=validate.Range(min=1, max=MAX_PREVIEW_DAYS))


class SummaryQuery(PreviewQuery):
    sample = fields.Integer(
        load_default=SAMPLE,
        validate=validate.Range(min=0, max=MAX_SAMPLE),
        metadata={"description": "How many of the first sends to word, as lines."},
    )


class PreviewSchema(Schema):
    due_at = fields.DateTime()
    local = fields.String(metadata={"description": "When, where the recipients live."})
    timezone = fields.String()
    kind = fields.String()
    campaign_id = fields.Integer(allow_none=True)
    text = fields.String(metadata={"description": "Exactly the words that will go."})
    segments = fields.Integer()
    note = fields.String(metadata={"description": "Why it moved or will not go; else empty."})
    recipients = fields.Integer()
    names = fields.List(fields.String())


class HourSchema(Schema):
    starts_at = fields.DateTime(metadata={"description": "The first planned moment in the hour."})
    local = fields.String(
        metadata={"description": 'The hour where they live: "Tue 2026-03-03 17:00".'}
    )
    timezone = fields.String()
    texts = fields.Integer()
    calls = fields.Integer()
    moved = fields.Integer(
        metadata={"description": "Of these, moved from their time by quiet hours."}
    )
    expiring = fields.Integer(
        metadata={"description": "Besides them: planned, but expire at this hour unsent."}
    )


class PreviewSummarySchema(Schema):
    start = fields.DateTime(metadata={"description": "The preview's window: from now..."})
    end = fields.DateTime(metadata={"description": "...to `days` days ahead."})
    texts = fields.Integer(metadata={"description": "Texts that will go."})
    calls = fields.Integer(metadata={"description": "Calls that will be made."})
    people = fields.Integer(metadata={"description": "People who get at least one of them."})
    moved = fields.Integer(metadata={"description": "Texts and calls moved by quiet hours."})
    right_away = fields.Integer(
        metadata={"description": "Texts and calls whose moment has passed: they go at once."}
    )
    expiring = fields.Integer(
        metadata={"description": "Planned, but will not go: no useful time is left."}
    )
    sends = fields.Integer(
        metadata={
            "description": "Every planned send shown (texts, calls, expiring): the "
            "`total` the full list's X-Pagination header gives."
        }
    )
    hours = fields.List(
        fields.Nested(HourSchema),
        metadata={"description": "Hour by hour where the recipients live, in time order."},
    )
    sample = fields.List(
        fields.Nested(PreviewSchema),
        metadata={
            "description": "The first `sample` sends, worded and made lines as the full list's."
        },
    )


def _dump(campaign: Campaign) -> dict[str, Any]:
    row = attributes(campaign, CampaignSchema, skip=("pools", "at", "window_hours"))
    row["at"] = campaign.cadence_time
    row["window_hours"] = campaign.window_minutes // 60
    if campaign.kind is CampaignKind.ENCOURAGEMENT:  # its wording holds the pools' lines
        row["pools"] = {lang: text.split("\n") for lang, text in campaign.wording.items()}
        row["wording"] = {}
    return row


def _spec(body: dict[str, Any]) -> CampaignSpec:
    return CampaignSpec(
        kind=CampaignKind(body["kind"]),
        name=body["name"],
        offsets=body.get("offsets", []),
        rsvp=body.get("rsvp", False),
        wording=body.get("wording", {}),
        pools=body.get("pools", {}),
        cadence=body.get("cadence"),
        at=body.get("at"),
        stages=body.get("stages", []),
        window_hours=body.get("window_hours", 12),
        send_at=body.get("send_at"),
    )


def _changes(body: dict[str, Any]) -> CampaignChanges:
    kind = CampaignKind(body["kind"]) if "kind" in body else None
    return CampaignChanges(**{**body, "kind": kind})


def _my_campaign(campaign_id: int) -> Campaign:
    """One of the caller's groups' campaigns, not deleted, or 404."""
    found = get_session().scalar(
        live_campaigns().where(Campaign.id == campaign_id, in_my_groups(Campaign.group_id))
    )
    if found is None:
        not_found(f"campaign {campaign_id}")
    return found


@blp.route("")
class Campaigns(MethodView):
    @blp.arguments(CampaignQuery, location="query")
    @blp.response(200, CampaignSchema(many=True))
    @blp.paginate()
    def get(
        self, query: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """The caller's groups' campaigns, oldest first."""
        rows = filtered(Campaign, query).where(Campaign.deleted_at.is_(None))
        return [_dump(c) for c in page_of(rows.order_by(Campaign.id), pagination_parameters)]

    @blp.arguments(CampaignSchema)
    @blp.response(201, CreatedSchema)
    @blp.alt_response(422, description="Something the campaign needs is missing or wrong.")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a campaign; the planner takes it from there (see its preview)."""
        session = get_session()
        group: Group = my_group(body["group_id"])
        try:
            campaign, warnings, words = create_campaign(
                session, group, _spec(body), now=app_clock()(), actor=actor()
            )
        except CampaignError as error:
            refuse(422, f"{str(error).rstrip('.')}.", error.field)
        session.commit()
        return {**_dump(campaign), "warnings": warnings, "words": words}


@blp.route("/<id:campaign_id>")
class OneCampaign(MethodView):
    @blp.response(200, CampaignSchema)
    def get(self, campaign_id: int) -> dict[str, Any]:
        """One campaign."""
        return _dump(_my_campaign(campaign_id))

    @blp.arguments(CampaignChangesSchema)
    @blp.response(200, CampaignEditedSchema)
    @blp.alt_response(422, description="The change is refused; nothing changed.")
    def patch(self, body: dict[str, Any], campaign_id: int) -> dict[str, Any]:
        """Change a campaign, checked as creating one is; its kind cannot change.

        Planned texts whose time no longer fits are withdrawn and the planner plans the new
        ones; texts not yet gone go in the new words. What went is never touched.
        """
        session = get_session()
        campaign = _my_campaign(campaign_id)
        try:
            edit = update_campaign(
                session, campaign, _changes(body), now=app_clock()(), actor=actor()
            )
        except CampaignError as error:
            refuse(422, f"{str(error).rstrip('.')}.", error.field)
        session.commit()
        return {
            **_dump(campaign),
            "warnings": edit.warnings,
            "words": edit.words,
            "withdrawn": edit.withdrawn,
            "reworded": edit.reworded,
        }

    @blp.response(204)
    def delete(self, campaign_id: int) -> None:
        """Delete a campaign: what it planned is withdrawn; what it sent stays in the outbox and
        the counts. Afterwards it is not found."""
        session = get_session()
        delete_campaign(session, _my_campaign(campaign_id), now=app_clock()(), actor=actor())
        session.commit()


@blp.route("/<id:campaign_id>/preview")
class Preview(MethodView):
    @blp.arguments(PreviewQuery, location="query")
    @blp.response(200, PreviewSchema(many=True))
    @blp.paginate(page_size=50, max_page_size=500)
    def get(
        self, query: dict[str, Any], campaign_id: int, pagination_parameters: PaginationParameters
    ) -> list[PreviewLine]:
        """Exactly what this campaign will send in the next `days` days, and when; sends nothing.

        Paged by planned send (one person, one moment): a page of `page_size` sends in time
        order, those with the same words at the same moment in the same zone made one line,
        so a line may go on over the next page. X-Pagination's `total` counts sends. For the
        counts at a glance, see `preview/summary`.
        """
        session = get_session()
        campaign = _my_campaign(campaign_id)
        group = session.get_one(Group, campaign.group_id)
        page = preview_as(
            page_of_lines(pagination_parameters.first_item, pagination_parameters.page_size),
            session,
            group,
            app_clock()(),
            query["days"],
            campaign_id=campaign.id,
        )
        pagination_parameters.item_count = page.total
        return page.lines

    @blp.arguments(CampaignChangesSchema)
    @blp.arguments(PreviewQuery, location="query")
    @blp.response(200, PreviewSchema(many=True))
    @blp.alt_response(422, description="The change would be refused.")
    def post(
        self, body: dict[str, Any], query: dict[str, Any], campaign_id: int
    ) -> list[PreviewLine]:
        """What this campaign would send with these changes, before they are saved.

        The change is made and planned as a save would, then rolled back: nothing changes.
        """
        return _with_changes(every_line, campaign_id, body, query["days"])


@blp.route("/preview")
class DraftPreview(MethodView):
    @blp.arguments(CampaignSchema)
    @blp.arguments(PreviewQuery, location="query")
    @blp.response(200, PreviewSchema(many=True))
    @blp.alt_response(422, description="The campaign would be refused.")
    def post(self, body: dict[str, Any], query: dict[str, Any]) -> list[PreviewLine]:
        """What a campaign not yet created would send in the next `days` days; saves nothing.

        It is created and planned as a save would, then rolled back.
        """
        return _draft(every_line, my_group(body["group_id"]), query["days"], spec=_spec(body))


@blp.route("/<id:campaign_id>/preview/summary")
class PreviewSummaryOf(MethodView):
    @blp.arguments(SummaryQuery, location="query")
    @blp.response(200, PreviewSummarySchema)
    def get(self, query: dict[str, Any], campaign_id: int) -> PreviewSummary:
        """What this campaign will send in the next `days` days, counted: how many texts and
        calls, to how many people, hour by hour where they live, with quiet hours' moves and
        expiries; and the first sends, worded. Costs the same for a group of ten as of many
        thousands, but for the planning itself; sends nothing."""
        session = get_session()
        campaign = _my_campaign(campaign_id)
        group = session.get_one(Group, campaign.group_id)
        return preview_as(
            summary(query["sample"]),
            session,
            group,
            app_clock()(),
            query["days"],
            campaign_id=campaign.id,
        )

    @blp.arguments(CampaignChangesSchema)
    @blp.arguments(SummaryQuery, location="query")
    @blp.response(200, PreviewSummarySchema)
    @blp.alt_response(422, description="The change would be refused.")
    def post(self, body: dict[str, Any], query: dict[str, Any], campaign_id: int) -> PreviewSummary:
        """What this campaign would send with these changes, counted, before they are saved.

        The change is made and planned as a save would, then rolled back: nothing changes.
        """
        return _with_changes(summary(query["sample"]), campaign_id, body, query["days"])


@blp.route("/preview/summary")
class DraftPreviewSummary(MethodView):
    @blp.arguments(CampaignSchema)
    @blp.arguments(SummaryQuery, location="query")
    @blp.response(200, PreviewSummarySchema)
    @blp.alt_response(422, description="The campaign would be refused.")
    def post(self, body: dict[str, Any], query: dict[str, Any]) -> PreviewSummary:
        """What a campaign not yet created would send in the next `days` days, counted; saves
        nothing. It is created and planned as a save would, then rolled back."""
        group = my_group(body["group_id"])
        return _draft(summary(query["sample"]), group, query["days"], spec=_spec(body))


def _with_changes(read: Reader[T], campaign_id: int, body: dict[str, Any], days: int) -> T:
    """read of what this campaign would send with body's changes, saved and rolled back."""
    group = get_session().get_one(Group, _my_campaign(campaign_id).group_id)
    return _draft(read, group, days, campaign_id=campaign_id, changes=_changes(body))


def _draft(
    read: Reader[T],
    group: Group,
    days: int,
    *,
    spec: CampaignSpec | None = None,
    campaign_id: int | None = None,
    changes: CampaignChanges | None = None,
) -> T:
    """read of a draft's preview (see preview_draft_as); a draft the save would refuse, 422."""
    try:
        return preview_draft_as(
            read,
            get_session(),
            group,
            app_clock()(),
            days,
            spec=spec,
            campaign_id=campaign_id,
            changes=changes,
        )
    except CampaignError as error:
        refuse(422, f"{str(error).rstrip('.')}.", error.field)


class WordingCheckSchema(Input):
    group_id = id_field(required=True)
    kind = fields.String(required=True, validate=_kinds)
    language = fields.String(load_default="en", validate=_languages)
    text = fields.String(
        required=True,
        validate=validate.Length(min=1, max=5000),
        metadata={"description": "The words; for encouragement, one message."},
    )
    topic_words = fields.List(
        fields.String(validate=validate.Length(min=1, max=60)),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "Words to warn of, besides the group's own topic words."},
    )


class WordingCheckedSchema(Schema):
    sample = fields.String(metadata={"description": "The text as it reads for a sample person."})
    words = fields.Nested(WordsSchema)
    warnings = fields.List(
        fields.String(),
        metadata={"description": "e.g. the group's internal name or a topic word is in it."},
    )


@blp.route("/wording-check")
class WordingCheck(MethodView):
    @blp.arguments(WordingCheckSchema)
    @blp.response(200, WordingCheckedSchema)
    @blp.alt_response(422, description="The words would be refused (the same check as a save).")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Check words before they are saved: their cost, and what a lock screen would show."""
        group: Group = my_group(body["group_id"])
        try:
            checked = check_template(
                body["text"], meeting=body["kind"] == "reminder", language=body["language"]
            )
        except WordingError as error:
            refuse(422, str(error), "text")
        words = [*group.topic_words, *body["topic_words"]]
        return {
            "sample": checked.sample,
            "words": checked.count,
            "warnings": discretion_warnings(
                body["text"], internal_name=group.name, topic_words=words
            ),
        }


def _set(campaign_id: int, status: CampaignStatus) -> dict[str, Any]:
    session = get_session()
    campaign = _my_campaign(campaign_id)
    withdrawn = set_campaign_status(session, campaign, status, now=app_clock()(), actor=actor())
    session.commit()
    return {**_dump(campaign), "withdrawn": withdrawn}


@blp.route("/<id:campaign_id>/pause")
class Pause(MethodView):
    @blp.response(200, CampaignChangedSchema)
    def post(self, campaign_id: int) -> dict[str, Any]:
        """Pause: nothing more of it goes until resumed; what was planned is taken back."""
        return _set(campaign_id, CampaignStatus.PAUSED)


@blp.route("/<id:campaign_id>/resume")
class Resume(MethodView):
    @blp.response(200, CampaignChangedSchema)
    def post(self, campaign_id: int) -> dict[str, Any]:
        """Resume a paused campaign; the planner plans its next sends."""
        return _set(campaign_id, CampaignStatus.ACTIVE)
