"""`peerline retention run`: blank the words of old texts now, as the daily job does."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from service.cli.common import audited, now, settings
from service.db import get_session
from service.messages.retention import batches, count_old


@click.group(help="The words of texts are kept PEERLINE_RETENTION_DAYS days, then blanked.")
def retention() -> None:
    pass


@retention.command(
    "run",
    help="Blank the words of texts sent and received more than PEERLINE_RETENTION_DAYS days "
    "ago (a daily job does it too); the rows, counts and the consent ledger stay.",
)
@click.option("--dry-run", is_flag=True, help="Only say how many texts would be blanked.")
@with_appcontext
def run(dry_run: bool) -> None:
    session = get_session()
    days = settings().retention_days
    if dry_run:
        found = count_old(session, now(), days)
        click.echo(
            f"would blank the words of {found.outbox} sent and {found.inbound} received "
            f"text(s) older than {days} days"
        )
        return
    outbox = inbound = 0
    for batch in batches(session, now(), days):
        session.commit()
        outbox, inbound = outbox + batch.outbox, inbound + batch.inbound
    audited(session, "retention.run", days=days, sent=outbox, received=inbound)
    session.commit()
    click.echo(
        f"blanked the words of {outbox} sent and {inbound} received text(s) older than {days} days"
    )
