"""Coordinator-written wording of reminder and encouragement campaigns, checked and rendered."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from types import MappingProxyType
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from service.messages.segments import MAX_CHARACTERS, SegmentCount, count_segments
from service.messages.wording import LANGUAGES
from service.models import Group, Membership
from service.people.participants import first_word
from service.text import said

VARIABLES: Mapping[str, str] = MappingProxyType(
    {
        "first_name": "the participant's first name, or 'there' (Spanish: 'de nuevo') if unknown",
        "group": "the group's public name",
        "meeting_day": "the meeting's day in words, e.g. 'Tuesday, March 3'",
        "meeting_time": "the meeting's local time, e.g. '6:30 PM' (Spanish: '18:30')",
        "meeting_when": "when the meeting is, e.g. 'tomorrow at 6:30 PM'",
        "location": "where the meeting is, or nothing if no place is set",
        "reply_instructions": "how to confirm or decline, when the campaign asks; else nothing",
    }
)

_MEETING_VARIABLES = frozenset({"meeting_day", "meeting_time", "meeting_when"})

# A text not about a meeting (a one-off to a group, a broadcast, encouragement, an inbox reply)
# knows only who it goes to and from which group.
PLAIN_VARIABLES = ("first_name", "group")

# The longest value each variable can take, for the length limit: names as long as the
# database keeps them, and a meeting on the longest day and month in words, in either language.
_LONGEST_NAME = 120  # Membership.name, Participant.name
_LONGEST_GROUP = 60  # Group.public_name
_LONGEST_LOCATION = 200  # MeetingSchedule.location

# Text filters only: anything that takes a size or a replacement (center, indent, replace)
# can blow a short template up into megabytes.
_FILTERS = ("upper", "lower", "title", "capitalize", "trim", "default")

# Variables, {% if %}, comparisons and those filters are all an SMS needs. Attribute access,
# calls, arithmetic and loops are refused before the sandbox ever sees them.
_ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.Tuple,
    nodes.List,
    nodes.If,
    nodes.CondExpr,
    nodes.Not,
    nodes.And,
    nodes.Or,
    nodes.Compare,
    nodes.Operand,
    nodes.Concat,
    nodes.Filter,
    nodes.Test,
    nodes.Keyword,
)

_TAG_NAMES: Mapping[type[nodes.Node], str] = {
    nodes.Assign: "set",
    nodes.AssignBlock: "set",
    nodes.CallBlock: "call",
    nodes.FilterBlock: "filter",
    nodes.FromImport: "from",
}

_DEFAULT_KINDS = ("reminder", "encouragement", "spoken_reminder")


class WordingError(ValueError):
    """A template a coordinator wrote cannot be used; str() is one sentence naming the problem."""


@dataclass(frozen=True)
class Rendered:
    """A text ready to send, with what it costs."""

    text: str
    segments: int
    encoding: str  # "GSM-7" or "UCS-2"
    warning: str | None  # set when the text takes more than one segment


@dataclass(frozen=True)
class _Phrasing:
    locale: str  # for Babel
    day: str  # Babel pattern for meeting_day
    when_date: str  # Babel pattern for a meeting_when further away than tomorrow
    today: str
    tomorrow: str
    at: str
    at_one: str  # Spanish says "a la 1:30" but "a las 18:30"
    nobody: str  # first_name when the participant gave none
    reply: str


_PHRASING = {
    "en": _Phrasing(
        locale="en",
        day="EEEE, MMMM d",
        when_date="EEEE, MMMM d",
        today="today",
        tomorrow="tomorrow",
        at="at",
        at_one="at",
        nobody="there",
        reply="Reply C to confirm, N if you can't come.",
    ),
    "es": _Phrasing(
        locale="es",
        day="EEEE, d 'de' MMMM",
        when_date="'el' EEEE d 'de' MMMM",
        today="hoy",
        tomorrow="mañana",
        at="a las",
        at_one="a la",
        # Reads as "Hola de nuevo" after the usual greeting; a repeated "Hola hola" would not.
        nobody="de nuevo",
        reply="Responda C para confirmar, N si no puede venir.",
    ),
}


@dataclass(frozen=True)
class Checked:
    """A coordinator's text that may go: as it reads for a sample person, and what it costs."""

    sample: str
    count: SegmentCount

    @property
    def summary(self) -> str:
        return self.count.summary()

    @property
    def warning(self) -> str | None:
        """Set when the text takes more than one segment."""
        return _segment_warning(self.sample, self.count)


