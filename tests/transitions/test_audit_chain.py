"""Audit: every event names its actor (user or key), the events endpoint shows it, and the log is
tamper-evident: a hash chain per project, keyed with the server key, that `regieflow verify` checks."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from app.cli import cli
from app.core.keys import derived_key
from app.core.security import CHAIN_PURPOSE, hash_of_event
from app.core.settings import get_settings
from app.core.unit_of_work import UnitOfWorkFactory
from app.projects.models import Event, OutboxMessage
from app.transitions.verify import verify
from tests.support.accounts import add_user, login
from tests.support.api import API, make_key
from tests.support.evidence import PLAN, project_body


def _key() -> bytes:
    return derived_key(get_settings(), CHAIN_PURPOSE)


@pytest.fixture
def history(app, client) -> dict:
    """Two projects with a history written by a consultant key, a porteur (session) and a partner key."""
    mouvement = f"key:{client.headers['Authorization'].split()[1][:11]}"
    pid = client.post(f"{API}/projects", json=project_body()).json()["id"]
    other = client.post(f"{API}/projects", json=project_body(name="Régie voisine")).json()["id"]
    for label in ("Entretien", "Médiation", "Jardins"):
        assert client.post(f"{API}/projects/{other}/needs", json={"label": label}).status_code == 201
    add_user(app, "pauline@example.fr", [("porteur", uuid.UUID(pid), None)])
    partner_key, partner = make_key(app, name="Vilogia", consultant=False)
    partner_headers = {"Authorization": f"Bearer {partner_key}"}
    with (
        TestClient(app, raise_server_exceptions=False) as porteur,
        TestClient(app, raise_server_exceptions=False, headers=partner_headers) as vilogia,
    ):
        login(porteur, "pauline@example.fr")
        assert porteur.post(f"{API}/projects/{pid}/needs", json={"label": "Entretien"}).status_code == 201
        market = {"label": "Halls", "buyer_name": "Vilogia", "buyer_category": "bailleur_social"}
        assert vilogia.post(f"{API}/projects/{pid}/markets", json=market).status_code == 201
        assert (
            client.put(
                f"{API}/projects/{pid}/plan", json={"step_months": PLAN, "horizon_months": 40, "reason": "Retard"}
            ).status_code
            == 200
        )
        assert (
            porteur.post(
                f"{API}/projects/{pid}/transitions/suspendre", json={"reason": "Élections municipales"}
            ).status_code
            == 200
        )
        assert client.post(f"{API}/projects/{pid}/transitions/reprendre", json={"reason": "Reprise"}).status_code == 200
        assert porteur.patch(f"{API}/projects/{pid}", json={"description": "Quartier de l'Alma"}).status_code == 200
    return {
        "pid": pid,
        "other": other,
        "actors": [
            mouvement,
            "user:pauline@example.fr",
            f"key:{partner.prefix}",
            mouvement,
            "user:pauline@example.fr",
            mouvement,
            "user:pauline@example.fr",
        ],
    }


def test_every_event_records_its_actor_and_the_chain_verifies(client, session_factory, history) -> None:
    events = client.get(f"{API}/projects/{history['pid']}/events").json()["items"]
    assert [e["type"] for e in events] == [
        "project.created",
        "evidence.created",
        "evidence.created",
        "plan.changed",
        "project.transitioned",
        "project.transitioned",
        "project.updated",
    ]
    assert [e["actor"] for e in events] == history["actors"]
    for e in events:
        kind, _, ident = e["actor"].partition(":")
        assert kind in ("user", "key") and ident
    # Each event stores an HMAC-SHA256 (server key) over its content and the previous hash, same project.
    with session_factory() as session:
        rows = session.scalars(
            select(Event).where(Event.project_id == uuid.UUID(history["pid"])).order_by(Event.seq)
        ).all()
    assert len(rows) == 7
    prev = None
    for e in rows:
        assert e.prev_hash == prev
        assert re.fullmatch(r"[0-9a-f]{64}", e.hash) and e.hash == hash_of_event(e, _key())
        prev = e.hash
    checked, findings = verify(UnitOfWorkFactory(session_factory))
    assert checked == 2 and findings == []


def _problems(session_factory, pid: str) -> list[str]:
    _, findings = verify(UnitOfWorkFactory(session_factory))
    assert [f.project_id for f in findings] == [uuid.UUID(pid)], findings
    return findings[0].problems


def test_an_event_edited_behind_the_services_back_is_reported(db, session_factory, history) -> None:
    # Plain SQL, the way someone with database access would do it.
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE events SET reason = :r WHERE seq = 4 AND project_id = "
                "(SELECT id FROM projects WHERE name = :name)"
            ),
            {"r": "Aucun retard", "name": project_body()["name"]},
        )
    problems = _problems(session_factory, history["pid"])
    assert any("event 4: content does not match its hash" in p for p in problems), problems


EDITS = [
    (2, "data", {"kind": "needs", "id": 1, "values": {"label": "Autre chose"}}),
    (3, "actor", "user:quelquun@example.fr"),
    (5, "effective_on", date(2026, 1, 1)),
    (6, "to_state", "contours"),
    (7, "recorded_at", datetime(2026, 1, 1, tzinfo=UTC)),
]


def test_any_hashed_field_edited_is_reported(db, session_factory, history) -> None:
    table = Event.__table__
    for seq, column, value in EDITS:
        where = (table.c.project_id == uuid.UUID(history["pid"])) & (table.c.seq == seq)
        with db.begin() as conn:
            original = conn.execute(select(table.c[column]).where(where)).scalar_one()
            conn.execute(update(table).where(where).values({column: value}))
        problems = _problems(session_factory, history["pid"])
        assert any(f"event {seq}: content does not match its hash" in p for p in problems), (column, problems)
        with db.begin() as conn:
            conn.execute(update(table).where(where).values({column: original}))
        assert verify(UnitOfWorkFactory(session_factory))[1] == [], f"restoring {column} should verify again"

    # Someone who rewrites an event and its own hash (even with the key) is caught by the next event's link.
    with session_factory() as session:
        event = session.scalars(
            select(Event).where(Event.project_id == uuid.UUID(history["pid"]), Event.seq == 3)
        ).one()
        event.actor = "user:quelquun@example.fr"
        event.hash = hash_of_event(event, _key())
        session.commit()
    problems = _problems(session_factory, history["pid"])
    assert any("event 4: hash chain broken" in p for p in problems), problems


def test_deleted_events_are_reported(db, session_factory, history) -> None:
    """The last event of one project, a middle one of the other."""
    table, outbox = Event.__table__, OutboxMessage.__table__

    def delete(pid: str, seq: int | None) -> None:
        where = table.c.project_id == uuid.UUID(pid)
        with db.begin() as conn:
            victim = conn.execute(
                select(table.c.id).where(where, table.c.seq == seq)
                if seq
                else select(table.c.id).where(where).order_by(table.c.seq.desc()).limit(1)
            ).scalar_one()
            conn.execute(outbox.delete().where(outbox.c.event_id == victim))
            conn.execute(table.delete().where(table.c.id == victim))

    delete(history["pid"], None)
    delete(history["other"], 2)
    _, findings = verify(UnitOfWorkFactory(session_factory))
    problems = {str(f.project_id): f.problems for f in findings}
    assert set(problems) == {history["pid"], history["other"], "None"}
    # The database as a whole: a hole in the change feed, and its counter above the highest position left.
    assert any("feed positions have 1 gap(s)" in p for p in problems["None"]), problems
    assert any(re.fullmatch(r"feed counter is at (\d+) but the highest position is (\d+)", p) for p in problems["None"])
    assert any("version 7 but 6 events" in p for p in problems[history["pid"]]), problems
    assert any("gaps" in p for p in problems[history["other"]]), problems
    assert any("event 3: hash chain broken" in p for p in problems[history["other"]]), problems


def test_regieflow_verify_reports_the_broken_link(db, history, cli_env: CliRunner) -> None:
    r = cli_env.invoke(cli, ["verify"])
    assert r.exit_code == 0, r.output
    assert "2 project(s) checked, 0 with discrepancies." in r.output
    table = Event.__table__
    with db.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.project_id == uuid.UUID(history["pid"]), table.c.seq == 5)
            .values(reason="Autre raison")
        )
    r = cli_env.invoke(cli, ["verify"])
    assert r.exit_code == 1, r.output
    assert history["pid"] in r.output and history["other"] not in r.output
    assert "event 5: content does not match its hash" in r.output
    assert "2 project(s) checked, 1 with discrepancies." in r.output


def test_event_hash_is_hmac_sha256_over_canonical_json() -> None:
    from app.core.security import event_hash

    fields = {"a": 1, "b": "é"}
    raw = json.dumps({"a": 1, "b": "é", "prev_hash": "x"}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    key = b"k" * 32
    assert event_hash(fields, "x", key) == hmac.new(key, raw.encode(), hashlib.sha256).hexdigest()
    assert event_hash(fields, "x", b"j" * 32) != event_hash(fields, "x", key)  # the key matters
    assert event_hash(fields, "x", key) != hashlib.sha256(raw.encode()).hexdigest()  # not the old unkeyed rule
