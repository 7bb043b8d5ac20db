"""Dispatch benchmark: the dispatcher against raw HTTP posts of the same texts, same run.

    .venv/bin/python bench/dispatch_bench.py --database sqlite --threads 8
    .venv/bin/python bench/dispatch_bench.py --database postgresql --workers 2 --threads 8

Everything goes to bench/twilio_stub.py, a fast local Twilio in a process of its own.

- throughput: N rows due now; P processes each run `Dispatcher.drain()` (limits off,
  PEERLINE_SEND_RATE=off, T send threads) until nothing is queued, through twilio-python.
  The baseline posts the same forms (To, From, Body, StatusCallback, ValidityPeriod, the same
  Basic auth) from the same P processes x T threads, one plain `requests.Session` per thread,
  reading each answer's sid: the HTTP floor twilio-python itself sits on. The rows are worded
  when queued, unless `--kind reminder --at-send`: then they are a reminder campaign's rows as
  the planner leaves them (no body; a campaign, a daily meeting and its occurrence key), and the
  dispatcher words each as it goes (its meeting found, the campaign's template rendered); the
  baseline posts the words they come to.
- lateness: rows due at a steady rate (due_at = start + i / rate) and P processes ticking for
  real (`scheduler.clock.start`: APScheduler, a dispatch tick every second); lateness is each
  row's `sent_at - due_at` (due to handed to the gateway), read back from the rows. Once with
  no limit, once under a per-sender limit (PEERLINE_SEND_RATE) with rows due below it.

Every measured workload runs in fresh processes (multiprocessing, spawn) that import, build the
app and connect before the clock starts. Peak RSS is each dispatcher process's own (the
largest of the P); CPU is user + system time of the measured processes, of the stub, and of
PostgreSQL's processes (when they are visible in /proc), divided by the messages sent.
`--profile DIR` adds a run with one process and one thread under cProfile (CPU time), for the
dispatcher and for the baseline, and prints where the CPU goes, by package. cProfile slows
call-heavy code most (about 10x here), so read it for proportions and call counts; a sampling
profiler (py-spy, see bench/README.md) gives the undistorted picture.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import math
import multiprocessing
import os
import pstats
import re
import resource
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from multiprocessing.context import SpawnContext
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.twilio_stub import reset, start_stub, stats, stop_stub
from service.campaigns.recurrence import place
from service.campaigns.wording import render
from service.cli.database import upgrade_database
from service.db import make_engine
from service.models import (
    Campaign,
    CampaignKind,
    Group,
    MeetingSchedule,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    SendBudget,
)
from tests.workers import seed_members

ACCOUNT_SID = "AC" + "be" * 16
AUTH_TOKEN = "bench-auth-token"  # noqa: S105 - the stub's, never a real one
FROM_NUMBER = "+15005550006"
PUBLIC_URL = "https://peerline.example.org"
VALIDITY = timedelta(hours=4)
DATABASE = "peerline_bench_dispatch"


class Report(TypedDict):
    started: float  # epoch seconds
    ended: float
    cpu: float  # user + system seconds of the process over the measured window
    rss_mb: float  # peak RSS of the process
    sent: int  # what the process itself counted (the dispatcher's tally, or posts answered)


@dataclass(frozen=True)
class Row:
    id: int
    phone: str
    body: str


@dataclass
class Machine:
    """CPU counters of the whole machine, the stub and PostgreSQL, read before and after."""

    busy: float
    total: float
    stub: float
    postgres: float | None


# -- the database ------------------------------------------------------------------------------


def prepare_database(kind: str, postgres_url: str, folder: str) -> str:
    if kind == "sqlite":
        url = f"sqlite:///{folder}/bench.sqlite3"
    else:
        admin = make_engine(postgres_url).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {DATABASE}"))
        admin.dispose()
        url = postgres_url.rsplit("/", 1)[0] + "/" + DATABASE
    upgrade_database(url)
    return url


def seed_people(url: str, count: int) -> list[tuple[int, str]]:
    """count consenting active members of one group, seeded as the worker tests seed them.

    The group's quiet hours are put twelve hours away, so that planned kinds (reminders) are
    not held back during the run.
    """
    local = datetime.now(UTC).astimezone(ZoneInfo("America/New_York"))
    quiet = dt_time((local.hour + 12) % 24), dt_time((local.hour + 13) % 24)
    return seed_members(url, count, quiet=quiet)


@dataclass(frozen=True)
class Planned:
    """A reminder campaign whose rows the dispatcher words as they go."""

    campaign_id: int
    occurrence_key: str
    body: str  # what each row comes to (the seeded members have no names)


REMINDER_WORDS = (
    "Hi {{ first_name }}, a reminder: {{ group }} meets {{ meeting_when }}"
    "{% if location %} at {{ location }}{% endif %}. {{ reply_instructions }}"
)


def reminder_campaign(url: str) -> Planned:
    """A daily meeting six hours from now and a reminder campaign with its own words.

    It has no offsets, so a ticking planner plans nothing for it: its rows are the benchmark's.
    """
    zone = "America/New_York"
    now = datetime.now(UTC)
    first = (now.astimezone(ZoneInfo(zone)) + timedelta(hours=6)).replace(
        second=0, microsecond=0, tzinfo=None
    )
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            group = conn.scalar(select(Group.id))
            conn.execute(
                insert(MeetingSchedule).values(
                    group_id=group, rrule="FREQ=DAILY", first_start=first, location="Room 5"
                )
            )
            campaign = conn.execute(
                insert(Campaign)
                .values(
                    group_id=group,
                    kind=CampaignKind.REMINDER,
                    name="bench reminders",
                    offsets=[],
                    rsvp=True,
                    wording={"en": REMINDER_WORDS},
                )
                .returning(Campaign.id)
            ).scalar_one()
    finally:
        engine.dispose()
    body = render(
        REMINDER_WORDS,
        language="en",
        now=now,
        first_name=None,
        group="Tuesday group",
        meeting_start=place(first, zone),
        zone=zone,
        location="Room 5",
        rsvp=True,
    ).text
    return Planned(campaign, first.strftime("%Y%m%dT%H%M"), body)


def queue_texts(
    url: str,
    people: Sequence[tuple[int, str]],
    due: Sequence[datetime],
    tag: str,
    kind: OutboxKind = OutboxKind.ONE_OFF,
    planned: Planned | None = None,
) -> list[Row]:
    """Empty the outbox and the rate budgets, then one text of kind per due time: worded, or
    a planned campaign's row that the dispatcher words."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            conn.execute(delete(OutboxMessage))
            conn.execute(delete(SendBudget))
            group = conn.scalar(select(Group.id))
            values = [
                {
                    "send_key": f"bench:{tag}:{participant}",
                    "kind": kind,
                    "participant_id": participant,
                    "group_id": group,
                    "body": None if planned else f"Tuesday group at 7 tonight ({n})",
                    "campaign_id": planned.campaign_id if planned else None,
                    "occurrence_key": planned.occurrence_key if planned else None,
                    "state": OutboxState.QUEUED,
                    "due_at": moment,
                    "expires_at": moment + VALIDITY,
                    "created_at": now,
                    "updated_at": now,
                }
                for n, ((participant, _phone), moment) in enumerate(zip(people, due, strict=False))
            ]
            ids = conn.scalars(
                insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True),
                values,
            ).all()
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE outbox_messages"))
    finally:
        engine.dispose()
    return [
        Row(id=row_id, phone=phone, body=planned.body if planned else str(value["body"]))
        for row_id, (_participant, phone), value in zip(ids, people, values, strict=False)
    ]