def check_template(text: str, *, meeting: bool = True, language: str = "en") -> Checked:
    """Check a coordinator's outgoing words the one way every door checks them.

    Refused, with a WordingError a coordinator can act on: an empty text, a syntax error, a
    variable the kind of text does not have (`meeting` says whether it is about a meeting, a
    reminder, or not: a one-off, a broadcast, encouragement, an inbox reply, which have only
    PLAIN_VARIABLES), and a text that could come out longer than Twilio takes once filled in
    with the longest names. Returns the text as it reads for a sample person, with its cost.
    """
    template, used = _compile(text, VARIABLES if meeting else PLAIN_VARIABLES)
    if not meeting:
        _refuse_missing(used, frozenset(VARIABLES) - frozenset(PLAIN_VARIABLES))
    longest = max(len(_squash(_fill(template, values))) for values in _longest_values())
    if longest > MAX_CHARACTERS:
        raise WordingError(
            said(
                "This message can come out %(length)d characters long with the longest names "
                "and places; a text holds at most %(most)d.",
                length=longest,
                most=MAX_CHARACTERS,
            )
            if used
            else said(
                "This message is %(length)d characters long; a text holds at most %(most)d.",
                length=longest,
                most=MAX_CHARACTERS,
            )
        )
    phrasing = _PHRASING.get(language, _PHRASING["en"])
    reference = datetime(2026, 3, 3, 9, tzinfo=ZoneInfo("America/New_York"))
    sample = _squash(
        _fill(
            template,
            {
                "first_name": "Alexandra",
                "group": "Tuesday Circle",
                "location": "Community Center, Room 5",
                "reply_instructions": phrasing.reply,
                **_meeting_words(reference + timedelta(days=3, hours=9), reference, phrasing),
            },
        )
    )
    if not sample:
        raise WordingError(said("This message comes out empty; write the text to send."))
    return Checked(sample, count_segments(sample))


def render(
    text: str,
    *,
    language: str,
    now: datetime,
    first_name: str | None,
    group: str,
    meeting_start: datetime | None = None,
    zone: str | None = None,
    location: str | None = None,
    rsvp: bool = False,
    send_at: datetime | None = None,
) -> Rendered:
    """Render a coordinator's template for one participant, with the meeting's time in words.

    Dates and times are in the meeting's `zone` and the participant's `language`. "today" and
    "tomorrow" are reckoned from `send_at` when given, else from `now`: a reminder planned days
    ahead must read right on the day it arrives, not on the day it was planned.
    """
    for name, moment in (("now", now), ("meeting_start", meeting_start), ("send_at", send_at)):
        if moment is not None and moment.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware")
    template, used = _compile(text)
    phrasing = _PHRASING.get(language, _PHRASING["en"])
    values = {
        "first_name": first_name or phrasing.nobody,
        "group": group,
        "location": location or "",
        "reply_instructions": phrasing.reply if rsvp else "",
    }
    if meeting_start is None:
        _refuse_missing(used, _MEETING_VARIABLES)
    elif zone is None:
        raise ValueError("zone is required with meeting_start")
    else:
        tz = ZoneInfo(zone)
        values.update(
            _meeting_words(meeting_start.astimezone(tz), (send_at or now).astimezone(tz), phrasing)
        )
    body = _squash(_fill(template, values))
    if not body:
        raise WordingError(said("This message comes out empty for this participant."))
    count = count_segments(body)
    return Rendered(body, count.segments, count.encoding, _segment_warning(body, count))


def word_for(
    text: str, *, group: Group | None, membership: Membership | None, language: str, now: datetime
) -> str:
    """Word a text that is not about a meeting for one person, as their group knows them.

    first_name is the group's own name for the person (never another group's), group its public
    name; `language` is the person's in that group, for the word used when no name is known.
    """
    return render(
        text,
        language=membership.language if membership else language,
        now=now,
        first_name=first_word(membership.name if membership else None),
        group=group.public_name if group else "",
    ).text


def default_template(kind: str, language: str) -> str:
    """Return Peerline's own wording for a campaign kind; encouragement is a pool, one per line."""
    if kind not in _DEFAULT_KINDS:
        raise ValueError(f"There is no default wording for {kind!r} campaigns.")
    lang = language if language in LANGUAGES else "en"
    folder = resources.files("templates").joinpath("messages", lang)
    return folder.joinpath(f"{kind}.txt").read_text(encoding="utf-8").strip()


def default_pool(language: str) -> list[str]:
    """Return the default encouragement messages in language."""
    lines = default_template("encouragement", language).splitlines()
    return [line.strip() for line in lines if line.strip()]


class _UnknownVariables(Exception):
    """The names a text uses that no message has, in the order it uses them."""


