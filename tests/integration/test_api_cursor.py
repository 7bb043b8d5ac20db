"""Long lists go on by cursor: `after` a page's `next_after`, read from an index, never offset."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session

from service.models import Group, InboundMessage, OutboxKind, OutboxMessage, OutboxState, Role
from service.web.api.auth import encode_cursor
from tests.api import get, token_for, two_coordinators
from tests.integration.test_metrics import Statement, outbox_rows_read, statements_run
from tests.support import Clock, make_group, make_participant


def _outbox(session: Session, group: Group, count: int, clock: Clock, shift: int = 0) -> None:
    """count one-off texts to group, three at each due time (so the id breaks ties), every
    fourth one failed."""
    start = clock.now - timedelta(days=2)
    for n in range(count):
        session.add(
            OutboxMessage(
                send_key=f"one-off:{group.id}:{n}",
                kind=OutboxKind.ONE_OFF,
                group_id=group.id,
                to_phone="+12025550199",
                body="See you Tuesday.",
                state=OutboxState.FAILED if n % 4 == 0 else OutboxState.SENT,
                due_at=start + timedelta(minutes=10 * (n // 3) + shift),
            )
        )
    session.commit()


def _walk(client: FlaskClient, path: str, token: str) -> tuple[list[Any], list[dict[str, Any]]]:
    """Every page of a list, the first by number and the rest by `next_after`; returns the
    rows and each page's X-Pagination header."""
    headers = {"Authorization": f"Bearer {token}"}
    joiner = "&" if "?" in path else "?"
    reply = client.get(path, headers=headers)
    rows, pagings = [], []
    while True:
        assert reply.status_code == 200, reply.get_json()
        rows.extend(reply.get_json())
        paging = json.loads(reply.headers["X-Pagination"])
        pagings.append(paging)
        if "next_after" not in paging:
            assert "Link" not in reply.headers
            return rows, pagings
        assert reply.headers["Link"].endswith('>; rel="next"')
        assert f"after={paging['next_after']}" in reply.headers["Link"]
        reply = client.get(f"{path}{joiner}after={paging['next_after']}", headers=headers)


