"""The Meetings page's forms: a schedule in the words coordinators use, and moving one meeting."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from service.campaigns.meetings import LONGEST_MEETING, MAX_LOCATION
from service.campaigns.rules import Often

WEEKDAYS = [
    SelectChoice(0, _l("Monday")),
    SelectChoice(1, _l("Tuesday")),
    SelectChoice(2, _l("Wednesday")),
    SelectChoice(3, _l("Thursday")),
    SelectChoice(4, _l("Friday")),
    SelectChoice(5, _l("Saturday")),
    SelectChoice(6, _l("Sunday")),
]


class CheckboxesField(SelectMultipleField):  # type: ignore[misc]
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ScheduleForm(FlaskForm):  # type: ignore[misc]
    often = RadioField(
        _l("How often"),
        choices=[
            SelectChoice(Often.WEEKLY.value, _l("Every week")),
            SelectChoice(
                Often.EVERY_N_WEEKS.value, _l("Every few weeks (every other week, every 3 weeks…)")
            ),
            SelectChoice(
                Often.NTH_WEEKDAY.value,
                _l("One weekday of the month (the first Monday, the last Friday…)"),
            ),
            SelectChoice(Often.MONTHLY_DATE.value, _l("Every month on a date (the 15th…)")),
        ],
        default=Often.WEEKLY.value,
        validators=[InputRequired(_l("Choose how often the group meets."))],
    )
    days = CheckboxesField(
        _l("Day of the week"),
        choices=WEEKDAYS,
        coerce=int,
        description=_l(
            "Every week or every few weeks: one day or more. One weekday of the month: one day."
        ),
    )
    weeks = IntegerField(
        _l("Every how many weeks"),
        default=2,
        validators=[Optional()],  # checked by the rules, only when every few weeks is chosen
        description=_l("Only for every few weeks: 2 is every other week."),
    )
    nth = SelectField(
        _l("Which one in the month"),
        choices=[
            SelectChoice(1, _l("The first")),
            SelectChoice(2, _l("The second")),
            SelectChoice(3, _l("The third")),
            SelectChoice(4, _l("The fourth")),
            SelectChoice(-1, _l("The last")),
        ],
        coerce=int,
        default=1,
        description=_l("Only for one weekday of the month."),
    )
    day_of_month = IntegerField(
        _l("Date in the month"),
        default=1,
        validators=[Optional()],
        description=_l("Only for every month on a date: 1 to 31; months without it are skipped."),
    )
    at = TimeField(_l("Time"), validators=[InputRequired(_l("Give the time the meeting starts."))])
    start = DateField(
        _l("From"),
        validators=[InputRequired(_l("Give the date of the first meeting, or a day before it."))],
        description=_l("The first meeting is the first one on or after this date."),
    )
    until = DateField(
        _l("Until (optional)"),
        validators=[Optional()],
        description=_l("The last day with a meeting; leave empty if the meetings go on."),
    )
    duration = IntegerField(
        _l("Length in minutes"),
        default=90,
        validators=[
            InputRequired(_l("Give the meeting's length in minutes.")),
            NumberRange(1, LONGEST_MEETING),
        ],
    )
    location = StringField(
        _l("Where (or a link)"), validators=[Optional(), Length(max=MAX_LOCATION)]
    )


class MoveForm(FlaskForm):  # type: ignore[misc]
    day = DateField(_l("New date"), validators=[InputRequired(_l("Give the new date."))])
    at = TimeField(_l("New time"), validators=[InputRequired(_l("Give the new time."))])
    location = StringField(
        _l("Where (or a link)"),
        validators=[Optional(), Length(max=MAX_LOCATION)],
        description=_l("Leave as it is to keep the place."),
    )