def _compile(text: str, allowed: Iterable[str] = VARIABLES) -> tuple[Template, frozenset[str]]:
    """Parse, vet and trial-render text; return the template and the variables it uses."""
    try:
        return _compiled(text)
    except _UnknownVariables as error:
        unknown: list[str] = error.args[0]
    names = ", ".join(f"{{{{ {name} }}}}" for name in unknown)
    choices = ", ".join(f"{{{{ {name} }}}}" for name in allowed)
    raise WordingError(
        said("Unknown variables %(names)s; use one of %(choices)s.", names=names, choices=choices)
        if len(unknown) > 1
        else said(
            "Unknown variable %(names)s; use one of %(choices)s.", names=names, choices=choices
        )
    )


# A campaign's words are the same for everyone it reaches, and a dispatch batch or a preview
# words thousands of rows: each text is parsed, vetted and compiled once per process. Keyed by
# the text itself, so an edited wording is a new entry and never served stale; a refusal is
# not cached (it raises). Bounded: a coordinator's one-off replies are texts used once.
@functools.lru_cache(maxsize=1024)
def _compiled(text: str) -> tuple[Template, frozenset[str]]:
    if not text.strip():
        raise WordingError(said("The message is empty; write the text to send."))
    env = _environment()
    try:
        ast = env.parse(text)
    except TemplateSyntaxError as error:
        raise WordingError(_syntax_problem(error)) from None
    for node in ast.find_all(nodes.Node):
        if not isinstance(node, _ALLOWED_NODES):
            raise WordingError(
                said(
                    "Line %(line)d uses %(what)s, which a message cannot use; only variables, "
                    "{%% if %%} and the filters %(filters)s can be used.",
                    line=node.lineno,
                    what=_describe(node),
                    filters=", ".join(_FILTERS),
                )
            )
    # find_undeclared_variables skips names the environment itself defines (range, cycler,
    # self), so the refusal looks at every name the text mentions.
    unknown = [node.name for node in ast.find_all(nodes.Name) if node.name not in VARIABLES]
    if unknown:
        raise _UnknownVariables(list(dict.fromkeys(unknown)))
    try:
        # Unknown filters are only found when compiling.
        template = env.from_string(ast)
    except TemplateSyntaxError as error:
        raise WordingError(_syntax_problem(error)) from None
    # Wrong filter arguments only fail when rendered, so fail them now rather than at send time.
    _fill(template, {name: name for name in VARIABLES})
    return template, frozenset(meta.find_undeclared_variables(ast))


@functools.cache
def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,  # plain-text SMS, never HTML
    )
    env.filters = {name: env.filters[name] for name in _FILTERS}
    return env


def _squash(text: str) -> str:
    # Collapsing whitespace also turns the U+202F Babel puts before "PM" into a plain space,
    # which keeps English times in GSM-7.
    return " ".join(text.split())


def _longest_values() -> list[dict[str, str]]:
    """Every variable at its longest, once per language."""
    # Wednesday, September 30 (2026), a day not today or tomorrow: the longest day and month.
    meeting = datetime(2026, 9, 30, 22, 30, tzinfo=UTC)
    reference = datetime(2026, 9, 1, tzinfo=UTC)
    return [
        {
            "first_name": "W" * _LONGEST_NAME,
            "group": "W" * _LONGEST_GROUP,
            "location": "W" * _LONGEST_LOCATION,
            "reply_instructions": phrasing.reply,
            **_meeting_words(meeting, reference, phrasing),
        }
        for phrasing in _PHRASING.values()
    ]


def _fill(template: Template, values: Mapping[str, str]) -> str:
    try:
        return template.render(values)
    # The sandbox's SecurityError is a TemplateError: if the node check ever lets something
    # through, it still ends as a refusal, not a crash.
    except TemplateError as error:
        raise WordingError(
            said("This message cannot be filled in: %(why)s.", why=str(error).rstrip("."))
        ) from None
    except TypeError as error:
        raise WordingError(
            said("A filter in this message is used wrongly: %(why)s.", why=str(error))
        ) from None


def _syntax_problem(error: TemplateSyntaxError) -> str:
    # Jinja's messages run to several sentences and name Jinja; keep the first and the block.
    first = (error.message or "").split(". ")[0].rstrip(".")
    if filter_name := re.fullmatch(r"No filter named '(\w+)'", first):
        return said(
            "Line %(line)d uses the filter '%(name)s'; the filters that can be used are "
            "%(filters)s.",
            line=error.lineno,
            name=filter_name[1],
            filters=", ".join(_FILTERS),
        )
    detail = first[:1].lower() + first[1:]
    if block := re.search(
        r"innermost block that needs to be closed is '(\w+)'", error.message or ""
    ):
        detail += f" inside {{% {block[1]} %}}, which needs {{% end{block[1]} %}}"
    return said("Syntax error on line %(line)d: %(detail)s.", line=error.lineno, detail=detail)


