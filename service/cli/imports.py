"""`peerline import`: a roster from a CSV file, checked in a dry run before anything is written."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
import phonenumbers
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import IntegrityError

from service.cli.common import audited, fail, find_group, now, settings
from service.db import get_session
from service.people.roster import Parsed, RosterError, parse
from service.people.roster_import import ImportResult, apply_import, plan_import

log = logging.getLogger(__name__)

NOTES_SHOWN = 20  # a file full of repeated numbers need not scroll the bad rows away
MAX_FILE_BYTES = 64 * 1024 * 1024  # 50,000 rows are a few MB; far more is not a roster


@click.command(
    "import",
    help="Add the participants in a CSV file (columns: phone, and optionally name, language, "
    "time zone, channel) to a group. Without --apply it is a dry run that lists every bad row "
    "and writes nothing.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--group", "code", required=True, help="The group's join code.")
@click.option("--apply", "apply", is_flag=True, help="Import, in one transaction.")
@click.option(
    "--skip-bad-rows", is_flag=True, help="With --apply: import the good rows, leave the bad."
)
@click.option(
    "--consented",
    "consent_note",
    default=None,
    help="Record prior written consent for everyone in the file (say where it is kept); "
    "otherwise each is texted to reply YES and stays pending until they do.",
)
@click.option(
    "--region",
    default=None,
    help="Where numbers written without a country code are (default PEERLINE_DEFAULT_REGION).",
)
@with_appcontext
def import_roster(
    file: Path,
    code: str,
    apply: bool,
    skip_bad_rows: bool,
    consent_note: str | None,
    region: str | None,
) -> None:
    config = settings()
    if consent_note is not None:
        consent_note = " ".join(consent_note.split())
        if not consent_note:
            fail("--consented needs a note saying where the written consent is kept")
    region = (region or config.default_region).upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        fail(f"--region: {region!r} is not a two-letter region code such as US")
    session = get_session()
    group = find_group(session, code)
    try:
        if (size := file.stat().st_size) > MAX_FILE_BYTES:
            fail(
                f"{file.name}: too large for a roster ({size:,} bytes, the most is "
                f"{MAX_FILE_BYTES:,}); nothing was imported"
            )
        with file.open(encoding="utf-8-sig", newline="") as lines:
            parsed = parse(
                lines,
                default_region=region,
                default_timezone=group.timezone,
                default_language=group.language,
            )
    except RosterError as error:
        fail(f"{file.name}: {error}; nothing was imported")
        return
    except OSError as error:
        fail(f"{file.name}: cannot be read: {error.strerror}")
        return
    _report(file, parsed)

    moment = now()
    plan = plan_import(
        session,
        group,
        parsed,
        consent_note=consent_note,
        hash_key=config.secret_key,
        now=moment,
    )
    bad = len(parsed.problems)
    if not apply:
        click.echo(f"An import into {group.join_code} would do this:")
        _counts(plan.expected(), group.join_code)
        if bad:
            click.echo(
                f"dry run: nothing was imported. {_count(bad, 'bad row')}: fix them, or run "
                "again with --apply --skip-bad-rows to import the other rows"
            )
            sys.exit(1)
        click.echo("dry run: nothing was imported; run again with --apply to import")
        return
    if bad and not skip_bad_rows:
        fail(
            f"nothing was imported: {_count(bad, 'bad row')}; fix them, or add --skip-bad-rows "
            "to import the other rows"
        )

    try:
        result = apply_import(
            session, plan, wording=current_app.extensions["peerline.wording"], now=moment
        )
        audited(
            session,
            "participants.import",
            group,
            rows=parsed.rows_read,
            bad_rows_skipped=bad,
            **result.counts(),
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        fail(
            "some of these numbers were added by someone else while the import ran; "
            "nothing was imported; run it again"
        )
        return
    log.info("roster imported into %s: %s", group.join_code, result.counts())
    click.echo(f"Imported into {group.join_code}:")
    _counts(result, group.join_code)
    if bad:
        click.echo(f"skipped {_count(bad, 'bad row')} (listed above)")
    if result.invited:
        click.echo(
            f"{_count(result.invited, 'welcome text')} queued for the dispatcher "
            "(peerline serve or peerline worker) to send"
        )


def _report(file: Path, parsed: Parsed) -> None:
    click.echo(
        f"{file.name}: {_count(parsed.rows_read, 'row')}, "
        f"{_count(len(parsed.rows), 'number')} to import, "
        f"{_count(len(parsed.problems), 'bad row')}"
    )
    for problem in parsed.problems:
        click.echo(f"line {problem.line}: {problem.reason}")
    for note in parsed.notes[:NOTES_SHOWN]:
        where = f"line {note.line}: " if note.line is not None else ""
        click.echo(f"note: {where}{note.message}")
    if len(parsed.notes) > NOTES_SHOWN:
        click.echo(f"note: and {len(parsed.notes) - NOTES_SHOWN:,} more like these")


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def _counts(result: ImportResult, code: str) -> None:
    lines = [
        (f"new to {code}", result.added),
        (f"already in {code}", result.already_members),
        ("opted out, kept opted out and sent nothing", result.kept_opted_out),
        (f"left {code} earlier, not added back (use: peerline participants add)",
         result.left_before),
        ("welcome texts, pending until they reply YES", result.invited),
        ("prior written consent recorded, active at once", result.consent_recorded),
    ]  # fmt: skip
    for label, n in lines:
        click.echo(f"  {label}: {n:,}")