def outbox_states(url: str) -> Counter[str]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            found = session.execute(
                select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
            ).all()
    finally:
        engine.dispose()
    return Counter({str(state): int(n) for state, n in found})


def lateness(url: str) -> list[float]:
    """sent_at - due_at of every sent row, in seconds, sorted."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            found = session.execute(
                select(OutboxMessage.due_at, OutboxMessage.sent_at).where(
                    OutboxMessage.state == OutboxState.SENT
                )
            ).all()
    finally:
        engine.dispose()
    return sorted((sent - due).total_seconds() for due, sent in found if sent is not None)


def busiest_second(arrivals: Sequence[float]) -> int:
    """The most sends the stub received within any one second."""
    ordered, most, first = sorted(arrivals), 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def quantile(ordered: Sequence[float], q: float) -> float:
    """Nearest rank."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# -- the measured processes --------------------------------------------------------------------


def worker_env(url: str, base_url: str, threads: int, rate: float | None) -> dict[str, str]:
    return {
        "PEERLINE_DATABASE_URL": url,
        "PEERLINE_PUBLIC_URL": PUBLIC_URL,
        "PEERLINE_LOG_LEVEL": "WARNING",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE_URL": base_url,
        "PEERLINE_SEND_RATE": "off" if rate is None else f"{rate:g}",
        "PEERLINE_SEND_THREADS": str(threads),
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_dispatcher(
    env: dict[str, str],
    mode: str,
    profile: str | None,
    ready: Barrier,
    go: Event,
    stop: Event,
    results: Queue[Report],
) -> None:
    """One dispatcher process: drain until nothing is queued, or tick until told to stop."""
    from scheduler import clock
    from service.app import create_app
    from service.config import Settings
    from service.db import sessions
    from service.sending.dispatch import dispatcher
    from service.sending.steps import Outcome

    app = create_app(Settings.from_env(env, mode="test"))
    # A tick still draining when the next is due is skipped, by design: do not log each one.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    work = dispatcher(app)
    with sessions(app)() as session:
        session.execute(text("SELECT 1"))  # connected before the clock starts
    clock.freeze_startup()  # as `peerline worker` does before its first tick
    ready.wait()
    go.wait()
    cpu, started = _cpu_seconds(), time.time()
    tally: Counter[Outcome] = Counter()
    if mode == "drain":
        profiler = cProfile.Profile(time.process_time) if profile else None
        if profiler is not None:
            profiler.enable()
        while batch := work.drain(max_seconds=3600):
            tally.update(batch)
        if profiler is not None and profile is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        ended = time.time()
        work.close()
    else:
        ticking = clock.start(app)
        stop.wait()
        ended = time.time()
        clock.stop(app, ticking)
    results.put(
        Report(
            started=started,
            ended=ended,
            cpu=_cpu_seconds() - cpu,
            rss_mb=_peak_rss_mb(),
            sent=tally[Outcome.SENT],
        )
    )


def run_baseline(
    base_url: str,
    forms: list[dict[str, str]],
    threads: int,
    profile: str | None,
    ready: Barrier,
    go: Event,
    stop: Event,
    results: Queue[Report],
) -> None:
    """The floor: the same forms posted with plain requests, one Session per thread."""
    import requests

    url = f"{base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"

    def post_all(chunk: list[dict[str, str]]) -> int:
        with requests.Session() as session:
            for form in chunk:
                response = session.post(url, data=form, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=10)
                if response.status_code != 201 or not response.json()["sid"]:
                    raise RuntimeError(f"the stub answered {response.status_code}")
        return len(chunk)

    chunks = [forms[i::threads] for i in range(threads)]
    ready.wait()
    go.wait()
    cpu, started = _cpu_seconds(), time.time()
    if profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        sent = sum(post_all(chunk) for chunk in chunks)
        profiler.disable()
        profiler.dump_stats(profile)
    else:
        with ThreadPoolExecutor(threads) as pool:
            sent = sum(pool.map(post_all, chunks))
    ended = time.time()
    results.put(
        Report(
            started=started, ended=ended, cpu=_cpu_seconds() - cpu, rss_mb=_peak_rss_mb(), sent=sent
        )
    )


def run_crew(
    ctx: SpawnContext,
    target: Callable[..., None],
    argsets: Sequence[tuple[Any, ...]],
    *,
    before_go: Callable[[], None] | None = None,
    until: Callable[[], bool] | None = None,
    deadline: float = 600.0,
    on_go: Callable[[], None] | None = None,
    on_done: Callable[[], None] | None = None,
) -> list[Report]:
    """Start one process per argset, let them all set up, then start them at once.

    on_go runs just before they are let go, on_done once all have reported: the window the
    machine's counters are read over (process start-up stays outside it).
    """
    ready = ctx.Barrier(len(argsets) + 1)
    go, stop = ctx.Event(), ctx.Event()
    results: Queue[Report] = ctx.Queue()
    processes = [
        ctx.Process(target=target, args=(*args, ready, go, stop, results)) for args in argsets
    ]
    for process in processes:
        process.start()
    try:
        ready.wait(timeout=120)
        if before_go is not None:
            before_go()
        if on_go is not None:
            on_go()
        go.set()
        if until is not None:
            give_up = time.monotonic() + deadline
            while not until() and time.monotonic() < give_up:
                time.sleep(0.5)
            stop.set()
        reports = [results.get(timeout=deadline) for _ in processes]
        if on_done is not None:
            on_done()
    finally:
        stop.set()
        for process in processes:
            process.join(30)
            if process.exitcode is None:
                process.kill()
                process.join()
    return reports


# -- the machine -------------------------------------------------------------------------------


def _proc_stat() -> tuple[float, float]:
    with open("/proc/stat") as stat:
        fields = [float(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _postgres_cpu() -> float | None:
    """CPU seconds of every visible postgres process, with those of its exited children."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, seen = 0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        if name != "postgres":
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        total += sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
        seen = True
    return total / ticks if seen else None


def machine(base_url: str, with_postgres: bool) -> Machine:
    busy, total = _proc_stat()
    return Machine(
        busy=busy,
        total=total,
        stub=stats(base_url)["cpu_seconds"],
        postgres=_postgres_cpu() if with_postgres else None,
    )


@dataclass(frozen=True)
class Run:
    what: str
    sent: int
    seconds: float
    cpu: float  # the measured processes together
    rss_mb: float  # the largest of them
    stub_cpu: float
    postgres_cpu: float | None
    cores_busy: float  # of the whole machine, averaged over the run

    @property
    def rate(self) -> float:
        return self.sent / self.seconds

    def line(self) -> str:
        def per(cpu: float | None) -> str:
            return "   n/a" if cpu is None else f"{cpu / max(1, self.sent) * 1e6:6.0f}"

        return (
            f"  {self.what:<10} {self.sent:6,} in {self.seconds:6.2f} s = {self.rate:7,.0f}/s"
            f"   CPU us/msg: process {per(self.cpu)}, stub {per(self.stub_cpu)}, "
            f"postgres {per(self.postgres_cpu)}   cores busy {self.cores_busy:.2f}"
            f"   peak RSS {self.rss_mb:.0f} MB"
        )


def measure(
    what: str,
    base_url: str,
    with_postgres: bool,
    run: Callable[[Callable[[], None], Callable[[], None]], list[Report]],
) -> Run:
    """run(on_go, on_done) starts the processes; the machine is read at those two moments."""
    reset(base_url)
    readings: list[Machine] = []

    def read() -> None:
        readings.append(machine(base_url, with_postgres))

    reports = run(read, read)
    before, after = readings
    cores = os.cpu_count() or 1
    return Run(
        what=what,
        sent=sum(r["sent"] for r in reports),
        seconds=max(r["ended"] for r in reports) - min(r["started"] for r in reports),
        cpu=sum(r["cpu"] for r in reports),
        rss_mb=max(r["rss_mb"] for r in reports),
        stub_cpu=after.stub - before.stub,
        postgres_cpu=(
            after.postgres - before.postgres
            if after.postgres is not None and before.postgres is not None
            else None
        ),
        cores_busy=(after.busy - before.busy) / max(1.0, after.total - before.total) * cores,
    )


# -- profiles ----------------------------------------------------------------------------------

_SITE = re.compile(r"site-packages/([^/]+)")
_STDLIB = re.compile(r"lib/python3\.\d+/([^/]+)")
_ROOT = str(Path(__file__).resolve().parents[1])


def _category(filename: str, name: str) -> str:
    if filename == "~":  # a builtin, named like "<method 'recv_into' of '_socket.socket' ...>"
        for word, label in (
            ("socket", "socket calls"),
            ("psycopg", "psycopg (C)"),
            ("sqlite3", "sqlite3 (C)"),
            ("json", "json (C)"),
            ("lock", "locks"),
            ("select", "select/poll"),
        ):
            if word in name:
                return label
        return "other builtins"
    if filename.startswith("<frozen "):  # os, _collections_abc, importlib...
        return "stdlib " + filename.removeprefix("<frozen ").rstrip(">")
    if found := _SITE.search(filename):
        package = found.group(1).removesuffix(".py")
        return "psycopg" if package.startswith("psycopg") else package
    if filename.startswith(_ROOT):
        return "peerline " + filename[len(_ROOT) + 1 :].split("/")[0] + "/"
    if found := _STDLIB.search(filename):
        return "stdlib " + found.group(1).removesuffix(".py")
    return "other"


def summarise_profile(path: str, messages: int, title: str, top: int = 25) -> None:
    profile = pstats.Stats(path)
    by_category: defaultdict[str, float] = defaultdict(float)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = profile.stats  # type: ignore[attr-defined]
    for (filename, _line, name), (_cc, _nc, own, _cum, _callers) in raw.items():
        by_category[_category(filename, name)] += own
    total = sum(by_category.values())
    print(f"\n{title}: {total:.2f} s CPU for {messages:,} messages = "
          f"{total / messages * 1e6:.0f} us/message; own time by package (us/message):")  # fmt: skip
    for category, own in sorted(by_category.items(), key=lambda kv: -kv[1])[:14]:
        print(f"  {own / messages * 1e6:7.0f}  {own / total:5.1%}  {category}")
    print(f"  top {top} by cumulative time:")
    profile.sort_stats("cumulative").print_stats(top)


# -- the run -----------------------------------------------------------------------------------


def throughput(
    ctx: SpawnContext,
    url: str,
    base_url: str,
    people: Sequence[tuple[int, str]],
    args: argparse.Namespace,
    tag: str,
    *,
    threads: int,
    workers: int,
    planned: Planned | None = None,
    profile: str | None = None,
) -> tuple[Run, Run]:
    now = datetime.now(UTC)
    rows = queue_texts(url, people, [now] * args.messages, tag, OutboxKind(args.kind), planned)
    forms = [
        {
            "To": row.phone,
            "From": FROM_NUMBER,
            "Body": row.body,
            "StatusCallback": f"{PUBLIC_URL}/twilio/sms/status?outbox={row.id}",
            "ValidityPeriod": str(int(VALIDITY.total_seconds())),
        }
        for row in rows
    ]
    postgres = args.database == "postgresql"
    baseline_profile = profile and os.path.join(profile, "baseline.pstats")
    dispatch_profile = profile and os.path.join(profile, "dispatch.pstats")
    base = measure(
        "baseline",
        base_url,
        postgres,
        lambda go, done: run_crew(
            ctx,
            run_baseline,
            [(base_url, forms[i::workers], threads, baseline_profile) for i in range(workers)],
            on_go=go,
            on_done=done,
        ),
    )
    posted = stats(base_url)["count"]
    env = worker_env(url, base_url, threads, None)
    sent = measure(
        "dispatch",
        base_url,
        postgres,
        lambda go, done: run_crew(
            ctx,
            run_dispatcher,
            [(env, "drain", dispatch_profile) for _ in range(workers)],
            on_go=go,
            on_done=done,
        ),
    )
    received = stats(base_url)["count"]
    states = outbox_states(url)
    if not posted == received == states["sent"] == args.messages:
        print(f"  !! baseline posted {posted}, the dispatcher's stub got {received}, rows {dict(states)}")  # fmt: skip
    return base, sent


def lateness_run(
    ctx: SpawnContext,
    url: str,
    base_url: str,
    people: Sequence[tuple[int, str]],
    args: argparse.Namespace,
    *,
    per_second: float,
    limit: float | None,
) -> tuple[Run, list[float], Counter[str], int]:
    count = int(per_second * args.lateness_seconds)
    lead = 2.0  # the first row falls due this long after the processes are told to go

    def queue() -> None:
        start = datetime.now(UTC) + timedelta(seconds=lead)
        due = [start + timedelta(seconds=i / per_second) for i in range(count)]
        queue_texts(url, people, due, f"late{per_second:g}", OutboxKind(args.kind))

    def settled() -> bool:
        states = outbox_states(url)
        return not (states["queued"] or states["sending"])

    env = worker_env(url, base_url, args.threads, limit)
    run = measure(
        "ticking",
        base_url,
        args.database == "postgresql",
        lambda go, done: run_crew(
            ctx,
            run_dispatcher,
            [(env, "tick", None) for _ in range(args.workers)],
            before_go=queue,
            until=settled,
            deadline=args.lateness_seconds + 120,
            on_go=go,
            on_done=done,
        ),
    )
    states = outbox_states(url)
    return run, lateness(url), states, busiest_second(stats(base_url)["arrivals"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--messages", type=int, default=5000, help="rows for throughput")
    parser.add_argument("--threads", type=int, default=8, help="send threads per process")
    parser.add_argument("--workers", type=int, default=1, help="dispatcher processes")
    parser.add_argument(
        "--kind",
        choices=[OutboxKind.ONE_OFF.value, OutboxKind.REMINDER.value],
        default=OutboxKind.ONE_OFF.value,
        help="kind of the worded rows; reminders also go through the quiet-hours check",
    )
    parser.add_argument(
        "--at-send",
        action="store_true",
        help="with --kind reminder: a campaign's rows, worded by the dispatcher as they go",
    )
    parser.add_argument("--rounds", type=int, default=1, help="throughput rounds (each: baseline, then dispatch)")  # fmt: skip
    parser.add_argument("--lateness-rate", type=float, default=100.0, help="rows due per second, no limit")  # fmt: skip
    parser.add_argument("--lateness-seconds", type=float, default=20.0)
    parser.add_argument("--limit", type=float, default=50.0, help="PEERLINE_SEND_RATE of the limited run")  # fmt: skip
    parser.add_argument("--limited-rate", type=float, default=40.0, help="rows due per second under --limit")  # fmt: skip
    parser.add_argument("--no-lateness", action="store_true", help="throughput only")
    parser.add_argument("--profile", metavar="DIR", help="also profile 1 process x 1 thread into DIR")  # fmt: skip
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    if args.workers > 1 and args.database == "sqlite":
        parser.error("--workers above 1 needs --database postgresql (SQLite has one writer)")
    if args.at_send and (args.kind != OutboxKind.REMINDER.value or not args.no_lateness):
        parser.error("--at-send needs --kind reminder and --no-lateness")
    if not 1 <= args.threads <= 64:
        parser.error("--threads: 1 to 64 (PEERLINE_SEND_THREADS)")

    ctx = multiprocessing.get_context("spawn")
    base_url, stub = start_stub()
    try:
        with tempfile.TemporaryDirectory() as folder:
            url = prepare_database(args.database, args.postgres_url, folder)
            people = seed_people(
                url,
                max(
                    args.messages,
                    int(args.lateness_rate * args.lateness_seconds),
                    int(args.limited_rate * args.lateness_seconds),
                ),
            )
            planned = reminder_campaign(url) if args.at_send else None
            print(f"{args.database}: {args.messages:,} {args.kind} messages"
                  f"{' worded at send time' if planned else ''}, {args.workers} process(es) x "
                  f"{args.threads} send threads; {os.cpu_count()} cores, Python "
                  f"{sys.version.split()[0]}; stub at {base_url}")  # fmt: skip
            print("throughput (limits off), baseline = plain requests.Session per thread:")
            ratios = []
            for round_ in range(args.rounds):
                base, sent = throughput(
                    ctx, url, base_url, people, args, f"r{round_}",
                    threads=args.threads, workers=args.workers, planned=planned,
                )  # fmt: skip
                ratios.append(sent.rate / base.rate)
                print(base.line())
                print(sent.line())
                print(f"  ratio dispatch / baseline: {ratios[-1]:.2f}")
            if args.rounds > 1:
                ratios.sort()
                print(f"  median ratio over {args.rounds} rounds: {ratios[len(ratios) // 2]:.2f}")

            if not args.no_lateness:
                for per_second, limit in ((args.lateness_rate, None), (args.limited_rate, args.limit)):  # fmt: skip
                    run, late, states, busiest = lateness_run(
                        ctx, url, base_url, people, args, per_second=per_second, limit=limit
                    )
                    count = int(per_second * args.lateness_seconds)
                    label = "off" if limit is None else f"{limit:g}/s"
                    print(f"lateness (due -> handed over), {per_second:g} rows/s due for "
                          f"{args.lateness_seconds:g} s, PEERLINE_SEND_RATE={label}:")  # fmt: skip
                    print(f"  {len(late):,} of {count:,} sent; p50 {quantile(late, 0.5):.3f} s, "
                          f"p99 {quantile(late, 0.99):.3f} s, max {quantile(late, 1.0):.3f} s; "
                          f"rows {dict(states)}")  # fmt: skip
                    print(f"  most sends in any 1 s at the stub: {busiest}   CPU us/msg: process "
                          f"{run.cpu / max(1, len(late)) * 1e6:.0f}   cores busy "
                          f"{run.cores_busy:.2f}   peak RSS {run.rss_mb:.0f} MB")  # fmt: skip

            if args.profile:
                os.makedirs(args.profile, exist_ok=True)
                base, sent = throughput(
                    ctx, url, base_url, people, args, "profile", threads=1, workers=1,
                    planned=planned, profile=args.profile,
                )  # fmt: skip
                print("\nprofiled, 1 process x 1 thread, under cProfile (slower than above):")
                print(base.line())
                print(sent.line())
                summarise_profile(
                    os.path.join(args.profile, "baseline.pstats"), args.messages, "baseline"
                )
                summarise_profile(
                    os.path.join(args.profile, "dispatch.pstats"), args.messages, "dispatch"
                )
    finally:
        stop_stub(stub)


if __name__ == "__main__":
    main()
