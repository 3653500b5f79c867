"""The demo portfolio: built through the services, every state and status represented, verifiable."""

from __future__ import annotations

from collections import Counter

from app.cli import cli
from app.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.demo.service import load_demo
from app.projects.service import project_read
from app.transitions.verify import verify
from tests.support.api import API
from tests.support.clock import TODAY
from workflow.vocabulary import STEPS, State, Status


def _events(client, pid: str) -> list[dict]:
    r = client.get(f"{API}/projects/{pid}/events", params={"page_size": 200})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_demo_portfolio(client, session_factory, settings) -> None:
    created = load_demo(UnitOfWorkFactory(session_factory), settings, only_if_empty=True, today=TODAY)
    assert len(created) >= 12

    # What the API shows on the same day (the client's clock is fixed at TODAY).
    r = client.get(f"{API}/projects", params={"page_size": 100})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert r.json()["total"] == len(created) == len(items)

    states = Counter(p["state"] for p in items)
    assert set(states) == {s.value for s in State}, states
    assert states[State.LABELLISEE] == 1 and states[State.ABANDONNEE] == 1

    statuses = Counter(p["status"] for p in items if p["state"] in {s.value for s in STEPS})
    for status in Status:
        assert statuses[status.value] >= 1, statuses
    active = sum(statuses.values())
    assert statuses[Status.DANS_LES_TEMPS.value] * 2 > active, f"most projects should be on time: {statuses}"

    # The service read model agrees with the API, and the SQL status filter with both.
    by_id = {p["id"]: p for p in items}
    for p in created:
        assert project_read(p, TODAY).status == (by_id[str(p.id)]["status"] or None)
    for status in Status:
        r = client.get(f"{API}/projects", params={"status": status.value, "page_size": 100})
        assert r.json()["total"] == statuses[status.value]

    # The schedule replays the recorded history: same status as the stored deadline index.
    for p in items:
        sched = client.get(f"{API}/projects/{p['id']}/schedule").json()
        assert sched["status"] == p["status"], (p["name"], sched["status"], p["status"])

    labelled = next(p for p in items if p["state"] == State.LABELLISEE)
    assert labelled["within_horizon"] is True and labelled["labelled_on"] < TODAY.isoformat()
    abandoned = next(p for p in items if p["state"] == State.ABANDONNEE)
    assert abandoned["closed_reason"]

    suspended = [p for p in items if p["suspended"]]
    assert len(suspended) == 1 and suspended[0]["state"] in {s.value for s in STEPS}

    # Histories are backdated and go through the workflow: triggers, reasons, re-plans.
    triggers: Counter[str] = Counter()
    for p in items:
        events = _events(client, p["id"])
        assert [e["seq"] for e in events] == list(range(1, p["version"] + 1))
        assert events[0]["type"] == "project.created" and events[0]["effective_on"] == p["started_on"]
        # the demo writes everything, but the stakeholder's answer through its link (step 4, below)
        assert all(e["actor"] == "system:demo" or e["actor"].startswith("lien:avis-") for e in events)
        assert all(e["recorded_at"] < f"{TODAY.isoformat()}T00:00" for e in events)
        for e in events:
            if e["type"] == "project.transitioned":
                triggers[e["trigger"]] += 1
                assert e["effective_on"] < TODAY.isoformat()
                if e["trigger"] in {
                    "reprendre_contours",
                    "reprendre_faisabilite",
                    "ajourner_label",
                    "abandonner",
                    "suspendre",
                }:
                    assert e["reason"]
            elif e["type"] == "plan.changed":
                triggers["replan"] += 1
    for needed in ("ajourner_label", "abandonner", "suspendre", "labelliser", "replan"):
        assert triggers[needed] >= 1, triggers
    assert triggers["reprendre_contours"] + triggers["reprendre_faisabilite"] >= 1

    # An expertise project went through an adjournment, then a new expertise.
    adjourned = [
        p
        for p in items
        if p["state"] == State.EXPERTISE and any(e["trigger"] == "ajourner_label" for e in _events(client, p["id"]))
    ]
    assert adjourned
    expertises = client.get(f"{API}/projects/{adjourned[0]['id']}/expertises").json()
    assert len(expertises) >= 2

    # Regions and both kinds.
    assert len({p["region"] for p in items}) >= 6
    assert {p["kind"] for p in items} == {"regie_de_quartier", "regie_de_territoire"}

    # Territories: INSEE codes of the project's department; a régie de quartier names its QPV.
    with UnitOfWork(session_factory, write=False) as uow:
        for p in created:
            full = uow.projects.get(p.id, with_evidence=True)
            assert full is not None
            for c in full.communes:
                assert c.insee_code[:2] == full.departement, (full.name, c.insee_code)
            if full.state not in (State.GROUPE_PROJET, State.CONTOURS):
                assert full.communes, full.name
                if full.kind == "regie_de_quartier":
                    assert full.qpvs and all(q.code.startswith(f"QP0{full.departement}") for q in full.qpvs)

    # Step 4 runs inside regieflow: ACM Habitat (Mosson) was asked by e-mail and answered through its
    # personal link (the /avis page's service): the approval says the stakeholder gave it; the PLIE's
    # opinion is asked and awaited.
    mosson = next(p for p in items if p["name"] == "Régie de Quartier de la Mosson")
    asked = {r["stakeholder_name"]: r for r in client.get(f"{API}/projects/{mosson['id']}/opinion-requests").json()}
    landlord = asked["ACM Habitat"]
    assert landlord["status"] == "repondu" and landlord["sent_count"] == 1
    assert landlord["answer"]["via"] == "lien" and landlord["answer"]["verdict"] == "favorable"
    assert landlord["answer"]["answered_by"] == f"lien:avis-{landlord['id']}"
    (given,) = [
        a
        for a in client.get(f"{API}/projects/{mosson['id']}/approvals").json()
        if a["id"] == landlord["answer"]["approval_id"]
    ]
    assert given["source"] == "lien" and given["verdict"] == "favorable"
    assert asked["PLIE de Montpellier Méditerranée Métropole"]["status"] == "en_attente"
    answered = [e for e in _events(client, mosson["id"]) if e["type"] == "opinion.answered"]
    assert [e["actor"] for e in answered] == [f"lien:avis-{landlord['id']}"]

    # Every stored project replays to what is stored.
    checked, findings = verify(UnitOfWorkFactory(session_factory))
    assert checked == len(created) and findings == []

    # Loading again only if empty creates nothing.
    assert load_demo(UnitOfWorkFactory(session_factory), settings, only_if_empty=True, today=TODAY) == []
    assert client.get(f"{API}/projects").json()["total"] == len(created)


