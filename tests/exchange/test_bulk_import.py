"""Bulk import of projects with their history: replayed through the services and guards, each project
all or nothing, with a report per project. The README's example file is the one imported here."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.accounts.models import RoleGrant
from app.core.unit_of_work import UnitOfWorkFactory
from app.evidence.models import Stakeholder
from app.feed.models import FeedCounter
from app.projects.models import Event, OutboxMessage, Project
from app.transitions.verify import verify
from tests.support.accounts import add_user, login
from tests.support.api import API, events_of, make_key

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "import-projects.json"


def _example() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def _count(app, model, *where) -> int:
    with app.state.session_factory() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_the_readme_example_imports_one_project_and_refuses_the_other(app, client: TestClient) -> None:
    r = client.post(f"{API}/imports/projects", json=_example())
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["imported"], report["refused"], report["dry_run"]) == (1, 1, False)
    ok, refused = report["projects"]
    assert ok["status"] == "imported" and ok["ref"] == "crm-0042" and ok["state"] == "labellisee"
    assert refused["status"] == "refused" and refused["ref"] == "crm-0057"
    assert refused["code"] == "conditions_non_remplies" and refused["at"] == "transitions.0"
    assert [u["code"] for u in refused["unmet"]] == ["groupe_bailleur"]
    assert refused["project_id"] is None and refused["name"] == "Régie de territoire du Val de Lys"

    # The imported project: the same history an API client would have written, day by day.
    p = client.get(f"{API}/projects/{ok['project_id']}").json()
    assert (p["state"], p["started_on"], p["labelled_on"], p["version"]) == (
        "labellisee",
        "2023-01-16",
        "2025-10-06",
        ok["version"],
    )
    events = events_of(client, p["id"])
    assert len(events) == p["version"]
    fired = [(e["trigger"], e["effective_on"], e["reason"]) for e in events if e["type"] == "project.transitioned"]
    assert [f[0] for f in fired] == [
        "definir_contours",
        "lancer_faisabilite",
        "soumettre_validation",
        "lancer_prefiguration",
        "suspendre",
        "reprendre",
        "demander_expertise",
        "labelliser",
    ]
    assert fired[4] == ("suspendre", "2024-07-01", "Élections municipales anticipées")
    first_need = next(e for e in events if e["type"] == "evidence.created" and e["data"]["kind"] == "needs")
    assert first_need["recorded_at"].startswith("2023-05-10T")  # recorded with the clock on that day
    assert {e["actor"] for e in events} == {
        "key:" + "_".join(client.headers["Authorization"].split()[1].split("_")[:2])
    }
    needs = {n["label"]: n["status"] for n in client.get(f"{API}/projects/{p['id']}/needs").json()}
    assert needs == {
        "Entretien des halls et parties communes": "confirme",
        "Jardins partagés en pied d'immeuble": "ecarte",
    }
    approvals = client.get(f"{API}/projects/{p['id']}/approvals").json()
    people = {s["id"]: s["name"] for s in client.get(f"{API}/projects/{p['id']}/stakeholders").json()}
    assert sorted(people[a["stakeholder_id"]] for a in approvals) == [
        "Amina Benali",
        "France Travail Roubaix",
        "Ville de Roubaix",
        "Vilogia",
    ]
    schedule = client.get(f"{API}/projects/{p['id']}/schedule").json()
    assert schedule["suspended_days"] == 56 and schedule["within_horizon"] is True

    # The refused project left nothing: no project, event, outbox row or feed position.
    assert _count(app, Project) == 1
    assert _count(app, Event) == len(events) == _count(app, OutboxMessage)
    with app.state.session_factory() as session:
        assert session.scalar(select(FeedCounter.value)) == len(events)
        assert session.scalar(select(func.max(Event.feed_seq))) == len(events)
    checked, findings = verify(UnitOfWorkFactory(app.state.session_factory))
    assert (checked, findings) == (1, [])


def test_invalid_projects_are_refused_with_every_problem(app, client: TestClient) -> None:
    doc = _example()
    bad = copy.deepcopy(doc["projects"][0])
    del bad["project"]["started_on"]
    bad["evidence"][5]["data"]["insee_code"] = "5951"  # communes
    bad["evidence"][11]["update"] = "inconnu"  # needs update
    bad["evidence"][15]["data"]["stakeholder"] = "personne"  # approval
    bad["evidence"].append({"kind": "licornes", "on": "2023-05-10", "data": {}})
    unknown = len(bad["evidence"]) - 1
    bad["transitions"][0]["effective_on"] = "2099-01-01"
    r = client.post(
        f"{API}/imports/projects", json={"projects": [bad, {"project": {"name": "Sans le reste"}, "surprise": 1}]}
    )
    assert r.status_code == 200, r.text
    first, second = r.json()["projects"]
    assert first["status"] == second["status"] == "refused"
    assert first["code"] == "requete_invalide"
    fields = {e["field"] for e in first["errors"]}
    assert fields == {
        "project.started_on",
        "evidence.5.data.insee_code",
        "evidence.11.update",
        "evidence.15.data.stakeholder",
        f"evidence.{unknown}.kind",
        "transitions.0.effective_on",
    }, fields
    assert {e["field"] for e in second["errors"]} >= {"surprise", "project.kind", "project.region"}
    assert _count(app, Project) == 0 and _count(app, Event) == 0
    # The envelope itself is checked by the API (422), not project by project.
    assert client.post(f"{API}/imports/projects", json={"projects": []}).status_code == 422
    assert client.post(f"{API}/imports/projects", json=[]).status_code == 422


def test_a_workflow_refusal_midway_rolls_the_project_back(app, client: TestClient) -> None:
    doc = _example()
    project = doc["projects"][0]
    project["evidence"] = [e for e in project["evidence"] if e["kind"] != "hires"]  # the hire is missing
    r = client.post(f"{API}/imports/projects", json={"projects": [project]})
    outcome = r.json()["projects"][0]
    assert outcome["status"] == "refused" and outcome["at"] == "transitions.6"  # demander_expertise
    assert [u["code"] for u in outcome["unmet"]] == ["recrutement"]
    assert "recrut" in outcome["unmet"][0]["message"].lower()
    assert _count(app, Project) == 0 and _count(app, Event) == 0 and _count(app, Stakeholder) == 0
    # An evidence date after its recording day is refused by the same rule as the API's.
    project = _example()["projects"][0]
    project["evidence"][10]["data"]["visited_on"] = "2023-11-20"  # recorded on 2023-11-14
    outcome = client.post(f"{API}/imports/projects", json={"projects": [project]}).json()["projects"][0]
    assert outcome["status"] == "refused" and outcome["at"] == "evidence.10"
    assert outcome["errors"] == [
        {"field": "evidence.10.visited_on", "message": "Cette date ne peut pas être dans le futur."}
    ]
    assert _count(app, Project) == 0


def test_dry_run_keeps_nothing(app, client: TestClient) -> None:
    r = client.post(f"{API}/imports/projects", params={"dry_run": "true"}, json=_example())
    report = r.json()
    assert (report["imported"], report["refused"], report["dry_run"]) == (1, 1, True)
    assert report["projects"][0]["project_id"] is None and report["projects"][0]["state"] == "labellisee"
    assert _count(app, Project) == 0 and _count(app, Event) == 0


def test_who_may_import_what(app, client: TestClient) -> None:
    doc = _example()
    read_key, _ = make_key(app, name="Lecture", scopes=("read",), consultant=False)
    write_key, _ = make_key(app, name="Écriture", scopes=("read", "write"), consultant=False)
    breton, _ = make_key(app, name="Bretagne", scopes=("read", "write"), consultant=True, regions=["Bretagne"])
    for key, status in ((read_key, 403), (breton, 403)):
        with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"}) as c:
            r = c.post(f"{API}/imports/projects", json=doc)
            assert r.status_code == status, r.text
    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {write_key}"}) as c:
        # Not a consultant: the expertise and the label of the first project refuse the whole request.
        r = c.post(f"{API}/imports/projects", json=doc)
        assert r.status_code == 403 and "consultant" in r.json()["detail"], r.text
        r = c.post(f"{API}/imports/projects", json={"projects": doc["projects"][1:]})
        assert r.status_code == 200 and r.json()["refused"] == 1
    assert _count(app, Project) == 0
    # A porteur of another project may import one: they become its porteur, as with POST /projects.
    other = client.post(
        f"{API}/projects", json={"name": "Autre", "kind": "regie_de_quartier", "region": "Bretagne"}
    ).json()
    user_id, _ = add_user(app, "porteur@example.fr", [("porteur", uuid.UUID(other["id"]), None)])
    project = doc["projects"][0]
    project["evidence"] = [e for e in project["evidence"] if e["kind"] not in ("expertises", "expertise-assessments")]
    project["transitions"] = project["transitions"][:-2]
    refused = copy.deepcopy(doc["projects"][1])
    with TestClient(app, raise_server_exceptions=False) as c:
        login(c, "porteur@example.fr")
        r = c.post(f"{API}/imports/projects", json={"projects": [project, refused]})
        assert r.status_code == 200, r.text
        ok, no = r.json()["projects"]
        assert ok["status"] == "imported" and ok["state"] == "prefiguration" and no["status"] == "refused"
        assert c.get(f"{API}/projects/{ok['project_id']}").status_code == 200
    grants = _count(app, RoleGrant, RoleGrant.user_id == user_id)
    assert grants == 2  # the other project, and the imported one; none for the refused one


def test_cli_import_projects(app, cli_env: CliRunner, tmp_path) -> None:
    from app.cli import cli

    runner = cli_env
    res = runner.invoke(cli, ["import-projects", str(EXAMPLE), "--dry-run"])
    assert res.exit_code == 1, res.output
    assert "would be imported" in res.output and "dry run" in res.output
    assert _count(app, Project) == 0
    res = runner.invoke(cli, ["import-projects", str(EXAMPLE)])
    assert res.exit_code == 1, res.output  # one project refused
    assert "✓ crm-0042: imported" in res.output
    assert "✗ crm-0057: refused at transitions.0 [conditions_non_remplies]" in res.output
    assert "groupe_bailleur" in res.output and "1 imported, 1 refused." in res.output
    with app.state.session_factory() as session:
        actors = set(session.scalars(select(Event.actor)))
    assert actors == {"system:import"}
    only_good = tmp_path / "good.json"
    small = _example()["projects"][1]  # the refused one, with the landlord it lacked
    small["evidence"].append(
        {
            "kind": "stakeholders",
            "on": "2025-02-03",
            "data": {"name": "Pas-de-Calais Habitat", "category": "bailleur_social"},
        }
    )
    only_good.write_text(json.dumps({"projects": [small]}), encoding="utf-8")
    res = runner.invoke(cli, ["import-projects", str(only_good), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)  # stderr says which database
    assert report["imported"] == 1 and report["projects"][0]["state"] == "contours"
    bad = tmp_path / "bad.json"
    bad.write_text('{"projets": []}', encoding="utf-8")
    assert runner.invoke(cli, ["import-projects", str(bad)]).exit_code == 2
