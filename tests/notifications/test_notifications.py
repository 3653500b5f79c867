"""Notifications: produced once per occurrence (re-running the scan, or two scans at once, produce
nothing new), for the people whose grants cover the project and never the author; e-mailed at once,
in a daily digest or not at all, with an RFC 8058 one-click unsubscribe; DOMAIN.md's reminders,
including the stakeholder's reminder e-mail for an opinion due within 7 days, sent once."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.core.unit_of_work import UnitOfWorkFactory
from app.mail import service as mail
from app.mail.service import send_due
from app.notifications import service as notifications
from app.notifications.models import Notification
from tests.mail.smtp import Sink, text_of
from tests.support.accounts import add_user, login
from tests.support.api import API, create_project
from tests.support.clock import TODAY


def uows_of(app: Any, settings: Any = None) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(app.state.session_factory, settings or app.state.settings)


def smtp_settings(app: Any, port: int) -> Any:
    return app.state.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})


def count(app: Any) -> int:
    with app.state.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(Notification)) or 0)


def test_a_message_notifies_the_project_people_once_and_not_its_author(
    app: Any, client: TestClient, smtp: tuple[Sink, int]
) -> None:
    sink, port = smtp
    pid = create_project(client)["id"]
    add_user(app, "porteur@exemple.fr", [("porteur", uuid.UUID(pid), None)], name="Amina Benali")
    with TestClient(app, raise_server_exceptions=False) as porteur:
        login(porteur, "porteur@exemple.fr")
        consultant_id, _ = add_user(app, "conseil@exemple.fr", [("consultant", None, "Hauts-de-France")])
        assert porteur.post(f"{API}/projects/{pid}/messages", json={"body": "Bonjour !"}).status_code == 201
        settings = smtp_settings(app, port)
        first = notifications.scan(uows_of(app), settings, app.state.clock)
        assert first.created >= 1
        again = notifications.scan(uows_of(app), settings, app.state.clock)
        assert again.created == 0  # nothing new on a second run
        assert porteur.get(f"{API}/notifications").json() == []  # not the author
        with TestClient(app, raise_server_exceptions=False) as consultant:
            login(consultant, "conseil@exemple.fr")
            items = consultant.get(f"{API}/notifications").json()
            message_items = [n for n in items if n["kind"] == "message"]
            assert len(message_items) == 1 and "nouveau message d'Amina Benali" in message_items[0]["text"]
            page = consultant.get("/notifications")
            assert page.status_code == 200 and "compteur-notifications" in page.text
            nid = message_items[0]["id"]
            assert consultant.post(f"{API}/notifications/{nid}/read").json() == {"marked": 1}
            assert porteur.post(f"{API}/notifications/{nid}/read").status_code == 404  # not theirs
    assert send_due(uows_of(app, settings), settings, app.state.clock).sent >= 1
    (sent,) = [m for m in sink.to("conseil@exemple.fr") if "message" in str(m["Subject"])]
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = str(sent["List-Unsubscribe"]).strip()  # the server may fold it onto its own line
    assert header.startswith("<http") and "/desabonnement/" in header
    # RFC 8058: the one-click POST unsubscribes, without a session
    path = header.strip("<>").split("://", 1)[1].partition("/")[2]
    with TestClient(app, raise_server_exceptions=False) as anyone:
        assert anyone.get("/" + path).status_code == 200
        assert anyone.post("/" + path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
        assert anyone.post("/desabonnement/" + str(consultant_id) + ".forged").status_code == 404
    with app.state.session_factory() as s:
        assert mail.mode_of(s, consultant_id) == "aucun"
    assert "nouveau message d'Amina Benali" in text_of(sent)


def _ask(client: TestClient, pid: str, stakeholder_id: int, email: str, days: int) -> None:
    r = client.post(
        f"{API}/projects/{pid}/opinion-requests",
        json={
            "stakeholder_id": stakeholder_id,
            "email": email,
            "due_on": (TODAY + timedelta(days=days)).isoformat(),
            "message": "Votre avis ?",
        },
    )
    assert r.status_code == 201, r.text


def _scan_twice(app: Any, settings: Any) -> tuple[int, int]:
    """(notifications, mails) of a scan; a second scan right after produces nothing."""
    first = notifications.scan(uows_of(app), settings, app.state.clock)
    again = notifications.scan(uows_of(app), settings, app.state.clock)
    assert (again.created, again.mails) == (0, 0)
    return first.created, first.mails


def _opinion_kinds(app: Any) -> list[str]:
    with app.state.session_factory() as s:
        return sorted(s.scalars(select(Notification.occurrence).where(Notification.kind.like("avis_%"))))


def test_reminders_are_sent_once_per_occurrence_and_only_when_their_time_comes(
    app: Any, client: TestClient, smtp: tuple[Sink, int]
) -> None:
    """A request due in 10 days: its 7-day reminder 3 days later (once), its overdue reminder the day
    after the due date (once). A request due in 5 days, asked today, gets no 7-day reminder at all (its
    time came before it was made: the request's own mail gave the date), only the overdue one."""
    sink, port = smtp
    settings = smtp_settings(app, port)
    pid = create_project(client, started_on=(TODAY - timedelta(days=70)).isoformat())["id"]  # step 1 due in ~20 days
    add_user(app, "porteur@exemple.fr", [("porteur", uuid.UUID(pid), None)])
    vilogia = client.post(f"{API}/projects/{pid}/stakeholders", json={"name": "Vilogia", "category": "bailleur_social"})
    ville = client.post(
        f"{API}/projects/{pid}/stakeholders", json={"name": "Ville de Lens", "category": "collectivite"}
    )
    _ask(client, pid, vilogia.json()["id"], "b@vilogia.example", 10)
    _ask(client, pid, ville.json()["id"], "mairie@lens.example", 5)
    created, mails = _scan_twice(app, settings)
    assert created >= 1 and mails == 0  # the step due in 30 days; no opinion reminder on the day of asking
    assert _opinion_kinds(app) == []
    with app.state.session_factory() as s:
        assert "etape_a_30_jours" in set(s.scalars(select(Notification.kind)))
    for day in (1, 2):
        app.state.clock.set(TODAY + timedelta(days=day))
        assert _scan_twice(app, settings)[1] == 0 and _opinion_kinds(app) == []
    app.state.clock.set(TODAY + timedelta(days=3))  # Vilogia's answer is due in 7 days
    assert _scan_twice(app, settings)[1] == 1
    vilogia_id = next(
        r["id"] for r in client.get(f"{API}/projects/{pid}/opinion-requests").json() if r["email"].startswith("b@")
    )
    soon = [k for k in _opinion_kinds(app) if k.startswith("avis_sous_7_jours")]
    assert soon and all(k.startswith(f"avis_sous_7_jours:{vilogia_id}:") for k in soon)
    app.state.clock.set(TODAY + timedelta(days=4))
    assert _scan_twice(app, settings) == (0, 0)
    send_due(uows_of(app, settings), settings, app.state.clock)
    reminders = [m for m in sink.to("b@vilogia.example") if "Rappel" in str(m["Subject"])]
    assert len(reminders) == 1 and "avant le 6 décembre 2026" in str(reminders[0]["Subject"])
    assert [m for m in sink.to("mairie@lens.example") if "Rappel" in str(m["Subject"])] == []
    # overdue: a new occurrence, once, for each
    app.state.clock.set(TODAY + timedelta(days=6))
    assert _scan_twice(app, settings)[1] == 1  # Lens's answer was due yesterday
    app.state.clock.set(TODAY + timedelta(days=11))
    assert _scan_twice(app, settings)[1] == 1  # and Vilogia's
    app.state.clock.set(TODAY + timedelta(days=12))
    assert _scan_twice(app, settings) == (0, 0)
    send_due(uows_of(app, settings), settings, app.state.clock)
    assert len([m for m in sink.to("mairie@lens.example") if "Rappel" in str(m["Subject"])]) == 1
    assert len([m for m in sink.to("b@vilogia.example") if "Rappel" in str(m["Subject"])]) == 2


def test_a_reservation_is_notified_once_per_person(app: Any, client: TestClient) -> None:
    """Its recording (to the project's people but its author) and its "still open" reminder (from the
    day after, to whoever it did not reach yet) are one occurrence: one notification each, over days."""
    from tests.assessments.helpers import adjourned

    pid, _, reservations = adjourned(client)
    porteur, _ = add_user(app, "porteur@exemple.fr", [("porteur", uuid.UUID(pid), None)])
    consultant, _ = add_user(app, "conseil@exemple.fr", [("consultant", None, "Hauts-de-France")])
    for day in range(4):
        app.state.clock.set(TODAY + timedelta(days=day))
        _scan_twice(app, app.state.settings)
    with app.state.session_factory() as s:
        rows = list(
            s.execute(
                select(Notification.user_id, Notification.occurrence).where(Notification.text.contains("réserve"))
            )
        )
    for who in (porteur, consultant):
        mine = sorted(occurrence for user, occurrence in rows if user == who)
        assert mine == sorted(f"reserve_ouverte:{r}" for r in reservations), (who, mine)


def test_daily_digest(app: Any, client: TestClient, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    settings = smtp_settings(app, port)
    pid = create_project(client)["id"]
    uid, _ = add_user(app, "lent@exemple.fr", [("observateur", uuid.UUID(pid), None)])
    with uows_of(app)() as uow:
        mail.set_mode(uow, app.state.clock, uid, "quotidien")
    for text in ("Premier", "Second"):
        client.post(f"{API}/projects/{pid}/messages", json={"body": text})
    report = notifications.scan(uows_of(app), settings, app.state.clock)
    assert report.digests == 1
    assert notifications.scan(uows_of(app), settings, app.state.clock).digests == 0
    send_due(uows_of(app, settings), settings, app.state.clock)
    (digest,) = sink.to("lent@exemple.fr")
    assert "récapitulatif du 26 novembre 2026 : 2 notifications" in str(digest["Subject"])
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.usefixtures("committed_db")
def test_two_scans_at_once_notify_once(app: Any, client: TestClient) -> None:
    pid = create_project(client)["id"]
    add_user(app, "porteur@exemple.fr", [("porteur", uuid.UUID(pid), None)])
    for i in range(5):
        client.post(f"{API}/projects/{pid}/messages", json={"body": f"Message {i}"})
    errors: list[BaseException] = []

    def run() -> None:
        try:
            notifications.scan(uows_of(app), app.state.settings, app.state.clock)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.state.session_factory() as s:
        rows = list(s.scalars(select(Notification.occurrence).where(Notification.kind == "message")))
    assert len(rows) == len(set(rows)) == 5