def test_demo_cli_then_verify(cli_env) -> None:
    """On a new SQLite file (tests/demo/conftest.py): `regieflow demo` migrates it, then loads."""
    runner = cli_env
    first = runner.invoke(cli, ["demo"])
    assert first.exit_code == 0, first.output
    assert "Demo portfolio loaded" in first.output
    again = runner.invoke(cli, ["demo"])  # refused on a database that holds projects
    assert again.exit_code == 2 and "demo not loaded" in again.output
    checked = runner.invoke(cli, ["verify"])
    assert checked.exit_code == 0, checked.output
    # the demo portfolio and the generated past projects (REGIEFLOW_DEMO_HISTORY_PROJECTS, tests/conftest.py)
    demo_projects = int(first.output.split("Demo portfolio loaded: ")[1].split()[0])
    assert f"{demo_projects + 12} project(s) checked, 0 with discrepancies" in checked.output


def test_demo_logins_see_what_their_role_covers(app, session_factory, settings) -> None:
    from fastapi.testclient import TestClient

    from app.demo.service import DEMO_ACCOUNTS, DEMO_PASSWORD

    created = load_demo(UnitOfWorkFactory(session_factory), settings, only_if_empty=True, today=TODAY)
    totals = {}
    for email, _name, role, _scope in DEMO_ACCOUNTS:
        with TestClient(app) as c:
            r = c.post(f"{API}/auth/login", json={"email": email, "password": DEMO_PASSWORD})
            assert r.status_code == 200, r.text
            assert role in r.json()["roles"]
            totals[role] = c.get(f"{API}/projects", params={"page_size": 100}).json()["total"]
    assert totals["admin"] == totals["consultant"] == len(created)
    assert totals["porteur"] == 2  # Pontanézen and Empalot
    assert totals["observateur"] == sum(1 for p in created if p.region == "Occitanie")
    # Loading again creates neither projects nor accounts.
    assert load_demo(UnitOfWorkFactory(session_factory), settings, only_if_empty=True, today=TODAY) == []
