"""`peerline import`: a coordinator's roster file, dry run first, then imported in one go."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.cli import imports as cli_import
from service.models import (
    AuditEntry,
    Base,
    Channel,
    ConsentChange,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
)
from service.people.roster_import import ImportPlan, plan_import
from service.sending.dispatch import send_now
from tests.support import RecordingGateway, invoke, make_group, make_participant, text_in

INVITATION_EN = (
    "Peerline: Robin added this number for reminders for Circle Group. Reply YES to confirm. "
    "Msg&data rates may apply. Reply STOP to cancel."
)
INVITATION_ES = (
    "Peerline: Robin agrego este numero para recordatorios de Circle Group. Responda SI para "
    "confirmar. Pueden aplicarse tarifas. Responda PARAR para cancelar."
)

# Bad rows of every kind, in turn; each replaces a good row, so the file keeps its length.
BAD_KINDS = [
    ("555-0100,Short,,,", "the phone number ***0100 is not a valid number for US"),
    (",No phone,,,", "no phone number"),
    ("{phone},Mars,,Mars/Base,", "time zone 'Mars/Base' is not known"),
    ("{phone},Fax,,,fax", "channel must be sms or voice, not 'fax'"),
    ("{phone},French,fr,,", "language must be en or es, not 'fr'"),
    ("1.20256E+10,Excel,,,", "the phone number was turned into a number like 1.2E+10"),
    ("{phone},Many,de,,pigeon", "language must be en or es, not 'de'; channel must be sms"),
]


def counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


def assert_no_full_number(output: str) -> None:
    # Seven digits or more, however they are punctuated, would be (most of) someone's number.
    runs = re.findall(r"\d[\d ()\-.]*\d", output)
    assert [r for r in runs if len(re.sub(r"\D", "", r)) >= 7] == []


def write_roster(tmp_path: Path, rows: int = 10_000, bad_every: int = 100) -> dict[int, str]:
    """A roster of rows people, one row in bad_every bad; returns each bad line's reason."""
    lines = ["Phone Number,Name,Language,Time Zone,Channel"]
    bad: dict[int, str] = {}
    for i in range(rows):
        phone = f"(202) 300-{i:04d}"
        line = i + 2
        if i % bad_every == bad_every // 2:
            template, reason = BAD_KINDS[len(bad) % len(BAD_KINDS)]
            lines.append(template.format(phone=phone))
            bad[line] = reason
        else:
            language = "es" if i % 3 == 0 else ""
            lines.append(f'{phone},"Person {i}, the {i}th",{language},America/Denver,sms')
    (tmp_path / "roster.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bad


def tally(output: str) -> dict[str, int]:
    found = re.findall(r"^  (.+): ([\d,]+)$", output, flags=re.MULTILINE)
    return {label: int(n.replace(",", "")) for label, n in found}


def reported(output: str) -> dict[int, str]:
    found = re.findall(r"^line (\d+): (.*)$", output, flags=re.MULTILINE)
    return {int(line): reason for line, reason in found}


@pytest.mark.slow  # ten thousand rows
def test_a_ten_thousand_row_roster_dry_run_then_refused_then_imported(
    runner: FlaskCliRunner, session: Session, gateway: RecordingGateway, tmp_path: Path
) -> None:
    make_group(session, "CIRCLE")
    bad = write_roster(tmp_path)
    assert len(bad) == 100
    roster = str(tmp_path / "roster.csv")
    before = counts(session)

    dry = invoke(runner, "import", roster, "--group", "circle")

    assert dry.exit_code == 1, dry.output
    shown = reported(dry.output)
    assert sorted(shown) == sorted(bad)
    assert all(shown[line].startswith(reason) for line, reason in bad.items())
    assert "roster.csv: 10,000 rows, 9,900 numbers to import, 100 bad rows" in dry.output
    assert tally(dry.output) == {
        "new to CIRCLE": 9_900,
        "already in CIRCLE": 0,
        "opted out, kept opted out and sent nothing": 0,
        "left CIRCLE earlier, not added back (use: peerline participants add)": 0,
        "welcome texts, pending until they reply YES": 9_900,
        "prior written consent recorded, active at once": 0,
    }
    assert "dry run: nothing was imported" in dry.output
    assert_no_full_number(dry.output)
    assert counts(session) == before

    refused = invoke(runner, "import", roster, "--group", "CIRCLE", "--apply")

    assert refused.exit_code == 1
    assert sorted(reported(refused.output)) == sorted(bad)
    assert "nothing was imported: 100 bad rows" in refused.output
    assert counts(session) == before

    done = invoke(runner, "import", roster, "--group", "CIRCLE", "--apply", "--skip-bad-rows")

    assert done.exit_code == 0, done.output
    assert tally(done.output) == tally(dry.output)
    assert "skipped 100 bad rows" in done.output
    assert "9,900 welcome texts queued for the dispatcher" in done.output
    assert_no_full_number(done.output)
    after = counts(session)
    assert (after["participants"], after["memberships"], after["outbox_messages"]) == (
        9_900,
        9_900,
        9_900,
    )
    assert after["consent_events"] == 0
    assert gateway.sent == []  # queued: the dispatcher sends them, at the sender's rate
    statuses = session.scalars(select(Membership.status).distinct()).all()
    assert statuses == [MembershipStatus.PENDING]
    # Every bad row left out; every good one in, with the details the file gave.
    phones = set(session.scalars(select(Participant.phone)))
    bad_phones = {f"+1202300{line - 2:04d}" for line in bad}
    good_phones = {f"+1202300{i:04d}" for i in range(10_000)} - bad_phones
    assert phones == good_phones
    sample = session.scalars(select(Participant).where(Participant.phone == "+12023000042")).one()
    assert (sample.name, sample.language, sample.timezone, sample.channel) == (
        "Person 42, the 42th",
        "es",
        "America/Denver",
        Channel.SMS,
    )
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "participants.import")
    ).one()
    assert entry.details == {
        "rows": 10_000,
        "bad_rows_skipped": 100,
        "added": 9_900,
        "already_members": 0,
        "kept_opted_out": 0,
        "left_before": 0,
        "invited": 9_900,
        "consent_recorded": 0,
    }


