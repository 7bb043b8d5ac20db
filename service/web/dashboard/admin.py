"""Admins' pages: coordinators (add, disable, enable, a new password, the groups each runs),
API tokens, and the audit log. Anyone else is answered 404, as if the pages did not exist.

Each page calls the same account functions as `peerline coordinators ...` and `tokens ...`,
and the audit log is read as GET /api/v1/audit reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_smorest.pagination import PaginationParameters
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import (
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from service.clock import app_clock
from service.db import get_session
from service.models import ApiToken, Coordinator, Group, Role
from service.people import accounts, audit
from service.text import sentence_of
from service.web.api.auth import page_of
from service.web.dashboard import login
from service.web.dashboard.forms import form_status
from service.web.dashboard.translated import translated
from service.web.dashboard.views import bp

P = ParamSpec("P")
R = TypeVar("R")
AUDIT_PAGE = 50


def admins_only(view: Callable[P, R]) -> Callable[P, R]:
    """A page for admins; to anyone else it does not exist."""

    @wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        if login.me().role is not Role.ADMIN:
            abort(404)
        return view(*args, **kwargs)

    return guarded


def _record(action: str, target: Coordinator | ApiToken | Group, **details: Any) -> None:
    audit.record(
        get_session(),
        actor=f"web:{login.me().email}",
        action=action,
        now=app_clock()(),
        target_type=type(target).__name__.lower(),
        target_id=target.id,
        **details,
    )


def _coordinator(coordinator_id: int) -> Coordinator:
    found = get_session().get(Coordinator, coordinator_id)
    if found is None:
        abort(404)
    return found


# -- coordinators -------------------------------------------------------------------------------


class NewCoordinatorForm(FlaskForm):  # type: ignore[misc]
    email = EmailField(
        _l("Email"),
        validators=[InputRequired(), Length(max=254)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=120)])
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice(Role.COORDINATOR.value, _l("Coordinator: sees the groups they run")),
            SelectChoice(Role.ADMIN.value, _l("Admin: sees every group and these pages")),
        ],
    )
    password = PasswordField(
        _l("First password"),
        validators=[InputRequired(), Length(max=1024)],
        description=_l("At least 12 characters. Tell them it, and ask them to change it."),
        render_kw={"autocomplete": "new-password"},
    )


class NewPasswordForm(FlaskForm):  # type: ignore[misc]
    password = PasswordField(
        _l("New password"),
        validators=[InputRequired(), Length(max=1024)],
        description=_l("At least 12 characters. Their other sign-ins end."),
        render_kw={"autocomplete": "new-password"},
    )


class HandOverForm(FlaskForm):  # type: ignore[misc]
    group = SelectField(_l("Group"), validate_choice=True)


def _coordinators_page(form: NewCoordinatorForm) -> tuple[str, int]:
    rows = accounts.coordinators_and_groups(get_session())
    page = render_template(
        "dashboard/admin/coordinators.html", rows=rows, form=form, now=app_clock()(),
        is_locked=accounts.is_locked,
    )  # fmt: skip
    return page, form_status()


@bp.route("/admin/coordinators", methods=["GET", "POST"])
@admins_only
def coordinators() -> Response | tuple[str, int]:
    form = NewCoordinatorForm()
    if not form.validate_on_submit():
        return _coordinators_page(form)
    session = get_session()
    try:
        coordinator = accounts.create_coordinator(
            session,
            email=form.email.data,
            name=form.name.data,
            role=Role(form.role.data),
            password=form.password.data,
            now=app_clock()(),
        )
    except accounts.AccountError as error:
        session.rollback()
        message = sentence_of(error)
        field = form.password if "password" in message else form.email
        if "name" in message and "email" not in message:
            field = form.name
        field.errors = [translated(message)]
        return _coordinators_page(form)
    _record("coordinator.create", coordinator, role=coordinator.role.value, password=True)
    session.commit()
    flash(_("%(email)s can now sign in.", email=coordinator.email), "success")
    return redirect(url_for("dashboard.coordinator", coordinator_id=coordinator.id))


def _coordinator_page(
    coordinator: Coordinator,
    password_form: NewPasswordForm | None = None,
    hand_over_form: HandOverForm | None = None,
) -> tuple[str, int]:
    session = get_session()
    runs = [
        group
        for group in session.scalars(select(Group).order_by(Group.public_name, Group.id))
        if group.coordinator_id == coordinator.id
    ]
    others = session.scalars(
        select(Group)
        .where(Group.coordinator_id != coordinator.id)
        .order_by(Group.public_name, Group.id)
    ).all()
    hand_over_form = hand_over_form or HandOverForm(formdata=None)
    hand_over_form.group.choices = [
        (
            g.id,
            f"{g.public_name} ({g.name}), {_('now run by %(email)s', email=g.coordinator.email)}",
        )
        for g in others
    ]
    page = render_template(
        "dashboard/admin/coordinator.html",
        coordinator=coordinator,
        runs=runs,
        sees_all=coordinator.role is Role.ADMIN,
        password_form=password_form or NewPasswordForm(formdata=None),
        hand_over_form=hand_over_form,
        tokens=accounts.list_tokens(session, coordinator.id),
    )
    return page, form_status()


@bp.get("/admin/coordinators/<int:coordinator_id>")
@admins_only
def coordinator(coordinator_id: int) -> Response | tuple[str, int]:
    return _coordinator_page(_coordinator(coordinator_id))


@bp.post("/admin/coordinators/<int:coordinator_id>/password")
@admins_only
def coordinator_password(coordinator_id: int) -> Response | tuple[str, int]:
    coordinator = _coordinator(coordinator_id)
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.set_password(coordinator, form.password.data)
        except accounts.AccountError as error:
            form.password.errors = [translated(error)]
        else:
            _record("coordinator.password", coordinator)
            get_session().commit()
            if coordinator.id == login.me().id:
                login.start(coordinator, app_clock()())  # this sign-in stays
            flash(_("%(email)s has a new password.", email=coordinator.email), "success")
            return redirect(url_for("dashboard.coordinator", coordinator_id=coordinator.id))
    get_session().rollback()
    return _coordinator_page(coordinator, password_form=form)


@bp.post("/admin/coordinators/<int:coordinator_id>/disable")
@admins_only
def coordinator_disable(coordinator_id: int) -> Response:
    coordinator = _coordinator(coordinator_id)
    if coordinator.id == login.me().id:
        flash(_("You cannot disable your own account."), "error")
    else:
        accounts.disable(coordinator)
        _record("coordinator.disable", coordinator)
        get_session().commit()
        flash(
            _("%(email)s is disabled: their password and API tokens no longer work.",
              email=coordinator.email),
            "success",
        )  # fmt: skip
    return redirect(url_for("dashboard.coordinators"))


@bp.post("/admin/coordinators/<int:coordinator_id>/enable")
@admins_only
def coordinator_enable(coordinator_id: int) -> Response:
    coordinator = _coordinator(coordinator_id)
    accounts.enable(coordinator)
    _record("coordinator.enable", coordinator)
    get_session().commit()
    flash(_("%(email)s can sign in again.", email=coordinator.email), "success")
    return redirect(url_for("dashboard.coordinators"))


@bp.post("/admin/coordinators/<int:coordinator_id>/groups")
@admins_only
def coordinator_groups(coordinator_id: int) -> Response | tuple[str, int]:
    coordinator = _coordinator(coordinator_id)
    session = get_session()
    form = HandOverForm()
    form.group.choices = [SelectChoice(str(g)) for g in session.scalars(select(Group.id))]
    if form.validate_on_submit():
        group = session.get(Group, int(form.group.data))
        assert group is not None  # validate_choice: one of the groups
        before = group.coordinator.email
        try:
            accounts.hand_over(group, coordinator)
        except accounts.AccountError as error:
            form.group.errors = [translated(error)]
        else:
            _record("group.hand_over", group, coordinator=coordinator.email, previous=before)
            session.commit()
            flash(
                _(
                    "%(email)s now runs %(group)s.",
                    email=coordinator.email,
                    group=group.public_name,
                ),
                "success",
            )
            return redirect(url_for("dashboard.coordinator", coordinator_id=coordinator.id))
    session.rollback()
    return _coordinator_page(coordinator, hand_over_form=form)


# -- API tokens ---------------------------------------------------------------------------------


class NewTokenForm(FlaskForm):  # type: ignore[misc]
    coordinator = SelectField(_l("Whose token"), validate_choice=True)
    name = StringField(
        _l("What it is for"),
        validators=[InputRequired(), Length(max=80)],
        description=_l("For example: laptop, or reporting."),
    )


def _tokens_page(form: NewTokenForm, plain: str | None = None) -> tuple[str, int]:
    session = get_session()
    page = render_template(
        "dashboard/admin/tokens.html",
        tokens=accounts.list_tokens(session),
        form=form,
        plain=plain,
    )
    return page, 200 if plain else form_status()


def _token_form(*, empty: bool = False) -> NewTokenForm:
    form = NewTokenForm(formdata=None) if empty else NewTokenForm()
    form.coordinator.choices = [
        SelectChoice(str(c.id), f"{c.name} ({c.email})")
        for c, _groups in accounts.coordinators_and_groups(get_session())
        if not c.disabled
    ]
    return form


@bp.route("/admin/tokens", methods=["GET", "POST"])
@admins_only
def tokens() -> Response | tuple[str, int]:
    form = _token_form()
    if not form.validate_on_submit():
        return _tokens_page(form)
    session = get_session()
    owner = _coordinator(int(form.coordinator.data))
    try:
        token, plain = accounts.issue_token(session, owner, form.name.data, app_clock()())
    except accounts.AccountError as error:
        session.rollback()
        form.name.errors = [translated(error)]
        return _tokens_page(form)
    _record("token.create", token, coordinator=owner.email, name=token.name)
    session.commit()
    # Shown on this answer only: it is kept as a hash, and no later page can show it again.
    return _tokens_page(_token_form(empty=True), plain=plain)


@bp.post("/admin/tokens/<int:token_id>/revoke")
@admins_only
def token_revoke(token_id: int) -> Response:
    session = get_session()
    try:
        token = accounts.revoke_token(session, token_id, app_clock()())
    except accounts.AccountError:
        abort(404)
    _record("token.revoke", token, coordinator=token.coordinator.email, name=token.name)
    session.commit()
    flash(_("The token %(name)s no longer works.", name=token.name), "success")
    return redirect(url_for("dashboard.tokens"))


# -- the audit log ------------------------------------------------------------------------------


class AuditFilterForm(FlaskForm):  # type: ignore[misc]
    class Meta:
        csrf = False  # a GET form that changes nothing

    actor = StringField(
        _l("Who"),
        validators=[Optional(), Length(max=120)],
        description=_l("Exactly as the log writes it, e.g. web:robin@example.org or cli:root."),
    )
    action = StringField(
        _l("What"),
        validators=[Optional(), Length(max=60)],
        description=_l("e.g. coordinator.create, participant.add."),
    )
    since = DateField(_l("From (UTC)"), validators=[Optional()])
    until = DateField(_l("Up to and including (UTC)"), validators=[Optional()])
    page = IntegerField(_l("Page"), validators=[Optional(), NumberRange(min=1, max=100000)])


@bp.get("/audit")
@admins_only
def audit_log() -> str:
    form = AuditFilterForm(request.args)
    entries: list[Any] = []
    total = 0
    number = 1
    valid = form.validate()
    if valid and form.since.data and form.until.data and form.since.data > form.until.data:
        form.until.errors = [_("This day comes before the first one.")]
        valid = False
    if valid:
        number = form.page.data or 1
        query = audit.entries(
            actor=form.actor.data or None,
            action=form.action.data or None,
            since=_start_of(form.since.data),
            until=_start_of(form.until.data, days=1),
        )
        pages = PaginationParameters(number, AUDIT_PAGE)
        entries = list(page_of(query, pages))
        total = pages.item_count or 0
    arguments = {k: v for k, v in request.args.items() if k != "page" and v}
    page = render_template(
        "dashboard/admin/audit.html",
        form=form,
        entries=entries,
        total=total,
        number=number,
        last=max(1, -(-total // AUDIT_PAGE)),
        arguments=arguments,
    )
    return page


def _start_of(day: Any, days: int = 0) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=days), time(0), tzinfo=UTC)