def test_walking_the_outbox_by_cursor_gives_every_row_once_latest_first(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, _ = two_coordinators(session, clock)
    _outbox(session, mine, 23, clock)
    _outbox(session, theirs, 7, clock)
    expected = session.execute(
        select(OutboxMessage.id, OutboxMessage.state)
        .where(OutboxMessage.group_id == mine.id)
        .order_by(OutboxMessage.due_at.desc(), OutboxMessage.id.desc())
    ).all()

    rows, pagings = _walk(client, "/api/v1/outbox?page_size=4", robin)
    failed, _ = _walk(client, "/api/v1/outbox?page_size=2&state=failed", robin)

    assert [r["id"] for r in rows] == [row.id for row in expected]
    assert len(pagings) == 6
    assert pagings[0]["total"] == 23  # the first page is counted, as before
    assert all("total" not in paging for paging in pagings[1:])  # later ones are not
    assert [r["id"] for r in failed] == [
        row.id for row in expected if row.state is OutboxState.FAILED
    ]


def test_page_numbers_still_work_and_a_numbered_page_says_where_to_go_on(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    _outbox(session, mine, 9, clock)
    headers = {"Authorization": f"Bearer {robin}"}

    second = client.get("/api/v1/outbox?page_size=3&page=2", headers=headers)
    paging = json.loads(second.headers["X-Pagination"])
    third = client.get(f"/api/v1/outbox?page_size=3&after={paging['next_after']}", headers=headers)
    by_number = client.get("/api/v1/outbox?page_size=3&page=3", headers=headers)

    assert (paging["total"], paging["page"], paging["next_page"]) == (9, 2, 3)
    assert third.get_json() == by_number.get_json()
    assert len(third.get_json()) == 3
    assert "next_after" not in json.loads(third.headers["X-Pagination"])


def test_walking_participants_and_memberships_by_cursor_gives_each_once_by_id(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, kim = two_coordinators(session, clock)
    for n in range(6):
        make_participant(session, f"+1202555017{n}", mine if n % 2 else theirs)

    people, _ = _walk(client, "/api/v1/participants?page_size=2", robin)
    theirs_people, _ = _walk(client, "/api/v1/participants?page_size=2", kim)
    memberships, _ = _walk(client, "/api/v1/memberships?page_size=1", robin)

    assert len(people) == 4  # Sam and three others
    assert [p["id"] for p in people] == sorted(p["id"] for p in people)
    assert len(theirs_people) == 3
    assert not {p["id"] for p in people} & {p["id"] for p in theirs_people}
    assert [m["id"] for m in memberships] == sorted(m["id"] for m in memberships)
    assert {m["group_id"] for m in memberships} == {mine.id}
    assert len(memberships) == 4


def test_the_audit_log_walks_by_cursor_newest_first(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, _, _ = two_coordinators(session, clock)
    admin = token_for(session, clock, "admin@example.org", Role.ADMIN)
    for n in range(5):  # each a change, audited
        reply = client.patch(
            f"/api/v1/groups/{mine.id}",
            json={"public_name": f"Circle {n}"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert reply.status_code == 200
    whole = get(client, "/api/v1/audit?page_size=500", admin)[1]

    walked, _ = _walk(client, "/api/v1/audit?page_size=2", admin)

    assert len(whole) >= 5
    assert walked == whole


def _cursor(parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def test_a_bad_cursor_is_a_422_naming_after(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    _outbox(session, mine, 5, clock)
    good = json.loads(
        client.get(
            "/api/v1/outbox?page_size=2", headers={"Authorization": f"Bearer {robin}"}
        ).headers["X-Pagination"]
    )["next_after"]
    bad = [
        "not a cursor",
        "***",
        _cursor([1]),  # one part where the outbox wants a time and an id
        _cursor(["2026-03-03T10:00:00", 1]),  # no zone
        _cursor(["2026-03-03T10:00:00+00:00", "1"]),
        _cursor(["2026-03-03T10:00:00+00:00", 2**40]),
        _cursor({"due_at": "2026-03-03T10:00:00+00:00"}),
        good + "x",
    ]

    for cursor in bad:
        status, body = get(client, f"/api/v1/outbox?after={cursor}", robin)
        assert status == 422, cursor
        assert "after" in body["details"]["query"], cursor
    status, body = get(client, "/api/v1/participants?after=" + good, robin)  # not its kind
    assert (status, list(body["details"]["query"])) == (422, ["after"])
    status, body = get(client, f"/api/v1/outbox?page=2&after={good}", robin)
    assert (status, list(body["details"]["query"])) == (422, ["page"])
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 5


def test_a_cursor_from_another_coordinators_list_reaches_only_the_callers_rows(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, kim = two_coordinators(session, clock)
    _outbox(session, mine, 12, clock)
    _outbox(session, theirs, 12, clock, shift=5)  # between Robin's rows in time
    robins_page = client.get(
        "/api/v1/outbox?page_size=3", headers={"Authorization": f"Bearer {robin}"}
    )
    cursor = json.loads(robins_page.headers["X-Pagination"])["next_after"]
    last_seen = session.get(OutboxMessage, robins_page.get_json()[-1]["id"])
    assert last_seen is not None
    kims_after = session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.group_id == theirs.id, OutboxMessage.due_at < last_seen.due_at)
        .order_by(OutboxMessage.due_at.desc(), OutboxMessage.id.desc())
    ).all()

    status, rows = get(client, f"/api/v1/outbox?page_size=500&after={cursor}", kim)

    assert status == 200
    assert {r["group_id"] for r in rows} == {theirs.id}
    assert [r["id"] for r in rows] == list(kims_after)
    assert 0 < len(kims_after) < 12


def _plan(engine: Engine, statement: Statement) -> list[str]:
    """SQLite's plan of statement, a line per step."""
    with engine.connect() as conn:
        found = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement.sql, statement.parameters)
        return [str(row[3]) for row in found]


@pytest.mark.slow  # 1.2 s alone on SQLite, 2.3 s on PostgreSQL: 24,600 rows of history
def test_a_deep_page_of_a_filtered_outbox_reads_only_its_own_rows(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, _ = two_coordinators(session, clock)
    start = clock.now - timedelta(days=300)

    def rows(group: Group, count: int) -> list[dict[str, Any]]:
        return [
            {
                "send_key": f"history:{group.id}:{n}",
                "kind": OutboxKind.ONE_OFF,
                "group_id": group.id,
                "to_phone": "+12025550199",
                "body": "See you Tuesday.",
                "state": OutboxState.FAILED if n % 4 == 0 else OutboxState.DELIVERED,
                "due_at": start + timedelta(minutes=7 * n + group.id % 7),
                "sent_at": start + timedelta(minutes=7 * n + group.id % 7),
                "created_at": clock.now,
                "updated_at": clock.now,
            }
            for n in range(count)
        ]

    # Forty other groups' sends, as many as the caller's each, over the same days.
    others = [theirs] + [
        make_group(session, f"OTHER{n}", coordinator_email="kim@example.org") for n in range(39)
    ]
    history = [row for group in [*others, mine] for row in rows(group, 600)]
    session.execute(insert(OutboxMessage), history)
    session.commit()
    session.execute(text("ANALYZE"))
    session.commit()
    deep = session.execute(
        select(OutboxMessage.due_at, OutboxMessage.id)
        .where(OutboxMessage.group_id == mine.id)
        .order_by(OutboxMessage.due_at.desc(), OutboxMessage.id.desc())
        .offset(300)
        .limit(1)
    ).one()
    after = encode_cursor(tuple(deep))
    since = (start + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    engine = session.get_bind()
    assert isinstance(engine, Engine)

    for path in (
        f"/api/v1/outbox?page_size=50&after={after}",
        f"/api/v1/outbox?page_size=50&state=failed&after={after}",
        f"/api/v1/outbox?page_size=50&since={since}&after={after}",
    ):
        with statements_run(engine) as seen:
            reply = client.get(path, headers={"Authorization": f"Bearer {robin}"})
        assert reply.status_code == 200, reply.get_json()
        assert len(reply.get_json()) == 50
        assert {row["group_id"] for row in reply.get_json()} == {mine.id}
        listing = [s for s in seen if "FROM outbox_messages" in s.sql]
        assert len(listing) == 1, listing
        assert "count(" not in listing[0].sql.lower()
        # SQLAlchemy writes SQLite's LIMIT with an OFFSET, given as 0.
        assert "OFFSET" not in listing[0].sql or listing[0].parameters[-1] == 0, listing[0]
        if engine.dialect.name == "postgresql":
            read = outbox_rows_read(engine, listing[0])
            assert read is not None and read <= 200, (path, read)  # of 24,000
        else:
            plan = _plan(engine, listing[0])
            assert all(step.startswith("SEARCH") for step in plan), (path, plan)
            assert not any("TEMP B-TREE" in step for step in plan), (path, plan)


def test_the_openapi_document_describes_the_cursor(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    outbox = document["paths"]["/api/v1/outbox"]["get"]
    after = next(p for p in outbox["parameters"] if p["name"] == "after")
    paging = document["components"]["schemas"]["Paging"]["properties"]

    assert after["schema"] == {"type": "string"}
    assert "next_after" in after["description"]
    assert paging["next_after"]["type"] == "string"
    assert set(outbox["responses"]["200"]["headers"]) == {"X-Pagination", "Link"}


def test_walking_the_inbox_by_cursor_keeps_its_order_urgent_first(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, _ = two_coordinators(session, clock)
    sam = make_participant(session, "+12025550177", mine)
    kinds = [  # (urgent, intent, read): urgent, may ask to stop, unread and read, mixed
        (True, "message", False), (False, "maybe_opt_out", False), (False, "message", True),
        (False, "message", False), (True, "maybe_opt_out", True), (False, "maybe_opt_out", True),
    ]  # fmt: skip
    session.execute(
        insert(InboundMessage),
        [
            {
                "message_sid": f"SM{n:032x}",
                "participant_id": sam.id,
                "group_id": (mine if n % 5 else theirs).id,
                "from_phone": sam.phone,
                "body": f"text {n}",
                "intent": intent,
                "needs_reply": True,
                "urgent": urgent,
                "read": read,
                "received_at": clock.now - timedelta(minutes=n % 4),
            }
            for n, (urgent, intent, read) in enumerate(kinds * 4)
        ],
    )
    session.commit()

    for query in ("", "&state=unread", "&unread=true", "&state=read"):
        walked, pagings = _walk(client, f"/api/v1/inbox?page_size=3{query}", robin)
        status, whole = get(client, f"/api/v1/inbox?page_size=100{query}", robin)

        assert status == 200
        assert [m["id"] for m in walked] == [m["id"] for m in whole], query
        assert len({m["id"] for m in walked}) == len(walked) > 3
        assert {m["group_id"] for m in walked} == {mine.id}
        assert all("total" not in paging for paging in pagings[1:])  # read on, not counted
    urgent_first = [m["urgent"] for m in whole]
    assert urgent_first == sorted(urgent_first, reverse=True)
