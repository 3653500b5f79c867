"""Deadline watch: `regieflow deadlines scan` writes one `deadline.status_changed` event per change of a
project's status (version bump, event, outbox), which reaches the feed and the webhooks."""

from __future__ import annotations

import threading
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook
from typer.testing import CliRunner

from app.cli import cli
from app.core.unit_of_work import UnitOfWorkFactory
from app.deadline_watch.service import scan
from app.projects.models import Event, OutboxMessage, Project
from tests.support.api import API, create_project, events_of, fire, get_project, satisfy
from tests.support.evidence import PLAN
from tests.support.webhooks import count, subscribe, worker


def run_scan(app: Any) -> list[tuple[str, str | None, str]]:
    report = scan(UnitOfWorkFactory(app.state.session_factory), app.state.clock)
    return [(str(pid), old, new) for pid, old, new in report.announced]


def deadline_status(app: Any, pid: str) -> str | None:
    with app.state.session_factory() as session:
        return session.scalar(select(Project.deadline_status).where(Project.id == uuid.UUID(pid)))


def deadline_events(client: Any, pid: str) -> list[dict[str, Any]]:
    return [e for e in events_of(client, pid) if e["type"] == "deadline.status_changed"]


def test_one_event_per_status_change(app, client) -> None:
    p = create_project(client, started_on="2026-09-01")  # step 1 due 2026-12-01
    pid = p["id"]
    assert run_scan(app) == []  # first sighting, on time: recorded silently
    assert deadline_status(app, pid) == "dans_les_temps" and get_project(client, pid)["version"] == 1

    app.state.clock.set(date(2026, 12, 2))  # step 1 overdue
    assert run_scan(app) == [(pid, "dans_les_temps", "en_retard")]
    assert run_scan(app) == []  # nothing moved since: nothing said
    [event] = deadline_events(client, pid)
    assert event["data"] == {
        "from": "dans_les_temps",
        "to": "en_retard",
        "horizon_on": "2029-09-01",
        "step_due_on": "2026-12-01",
    }
    assert event["actor"] == "system:regieflow" and event["effective_on"] == "2026-12-02"
    assert get_project(client, pid)["version"] == event["seq"] == 2
    with app.state.session_factory() as session:
        assert (
            session.scalar(select(OutboxMessage.topic).where(OutboxMessage.event_id == event["id"]))
            == "deadline.status_changed"
        )

    satisfy(client, pid, "groupe_projet", date(2026, 12, 2))
    fire(client, pid, "definir_contours")  # late into step 2: the projection now passes the horizon
    assert get_project(client, pid)["status"] == "a_risque"
    assert run_scan(app) == [(pid, "en_retard", "a_risque")]

    r = client.put(
        f"{API}/projects/{pid}/plan",
        json={"step_months": PLAN, "horizon_months": 40, "reason": "Le bailleur a demandé un délai"},
    )
    assert r.status_code == 200, r.text
    assert run_scan(app) == [(pid, "a_risque", "dans_les_temps")]
    assert run_scan(app) == []
    assert [(e["data"]["from"], e["data"]["to"]) for e in deadline_events(client, pid)] == [
        ("dans_les_temps", "en_retard"),
        ("en_retard", "a_risque"),
        ("a_risque", "dans_les_temps"),
    ]


def test_first_scan_announces_a_project_already_late_and_ignores_closed_ones(app, client) -> None:
    late = create_project(client, name="Régie en retard", started_on="2026-01-05")
    closed = create_project(client, name="Régie abandonnée", started_on="2026-01-05")
    fire(client, closed["id"], "abandonner", reason="Pas de portage politique")
    assert run_scan(app) == [(late["id"], None, "en_retard")]
    assert deadline_status(app, closed["id"]) is None and deadline_events(client, closed["id"]) == []
    r = client.get(f"{API}/events")
    assert r.json()["items"][-1]["type"] == "deadline.status_changed"  # in the feed too


@pytest.mark.usefixtures("committed_db")  # three scans at once: three connections
def test_concurrent_scans_announce_a_change_once(app, client) -> None:
    for i in range(4):
        create_project(client, name=f"Régie {i}", started_on="2026-01-05")
    reports: list[Any] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        barrier.wait()
        reports.append(run_scan(app))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(len(r) for r in reports) == 4
    assert count(app, Event, Event.type == "deadline.status_changed") == 4


def test_the_worker_scans_and_the_change_reaches_the_webhooks(loopback, client, receiver) -> None:
    sub = subscribe(client, receiver.url, event_types=["deadline.status_changed"])
    p = create_project(client, started_on="2026-01-05")
    with worker(loopback) as w:
        report = w.run_once()
    assert (report.announced, report.succeeded) == (1, 1)
    [request] = receiver.requests
    payload = Webhook(sub["secret"]).verify(request["body"], request["headers"])
    assert payload["type"] == "deadline.status_changed"
    assert payload["data"]["project_id"] == p["id"]
    assert payload["data"]["data"]["from"] is None and payload["data"]["data"]["to"] == "en_retard"


def test_cli_commands(app, client, cli_env: CliRunner) -> None:
    p = create_project(client, started_on="2026-01-05")  # late on any day from now on
    out = cli_env.invoke(cli, ["deadlines", "scan"])
    assert out.exit_code == 0, out.output
    assert f"{p['id']}: - → en_retard" in out.output and "1 announced" in out.output
    out = cli_env.invoke(cli, ["worker", "--once"])
    assert out.exit_code == 0, out.output
    assert "deadline events 0, outbox rows 2" in out.output
