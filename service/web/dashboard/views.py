"""The dashboard's pages: sign-in, sign-out, a coordinator's own password, and Today.

Every page but the sign-in needs a coordinator signed in and active within the idle timeout;
every POST has passed the CSRF check before it gets here (see the package's init_app).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache, partial
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_timedelta
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as browser
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from service.campaigns.quiet import MAX_WEEKS, gone_quiet
from service.clock import app_clock
from service.config import Settings
from service.db import get_session
from service.people import audit
from service.people.accounts import (
    AccountError,
    LoginRefused,
    check_login,
    set_password,
)
from service.phones import mask
from service.web.dashboard import login, today
from service.web.dashboard.forms import PasswordForm, SignInForm, form_status
from service.web.dashboard.translated import translated

bp = Blueprint("dashboard", __name__)

OPEN = frozenset({"dashboard.sign_in"})


@bp.context_processor
def _language() -> dict[str, str]:
    settings: Settings = current_app.extensions["peerline.settings"]
    return {
        "language": str(get_locale() or "en"),
        # What a page shows in place of words the retention period blanked.
        "removed_words": _("(removed after %(days)s days)", days=settings.retention_days),
    }


@bp.before_request
def _signed_in() -> Response | None:
    if request.endpoint in OPEN:
        return None
    settings: Settings = current_app.extensions["peerline.settings"]
    if not current_user.is_authenticated:
        return _to_sign_in()
    if not login.still_active(app_clock()(), settings.session_idle_minutes):
        flash(_("You were signed out after a while without activity. Sign in again."), "info")
        return _to_sign_in()
    return None


def _to_sign_in() -> Response:
    here = request.full_path.rstrip("?") if request.method == "GET" else None
    target = login.safe_next(here)
    if target == url_for("dashboard.today"):
        target = None
    return redirect(url_for("dashboard.sign_in", next=target))


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response | tuple[str, int]:
    target = login.safe_next(request.args.get("next")) or url_for("dashboard.today")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(target)
    form = SignInForm()
    refused = False
    if form.validate_on_submit():
        session = get_session()
        now = app_clock()()
        try:
            coordinator = check_login(session, form.email.data, form.password.data, now)
        except LoginRefused:
            # Wrong, locked and disabled all read alike here: a stranger learns nothing of who
            # has an account. A wrong password was counted toward the lockout.
            session.commit()
            refused = True
        else:
            audit.record(
                session,
                actor=f"web:{coordinator.email}",
                action="coordinator.sign_in",
                now=now,
                target_type="coordinator",
                target_id=coordinator.id,
            )
            session.commit()
            login.start(coordinator, now)
            return redirect(target)
    return render_template("dashboard/sign_in.html", form=form, refused=refused), form_status()


@bp.post("/sign-out")
def sign_out() -> Response:
    login.end()
    flash(_("You are signed out."), "info")
    return redirect(url_for("dashboard.sign_in"))


@bp.route("/account/password", methods=["GET", "POST"])
def password() -> Response | tuple[str, int]:
    form = PasswordForm()
    if form.validate_on_submit():
        session = get_session()
        now = app_clock()()
        coordinator = login.me()
        try:
            # The same check as signing in, so guesses here count toward the lockout too.
            check_login(session, coordinator.email, form.current.data, now)
        except LoginRefused:
            session.commit()
            form.current.errors = [_("That is not your current password.")]
        else:
            try:
                set_password(coordinator, form.new.data)
            except AccountError as error:
                session.rollback()
                form.new.errors = [translated(error)]
            else:
                audit.record(
                    session,
                    actor=f"web:{coordinator.email}",
                    action="coordinator.password",
                    now=now,
                    target_type="coordinator",
                    target_id=coordinator.id,
                )
                session.commit()
                login.start(coordinator, now)  # this sign-in stays; every other one ends
                flash(_("Your password is changed."), "success")
                return redirect(url_for("dashboard.today"))
    return render_template("dashboard/password.html", form=form), form_status()


@bp.get("/", endpoint="today")
def today_page() -> str:
    session = get_session()
    now = app_clock()()
    groups = today.groups_today(session, login.visible(), now)
    weeks, weeks_error = _quiet_weeks()
    settings: Settings = current_app.extensions["peerline.settings"]
    day = partial(_day, locale=str(get_locale() or "en"))  # the locale asked for once a page
    return render_template(
        "dashboard/today.html",
        groups=groups,
        now=now,
        when=_when,
        recent=today.recent(session, [row.group for row in groups], weeks, now, day),
        weeks=weeks,
        weeks_error=weeks_error,
        demo=settings.mode == "demo",
        day=day,
        mask=mask,
        quiet_shown=today.QUIET_SHOWN,
    )


@bp.get("/groups/<int:group_id>/quiet", endpoint="group_quiet")
def group_quiet(group_id: int) -> str:
    """Everyone in one group who has gone quiet (Today shows the first few of each group)."""
    group = login.my_group(group_id)
    weeks, weeks_error = _quiet_weeks()
    return render_template(
        "dashboard/quiet.html",
        group=group,
        quiet=gone_quiet(get_session(), group.id, weeks, app_clock()()),
        weeks=weeks,
        weeks_error=weeks_error,
        day=partial(_day, locale=str(get_locale() or "en")),
        mask=mask,
    )


QUIET_WEEKS = "peerline_quiet_weeks"  # the coordinator's choice, kept in their session


def _quiet_weeks() -> tuple[int, str | None]:
    """The weeks of silence Today looks for: asked for now, else as last chosen, else 4."""
    asked = request.args.get("weeks")
    if asked is not None:
        if asked.strip().isdigit() and 1 <= int(asked) <= MAX_WEEKS:
            browser[QUIET_WEEKS] = int(asked)
        else:
            kept = browser.get(QUIET_WEEKS, today.DEFAULT_QUIET_WEEKS)
            return kept, _("Choose a number of weeks from 1 to %(most)d.", most=MAX_WEEKS)
    return browser.get(QUIET_WEEKS, today.DEFAULT_QUIET_WEEKS), None


def _when(starts_at: datetime, timezone: str, now: datetime) -> str:
    """A meeting's time in its group's zone, as words: "Tuesday 8 December, 6:30 PM (in 3 days)"."""
    locale = get_locale() or "en"
    local = starts_at.astimezone(ZoneInfo(timezone))
    day = format_datetime(local, "EEEE d MMMM", tzinfo=local.tzinfo, locale=locale)
    clock = format_datetime(local, "h:mm a", tzinfo=local.tzinfo, locale=locale)
    away = format_timedelta(starts_at - now, add_direction=True, locale=locale)
    return str(_("%(day)s at %(time)s (%(away)s)", day=day, time=clock, away=away))


def _day(moment: datetime | date, timezone: str | None = None, *, locale: str) -> str:
    """A day as words, "Tuesday 1 December", in the zone given (a date is shown as it is)."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(ZoneInfo(timezone)) if timezone is not None else moment
        moment = moment.date()
    return _day_words(moment, locale)


@lru_cache(maxsize=4096)
def _day_words(day: date, locale: str) -> str:
    # Today names the same few hundred days thousands of times (its charts, who went quiet).
    return str(format_date(day, "EEEE d MMMM", locale=locale))