def test_numbers_that_opted_out_stay_opted_out_whatever_the_file_says(
    runner: FlaskCliRunner,
    client: FlaskClient,
    session: Session,
    gateway: RecordingGateway,
    tmp_path: Path,
) -> None:
    group = make_group(session, "CIRCLE")
    other = make_group(session, "OTHER")
    make_participant(session, "+12025550142", other)
    text_in(client, "+12025550142", "STOP")  # a participant elsewhere, who opted out
    text_in(client, "+12025550143", "STOP")  # a stranger, who did too
    gateway.sent.clear()
    roster = tmp_path / "roster.csv"
    roster.write_text("phone,name\n202-555-0142,Sam\n202-555-0143,Lee\n202-555-0144,Kim\n")

    for args in ((), ("--consented", "signed forms, 2026 binder")):
        result = invoke(runner, "import", str(roster), "--group", "CIRCLE", "--apply", *args)
        assert result.exit_code == 0, result.output
        assert "opted out, kept opted out and sent nothing: 2" in result.output
        assert_no_full_number(result.output)

    session.expire_all()
    consent = {
        phone: state
        for phone, state in session.execute(select(Participant.phone, Participant.consent))
    }
    assert consent == {
        "+12025550142": ConsentState.REVOKED,
        "+12025550143": ConsentState.REVOKED,
        "+12025550144": ConsentState.GRANTED,  # the second run recorded their consent
    }
    invited = session.scalars(
        select(Participant.phone)
        .join(OutboxMessage)
        .where(OutboxMessage.kind == OutboxKind.INVITATION)
    ).all()
    assert invited == ["+12025550144"]
    opt_ins = session.scalars(
        select(ConsentEvent).where(ConsentEvent.change == ConsentChange.OPT_IN)
    ).all()
    assert [e.participant_id for e in opt_ins] == [
        session.scalar(select(Participant.id).where(Participant.phone == "+12025550144"))
    ]
    # In the group, but only they can bring themselves back (START, then YES).
    held = session.scalars(
        select(Membership.status)
        .join(Participant)
        .where(Membership.group_id == group.id, Participant.phone != "+12025550144")
    ).all()
    assert held == [MembershipStatus.PENDING, MembershipStatus.PENDING]
    assert gateway.sent == []