def _describe(node: nodes.Node) -> str:
    if isinstance(node, nodes.Getattr):
        return f"'.{node.attr}'"
    if isinstance(node, nodes.Getitem):
        return "'[...]'"
    if isinstance(node, nodes.Call):
        return said("a function call")
    if isinstance(node, nodes.BinExpr | nodes.UnaryExpr):
        return said("the operator '%(operator)s'", operator=node.operator)
    tag = _TAG_NAMES.get(type(node), type(node).__name__.lower())
    return f"{{% {tag} %}}"


def _refuse_missing(used: frozenset[str], absent: frozenset[str]) -> None:
    if missing := [name for name in VARIABLES if name in used and name in absent]:
        names = " and ".join(f"{{{{ {name} }}}}" for name in missing)
        allowed = " or ".join(f"{{{{ {name} }}}}" for name in PLAIN_VARIABLES)
        raise WordingError(
            said(
                "This message uses %(names)s, but it is not about a meeting; it can use "
                "%(allowed)s.",
                names=names,
                allowed=allowed,
            )
        )


def _meeting_words(local: datetime, reference: datetime, phrasing: _Phrasing) -> Mapping[str, str]:
    """Word a meeting starting at local, as seen from the local moment reference."""
    # The words show only the wall time and the day they are read on: everyone a batch reminds
    # of one meeting in one zone shares them, so Babel formats them once, not per person.
    return _wall_words(local.replace(tzinfo=None), reference.date(), phrasing)


@functools.lru_cache(maxsize=4096)
def _wall_words(wall: datetime, today: date, phrasing: _Phrasing) -> Mapping[str, str]:
    # Babel reads a naive time as UTC and shows it in UTC: the wall time as it is.
    local = wall.replace(tzinfo=UTC)
    time = format_time(local, "short", tzinfo=UTC, locale=phrasing.locale)
    days_away = (local.date() - today).days
    if days_away == 0:
        day_words = phrasing.today
    elif days_away == 1:
        day_words = phrasing.tomorrow
    else:
        day_words = format_date(local, phrasing.when_date, locale=phrasing.locale)
    at = phrasing.at_one if local.hour == 1 else phrasing.at
    return MappingProxyType(
        {
            "meeting_day": format_date(local, phrasing.day, locale=phrasing.locale),
            "meeting_time": time,
            "meeting_when": f"{day_words} {at} {time}",
        }
    )


def _segment_warning(body: str, count: SegmentCount) -> str | None:
    if count.segments <= 1:
        return None
    if count.encoding == "GSM-7":
        return said(
            "This message is %(segments)d segments: one segment holds 160 characters and it "
            "has %(units)d.",
            segments=count.segments,
            units=count.units,
        )
    culprit = next(ch for ch in body if count_segments(ch).encoding == "UCS-2")
    return said(
        "This message is %(segments)d segments: '%(culprit)s' makes it UCS-2, where one "
        "segment holds 70 characters, and it has %(units)d.",
        segments=count.segments,
        culprit=culprit,
        units=count.units,
    )


def discretion_warnings(
    text: str, *, internal_name: str, topic_words: Iterable[str] = ()
) -> list[str]:
    """Warnings for words a lock screen could show that give away what the group is about.

    Any text can show on a locked phone, where someone else may read it; the group's internal
    name (coordinators only) and the topic words its coordinator lists should not be in one.
    Matched as whole words, whatever their case. A warning, not a refusal: the coordinator
    decides.
    """
    found = []
    for word in (internal_name, *topic_words):
        word = " ".join(word.split())
        pattern = r"\s+".join(re.escape(part) for part in word.split())  # any spacing
        if word and re.search(rf"(?<!\w){pattern}(?!\w)", text, re.IGNORECASE):
            found.append(word)
    warnings: list[str] = []
    if found and found[0] == " ".join(internal_name.split()):
        warnings.append(
            said(
                "This text names the group's internal name '%(name)s', which participants "
                "never see; a text can show on a locked phone.",
                name=found.pop(0),
            )
        )
    if found:
        words = ", ".join(f"'{word}'" for word in dict.fromkeys(found))
        warnings.append(
            said(
                "This text has the topic words %(words)s; a text can show on a locked phone, "
                "where someone else may read it.",
                words=words,
            )
            if len(found) > 1
            else said(
                "This text has the topic word %(words)s; a text can show on a locked phone, "
                "where someone else may read it.",
                words=words,
            )
        )
    return warnings


def split_topic_words(text: str) -> list[str]:
    """Topic words as a coordinator writes them: separated by commas or new lines."""
    return [word.strip() for word in re.split(r"[,\n]", text) if word.strip()]
