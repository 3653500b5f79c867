"""`regieflow verify`: a busy history replays cleanly; tampering behind the service's back is caught."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from app.cli import cli
from app.core.unit_of_work import UnitOfWorkFactory
from app.transitions.verify import verify
from tests.support.api import API, advance, create_project, fire, post, put

START = date(2025, 1, 6)


def _busy_project(client) -> str:
    """Suspension, backward moves, a re-plan and evidence edits, up to the label."""
    pid = create_project(client, name="Régie du Mirail", started_on=START.isoformat())["id"]
    fire(client, pid, "suspendre", reason="Élections", effective_on="2025-02-01")
    fire(client, pid, "reprendre", reason="Nouvelle équipe", effective_on="2025-04-01")
    advance(client, pid, "faisabilite", start=date(2025, 4, 1))
    fire(client, pid, "reprendre_contours", reason="Territoire à revoir", effective_on="2025-05-01")
    fire(client, pid, "lancer_faisabilite", effective_on="2025-05-10")
    r = client.put(
        f"{API}/projects/{pid}/plan",
        json={
            "step_months": {
                "groupe_projet": 3,
                "contours": 4,
                "faisabilite": 10,
                "validation": 3,
                "prefiguration": 12,
                "expertise": 6,
            },
            "horizon_months": 40,
            "reason": "Étude plus longue",
        },
    )
    assert r.status_code == 200, r.text
    need = post(client, f"/projects/{pid}/needs", {"label": "Mobilité"})
    assert client.patch(f"{API}/projects/{pid}/needs/{need['id']}", json={"status": "ecarte"}).status_code == 200
    act = post(client, f"/projects/{pid}/activities", {"label": "Provisoire"})
    assert client.delete(f"{API}/projects/{pid}/activities/{act['id']}").status_code == 204
    advance(client, pid, "validation", start=date(2025, 5, 10))
    fire(client, pid, "reprendre_faisabilite", reason="Le bailleur hésite", effective_on="2025-06-01")
    put(
        client,
        f"/projects/{pid}/feasibility",
        {
            "annual_charges": 400000,
            "market_income": 260000,
            "non_market_income": 150000,
            "premises_address": "Place Abbal",
            "conclusion": "favorable",
            "conclusion_on": "2025-06-05",
        },
    )
    fire(client, pid, "soumettre_validation", effective_on="2025-06-10")
    fire(client, pid, "suspendre", reason="Audit", effective_on="2025-07-01")
    fire(client, pid, "reprendre", reason="Audit terminé", effective_on="2025-08-01")
    advance(client, pid, "expertise", start=date(2025, 8, 1))
    post(
        client,
        f"/projects/{pid}/expertises",
        {"conducted_on": "2025-09-01", "experts": ["Claire"], "conclusion": "reserves"},
    )
    fire(client, pid, "ajourner_label", reason="Réserves", effective_on="2025-09-15")
    fire(client, pid, "demander_expertise", effective_on="2025-10-01")
    advance(client, pid, "labellisee", start=date(2025, 10, 1))
    client.patch(f"{API}/projects/{pid}", json={"conventionnement": "aci"})
    return pid


def test_verify_is_clean_after_a_busy_history(client, session_factory, cli_env) -> None:
    pid = _busy_project(client)
    paused = create_project(client, name="Régie suspendue", started_on=START.isoformat())["id"]
    fire(client, paused, "suspendre", reason="Pause", effective_on="2025-03-01")
    gone = create_project(client, name="Régie abandonnée", started_on=START.isoformat())["id"]
    fire(client, gone, "suspendre", reason="Pause", effective_on="2025-03-01")
    fire(client, gone, "abandonner", reason="Fin", effective_on="2025-04-01")
    p = client.get(f"{API}/projects/{pid}").json()
    assert p["state"] == "labellisee" and p["plan"]["horizon_months"] == 40 and p["conventionnement"] == "aci"
    assert verify(UnitOfWorkFactory(session_factory)) == (3, [])
    result = cli_env.invoke(cli, ["verify"])
    assert result.exit_code == 0, result.output
    assert "3 project(s) checked, 0 with discrepancies." in result.output


TAMPERING = {
    "state": ("UPDATE projects SET state = 'expertise' WHERE id = :id", "state is expertise but the events give"),
    "version": ("UPDATE projects SET version = version + 1 WHERE id = :id", "version 5 but 4 events"),
    "horizon": ("UPDATE projects SET horizon_on = '2030-01-01' WHERE id = :id", "horizon_on is 2030-01-01"),
    "plan": ("UPDATE projects SET horizon_months = 48 WHERE id = :id", "differs from the events' plan"),
    "suspension": ("UPDATE suspensions SET ended_on = NULL WHERE project_id = :id", "suspensions"),
    "outbox": (
        "DELETE FROM outbox WHERE event_id = (SELECT max(id) FROM events WHERE project_id = :id)",
        "1 event(s) without their outbox message",
    ),
    "event": (None, "event sequence has gaps or repeats"),
}


def test_verify_reports_tampering_behind_the_services_back(client, db, session_factory, cli_env) -> None:
    pids: dict[str, str] = {}
    for name in ["clean", *TAMPERING]:
        pid = create_project(client, name=name, started_on=START.isoformat())["id"]
        fire(client, pid, "suspendre", reason="Pause", effective_on="2025-02-01")
        fire(client, pid, "reprendre", reason="Reprise", effective_on="2025-03-01")
        fire(client, pid, "abandonner" if name == "event" else "suspendre", reason="Encore", effective_on="2025-04-01")
        pids[name] = pid
    assert verify(UnitOfWorkFactory(session_factory)) == (len(pids), [])

    with db.begin() as conn:
        keys = dict(conn.execute(text("SELECT name, id FROM projects")).all())  # ids as each backend stores them
        for name, (sql, _) in TAMPERING.items():
            if sql is not None:
                conn.execute(text(sql), {"id": keys[name]})
        # Delete the 2nd event of "event": its transition and outbox message, as if it had never been.
        second = conn.execute(
            text("SELECT id FROM events WHERE project_id = :id AND seq = 2"), {"id": keys["event"]}
        ).scalar_one()
        conn.execute(text("DELETE FROM outbox WHERE event_id = :e"), {"e": second})
        conn.execute(text("DELETE FROM events WHERE id = :e"), {"e": second})

    checked, findings = verify(UnitOfWorkFactory(session_factory))
    assert checked == len(pids)
    found = {f.name: f for f in findings if f.project_id is not None}
    assert set(found) == set(TAMPERING)
    # The deleted event also left a hole in the change feed.
    general = [f.problems for f in findings if f.project_id is None]
    assert len(general) == 1 and len(general[0]) == 1, general
    assert general[0][0].startswith("feed positions have 1 gap(s) or repeat(s): "), general
    for name, (_, expected) in TAMPERING.items():
        assert str(found[name].project_id) == pids[name]
        assert any(expected in problem for problem in found[name].problems), (name, found[name].problems)
    # Without its "suspendre" event, the recorded "reprendre" no longer replays.
    assert any("history does not replay" in problem for problem in found["event"].problems)

    result = cli_env.invoke(cli, ["verify"])
    assert result.exit_code == 1, result.output
    for name in TAMPERING:
        assert f"✗ {pids[name]} {name}" in result.output
    assert f"✗ {pids['clean']}" not in result.output
    assert f"{len(pids)} project(s) checked, {len(TAMPERING)} with discrepancies." in result.output