def test_prior_written_consent_goes_in_the_ledger_as_an_import(
    runner: FlaskCliRunner, session: Session, gateway: RecordingGateway, tmp_path: Path
) -> None:
    make_group(session, "CIRCLE")
    roster = tmp_path / "roster.csv"
    roster.write_text("phone,name\n2025550142,Sam\n2025550143,Lee\n")

    result = invoke(
        runner,
        "import",
        str(roster),
        "--group",
        "CIRCLE",
        "--apply",
        "--consented",
        "  paper forms,   cabinet 2 ",
    )

    assert result.exit_code == 0, result.output
    assert "prior written consent recorded, active at once: 2" in result.output
    assert "queued" not in result.output
    events = session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
    assert [(e.change, e.source, e.words) for e in events] == [
        (ConsentChange.OPT_IN, ConsentSource.IMPORT, "paper forms, cabinet 2")
    ] * 2
    assert {p.consent for p in session.scalars(select(Participant))} == {ConsentState.GRANTED}
    assert {m.status for m in session.scalars(select(Membership))} == {MembershipStatus.ACTIVE}
    assert counts(session)["outbox_messages"] == 0
    details = session.scalars(select(AuditEntry.details)).one()
    assert details["consent_recorded"] == 2
    assert "5550142" not in repr(details)


def test_without_consent_they_are_invited_and_pending_until_they_reply_yes(
    app: Flask,
    runner: FlaskCliRunner,
    client: FlaskClient,
    session: Session,
    gateway: RecordingGateway,
    tmp_path: Path,
) -> None:
    make_group(session, "CIRCLE")
    roster = tmp_path / "roster.csv"
    roster.write_text("phone,language\n2025550142,\n2025550143,es\n")

    result = invoke(runner, "import", str(roster), "--group", "CIRCLE", "--apply")

    assert result.exit_code == 0, result.output
    assert "2 welcome texts queued" in result.output
    queued = session.execute(
        select(Participant.phone, OutboxMessage.kind, OutboxMessage.state, OutboxMessage.body)
        .join(OutboxMessage)
        .order_by(Participant.phone)
    ).all()
    assert [tuple(row) for row in queued] == [
        ("+12025550142", OutboxKind.INVITATION, OutboxState.QUEUED, INVITATION_EN),
        ("+12025550143", OutboxKind.INVITATION, OutboxState.QUEUED, INVITATION_ES),
    ]
    assert {m.status for m in session.scalars(select(Membership))} == {MembershipStatus.PENDING}

    sent = send_now(app, session.scalars(select(OutboxMessage.id)).all())  # as the worker would

    assert [row.state for row in sent] == [OutboxState.SENT, OutboxState.SENT]
    assert gateway.to("+12025550142") == [INVITATION_EN]
    assert gateway.to("+12025550143") == [INVITATION_ES]

    text_in(client, "+12025550142", "YES")

    session.expire_all()
    sam = session.scalars(select(Participant).where(Participant.phone == "+12025550142")).one()
    assert sam.consent is ConsentState.GRANTED
    assert sam.memberships[0].status is MembershipStatus.ACTIVE


def test_people_already_known_are_joined_kept_or_left_alone(
    runner: FlaskCliRunner, session: Session, tmp_path: Path
) -> None:
    group = make_group(session, "CIRCLE")
    other = make_group(session, "OTHER")
    make_participant(session, "+12025550142", group, name="Already In")
    make_participant(session, "+12025550143", other, name="Elsewhere", language="es")
    make_participant(session, "+12025550144", group, name="Left Us", status=MembershipStatus.LEFT)
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "phone,name,language\n"
        "2025550142,New Name,es\n"
        "2025550143,,\n"
        "2025550144,,\n"
        "2025550145,Newcomer,\n"
        "(202) 555-0145,,es\n"  # the same person again: merged
    )

    first = invoke(runner, "import", str(roster), "--group", "CIRCLE", "--apply")
    again = invoke(runner, "import", str(roster), "--group", "CIRCLE", "--apply")

    assert first.exit_code == 0, first.output
    assert tally(first.output) == {
        "new to CIRCLE": 2,  # the number known in OTHER is told apart from nobody new
        "already in CIRCLE": 1,
        "opted out, kept opted out and sent nothing": 0,
        "left CIRCLE earlier, not added back (use: peerline participants add)": 1,
        "welcome texts, pending until they reply YES": 2,
        "prior written consent recorded, active at once": 0,
    }
    assert "line 6: the number +1******0145 is also on line 5: rows merged" in first.output
    assert "welcome texts, pending until they reply YES: 0" in again.output  # not twice a day
    session.expire_all()
    people = {p.phone: p for p in session.scalars(select(Participant))}
    # Details a participant already has are theirs: a file does not overwrite them. The name
    # it gives is this group's name for them.
    assert (people["+12025550142"].name, people["+12025550142"].language) == ("Already In", "en")
    assert [m.name for m in people["+12025550142"].memberships] == ["New Name"]
    assert (people["+12025550145"].name, people["+12025550145"].language) == ("Newcomer", "es")
    status = {
        phone: state
        for phone, state in session.execute(
            select(Participant.phone, Membership.status)
            .join(Membership)
            .where(Membership.group_id == group.id)
        )
    }
    assert status == {
        "+12025550142": MembershipStatus.ACTIVE,
        "+12025550143": MembershipStatus.PENDING,
        "+12025550144": MembershipStatus.LEFT,
        "+12025550145": MembershipStatus.PENDING,
    }
    invitations = session.execute(
        select(Participant.phone, OutboxMessage.body)
        .join(OutboxMessage)
        .order_by(Participant.phone)
    ).all()
    # Someone known to OTHER in Spanish is invited as anyone new to CIRCLE would be, in the
    # group's language: an invitation in their own would tell CIRCLE they are known elsewhere.
    assert [tuple(row) for row in invitations] == [
        ("+12025550143", INVITATION_EN),
        ("+12025550145", INVITATION_ES),
    ]
    elsewhere = people["+12025550143"]
    by_group = {m.group_id: m.language for m in elsewhere.memberships}
    assert (elsewhere.language, by_group) == ("es", {other.id: "es", group.id: "en"})


