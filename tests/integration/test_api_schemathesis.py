"""Schemathesis against the served OpenAPI document: no 5xx, and every answer as documented.

Every operation the document at /api/v1/openapi.json describes is fuzzed through the live
Flask app (WSGI, no network), with valid and invalid input, as an admin and as a coordinator
of one group, over data that gives each endpoint something to return. Nothing is listed by
hand: a new endpoint is covered once it is in the document. The run is bounded (25 examples
per operation and mode, each sent as both, no shrinking), and slow: `-m "not slow"` leaves it
out.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok
from sqlalchemy.orm import Session

from service.campaigns.planner import plan
from service.models import (
    CampaignKind,
    ConsentState,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Role,
)
from tests.api import token_for
from tests.support import (
    Clock,
    make_campaign,
    make_group,
    make_participant,
    make_schedule,
    text_in,
)

OPENAPI = "/api/v1/openapi.json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SEEDED_IDS = 8  # each table's seeded rows have ids from 1 to about this
# Bounded: a few dozen examples per operation and mode, no shrinking (a failure is reported as
# found), no example database, and no deadline (the first request of a test is slow).
EXAMPLES = 25


def bounded(examples: int) -> settings:
    return settings(
        max_examples=examples,
        phases=[Phase.explicit, Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


@dataclass
class Tokens:
    admin: str
    coordinator: str  # Robin, who runs CIRCLE only


@pytest.fixture
def tokens(client: FlaskClient, session: Session, clock: Clock) -> Tokens:
    """Two groups with members, a meeting, campaigns, texts in the inbox and outbox rows."""
    circle = make_group(session, "CIRCLE", coordinator_email="robin@example.org")
    other = make_group(session, "OTHER", language="es", coordinator_email="kim@example.org")
    make_schedule(session, circle)
    make_schedule(session, other, rule="FREQ=WEEKLY;BYDAY=TH", location=None)
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["1d@18:00", "2h"], rsvp=True)
    make_campaign(session, other, CampaignKind.REMINDER, offsets=["2h"])
    make_participant(session, "+12025550142", circle, other, name="Sam Rivera")
    make_participant(session, "+12025550143", circle, name=None)
    make_participant(session, "+12025550144", other, name="Lucia Gomez", language="es")
    make_participant(session, "+12025550145", circle, status=MembershipStatus.LEFT)
    make_participant(
        session, "+12025550146", circle, consent=ConsentState.UNKNOWN,
        status=MembershipStatus.PENDING,
    )  # fmt: skip
    text_in(client, "+12025550142", "can I bring a friend?")
    text_in(client, "+12025550142", "C")  # coming tonight
    text_in(client, "+12025550143", "I want to die")
    text_in(client, "+12025550144", "hola, ¿a qué hora es?")
    text_in(client, "+12025550145", "STOP")
    text_in(client, "+12025550199", "who is this?")  # a stranger: no group
    plan(session, clock.now)
    session.add_all(
        [
            OutboxMessage(
                send_key="seed-sent", kind=OutboxKind.ONE_OFF, group_id=circle.id,
                to_phone="+12025550142", body="See you tonight", state=OutboxState.SENT,
                attempts=1, due_at=clock.now - timedelta(hours=1),
                sent_at=clock.now - timedelta(hours=1),
            ),
            OutboxMessage(
                send_key="seed-failed", kind=OutboxKind.ONE_OFF, group_id=other.id,
                to_phone="+12025550144", body="Hasta el jueves", state=OutboxState.FAILED,
                state_reason="seeded", attempts=3, error_code=30003,
            ),
        ]
    )  # fmt: skip
    session.commit()
    return Tokens(
        admin=token_for(session, clock, "admin@example.org", Role.ADMIN),
        coordinator=token_for(session, clock, "robin@example.org"),
    )


def aim(case: schemathesis.Case[Any], row_id: int) -> None:
    """Point the case's integer ids (path, query, top-level body fields) at a seeded row.

    Random ids almost never name a row, so without this most requests would end in a 404 and
    the answers carrying data would rarely be checked.
    """
    for part in (case.path_parameters, case.query, case.body):
        if isinstance(part, dict):
            for name, value in part.items():
                if (name == "id" or name.endswith("_id")) and type(value) is int:
                    part[name] = row_id


def fuzz(app: Flask, tokens: dict[str, str], examples: int) -> None:
    """Every operation of the served document, with valid and with invalid input, each example
    sent as each of the tokens' holders in turn (their names are the keys).

    Drawing an example costs more than serving it (some 8 ms against 4 on this machine), so
    each one drawn is sent by every holder: the same number of requests per holder as a run of
    its own, for one draw.
    """
    schema = schemathesis.openapi.from_wsgi(OPENAPI, app)
    exercised: Counter[str] = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):  # a part of the document that cannot be read
            failures.append(f"unreadable operation: {result.err()}")
            continue
        operation = result.ok()
        for mode in GenerationMode:

            @bounded(examples)
            @given(
                case=operation.as_strategy(generation_mode=mode),
                row_id=st.none() | st.integers(min_value=1, max_value=SEEDED_IDS),
            )
            def check(case: schemathesis.Case[Any], row_id: int | None) -> None:
                if row_id is not None:
                    aim(case, row_id)
                exercised[case.operation.label] += 1
                for holder, token in tokens.items():
                    try:
                        case.call_and_validate(
                            headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
                        )
                    except (Exception, schemathesis.errors.FailureGroup) as failure:
                        failure.add_note(f"(sent as {holder})")
                        raise

            try:
                check()
            # Every operation's failures are reported, not only the first operation's.
            except (Exception, schemathesis.errors.FailureGroup) as failure:
                notes = "\n".join(getattr(failure, "__notes__", []))
                failures.append(f"{operation.label} ({mode.value} input):\n{failure}\n{notes}")
    documented = {r.ok().label for r in schema.get_all_operations() if isinstance(r, Ok)}
    assert documented, "the OpenAPI document describes no operation"
    assert sorted(documented - set(exercised)) == [], "operations that were never called"
    assert not failures, "\n\n".join(failures)


@pytest.mark.slow
def test_no_server_errors_and_answers_as_documented_for_an_admin_and_a_coordinator(
    app: Flask, tokens: Tokens
) -> None:
    fuzz(app, {"an admin": tokens.admin, "a coordinator": tokens.coordinator}, EXAMPLES)


def test_the_document_describes_every_api_route(app: Flask, client: FlaskClient) -> None:
    """What the fuzzing above cannot reach: a route under /api/v1 the document leaves out."""
    document = client.get(OPENAPI).get_json()
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    }
    served = {
        (method, re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        # The document itself, and its page for people, are not operations of the API.
        if rule.rule.startswith("/api/v1/") and rule.rule not in (OPENAPI, "/api/v1/docs")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert sorted(served - documented) == []