def test_bad_input_is_a_clear_error_and_changes_nothing(
    runner: FlaskCliRunner, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_group(session, "CIRCLE")
    before = counts(session)
    no_phone = tmp_path / "people.csv"
    no_phone.write_text("name,email\nSam,sam@example.org\n")
    good = tmp_path / "roster.csv"
    good.write_text("phone\n2025550142\n")
    workbook = tmp_path / "roster.xlsx"
    workbook.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U0#\xf4")

    cases = [
        (("import", str(no_phone), "--group", "CIRCLE", "--apply"), "no phone column"),
        (("import", str(workbook), "--group", "CIRCLE", "--apply"), "save it as CSV UTF-8"),
        (("import", str(good), "--group", "NOPE", "--apply"), "no group has the code NOPE"),
        (("import", str(good), "--group", "CIRCLE", "--apply", "--consented", " "), "needs a note"),
        (("import", str(tmp_path / "missing.csv"), "--group", "CIRCLE"), "does not exist"),
        (("import", str(good), "--group", "CIRCLE", "--region", "XX"), "'XX' is not a two-letter"),
    ]
    for args, message in cases:
        result = invoke(runner, *args)
        assert result.exit_code != 0, args
        assert message in result.output, result.output
    assert "nothing was imported" in invoke(runner, *cases[0][0]).output
    monkeypatch.setattr(cli_import, "MAX_FILE_BYTES", 10)
    too_big = invoke(runner, "import", str(good), "--group", "CIRCLE", "--apply")
    assert too_big.exit_code == 1
    assert "roster.csv: too large for a roster (17 bytes, the most is 10)" in too_big.output
    assert counts(session) == before


def test_a_clean_dry_run_succeeds_and_says_how_to_import(
    runner: FlaskCliRunner, session: Session, tmp_path: Path
) -> None:
    make_group(session, "CIRCLE")
    roster = tmp_path / "roster.csv"
    roster.write_text("phone,notes\n2025550142,call after 5\n")

    result = invoke(runner, "import", str(roster), "--group", "CIRCLE")

    assert result.exit_code == 0, result.output
    assert "note: line 1: columns not used: 'notes'" in result.output
    assert "run again with --apply to import" in result.output
    assert counts(session)["participants"] == 0


def test_a_number_added_elsewhere_during_the_import_leaves_nothing_half_written(
    app: Flask,
    runner: FlaskCliRunner,
    session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_group(session, "CIRCLE")
    roster = tmp_path / "roster.csv"
    roster.write_text("phone\n2025550142\n2025550143\n")
    before = counts(session)

    def plan_then_someone_texts_join(*args: Any, **kwargs: Any) -> ImportPlan:
        planned = plan_import(*args, **kwargs)
        make_participant(session, "+12025550143")  # between the plan and its writing
        return planned

    monkeypatch.setattr(cli_import, "plan_import", plan_then_someone_texts_join)

    result = invoke(runner, "import", str(roster), "--group", "CIRCLE", "--apply")

    assert result.exit_code == 1
    assert "nothing was imported; run it again" in result.output
    assert counts(session) == {**before, "participants": 1, "memberships": 0}
