"""The guards of issue 12 over HTTP, each refused then met (DOMAIN.md's guard table), and the rule that
guards are judged as of the effective date, for every dated kind of evidence and in a bulk import."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.assessments.helpers import START, adjourned, rate_all, transitions
from tests.support.api import API, assert_problem, fire, post, project_at, put, satisfy
from tests.support.clock import TODAY

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "import-projects.json"


def _unmet(client: TestClient, pid: str, trigger: str, **body: Any) -> list[dict[str, str]]:
    r = client.post(f"{API}/projects/{pid}/transitions/{trigger}", json=body or None)
    return assert_problem(r, 409, "conditions_non_remplies")["unmet"]


def _study(client: TestClient, pid: str, **figures: Any) -> None:
    body = {
        "annual_charges": 420000,
        "market_income": 250000,
        "non_market_income": 180000,
        "premises_address": "12 rue de l'Alma, Roubaix",
        "conclusion": "favorable",
        "conclusion_on": (START + timedelta(days=25)).isoformat(),
    }
    put(client, f"/projects/{pid}/feasibility", body | figures)


# --- modele_economique and budget_equilibre -----------------------------------------------------------
@pytest.mark.parametrize(
    ("figures", "codes"),
    [
        ({"annual_charges": 0, "market_income": 0, "non_market_income": 0}, ["modele_economique"]),
        ({"annual_charges": None}, ["modele_economique", "budget_equilibre"]),
        ({"annual_charges": 500000}, ["budget_equilibre"]),  # 250 000 + 180 000 < 500 000
    ],
)
def test_the_budget_guards_refuse_then_accept(client: TestClient, figures: dict[str, Any], codes: list[str]) -> None:
    p = project_at(client, "faisabilite", start=START)
    satisfy(client, p["id"], "faisabilite", START + timedelta(days=25))
    _study(client, p["id"], **figures)
    unmet = _unmet(client, p["id"], "soumettre_validation")
    assert [u["code"] for u in unmet] == codes
    assert all(u["message"] for u in unmet)
    view = transitions(client, p["id"])["soumettre_validation"]
    assert view["allowed"] is False and [u["code"] for u in view["unmet"]] == codes
    _study(client, p["id"], annual_charges=430000)  # 430 000 = 250 000 + 180 000: balanced
    assert fire(client, p["id"], "soumettre_validation")["state"] == "validation"


# --- reserves_levees ------------------------------------------------------------------------------------
def test_reserves_levees_gates_the_next_expertise_request(client: TestClient) -> None:
    pid, _, (governance, buyers) = adjourned(client)
    unmet = _unmet(client, pid, "demander_expertise")
    assert [u["code"] for u in unmet] == ["reserves_levees"]
    assert "levée par un consultant" in unmet[0]["message"]
    day = (TODAY - timedelta(days=2)).isoformat()
    client.patch(f"{API}/projects/{pid}/reservations/{governance}", json={"lifted_on": day, "lifted_how": "Fait"})
    assert [u["code"] for u in _unmet(client, pid, "demander_expertise")] == ["reserves_levees"]  # one still open
    client.patch(f"{API}/projects/{pid}/reservations/{buyers}", json={"lifted_on": day, "lifted_how": "Deux clients"})
    # lifted after the date asked for: still open on that day, and the message says which lift is too recent
    early = (TODAY - timedelta(days=3)).isoformat()
    unmet = _unmet(client, pid, "demander_expertise", effective_on=early)
    assert [u["code"] for u in unmet] == ["reserves_levees"]
    assert "la levée de réserve du " + (TODAY - timedelta(days=2)).strftime("%d/%m/%Y") in unmet[0]["message"]
    assert fire(client, pid, "demander_expertise")["state"] == "expertise"


# --- grille_expertise_complete -------------------------------------------------------------------------
def test_grille_expertise_complete_needs_the_five_conditions_of_the_latest_expertise(client: TestClient) -> None:
    p = project_at(client, "expertise", start=START)
    pid = p["id"]
    day = (TODAY - timedelta(days=5)).isoformat()
    x = post(
        client, f"/projects/{pid}/expertises", {"conducted_on": day, "experts": ["Claire"], "conclusion": "favorable"}
    )
    assert [u["code"] for u in _unmet(client, pid, "labelliser")] == ["grille_expertise_complete"]
    for condition in ("ancrage_territorial", "services_nouveaux", "perennite_economique", "cooperation_autonomie"):
        post(
            client,
            f"/projects/{pid}/expertise-assessments",
            {"expertise_id": x["id"], "condition": condition, "level": "partiel"},
        )
    assert [u["code"] for u in _unmet(client, pid, "labelliser")] == ["grille_expertise_complete"]
    post(
        client,
        f"/projects/{pid}/expertise-assessments",
        {"expertise_id": x["id"], "condition": "implication_habitants", "level": "non_atteint"},
    )
    assert (
        transitions(client, pid)["labelliser"]["allowed"] is True
    )  # rated, whatever the levels: the conclusion decides
    # a later expertise must be rated again
    later = post(
        client,
        f"/projects/{pid}/expertises",
        {"conducted_on": TODAY.isoformat(), "experts": ["Claire"], "conclusion": "favorable"},
    )
    assert [u["code"] for u in _unmet(client, pid, "labelliser")] == ["grille_expertise_complete"]
    rate_all(client, pid, later["id"])
    assert fire(client, pid, "labelliser")["state"] == "labellisee"


# --- guards as of the effective date, for each dated kind ---------------------------------------------------
LATE = TODAY - timedelta(days=2)  # the evidence's date
EARLY = TODAY - timedelta(days=5)  # the transition's effective date, before it


def _late_visit(client: TestClient, pid: str) -> None:
    post(client, f"/projects/{pid}/site-visits", {"regie_name": "Régie de Tourcoing", "visited_on": LATE.isoformat()})


def _late_conclusion(client: TestClient, pid: str) -> None:
    _study(client, pid, conclusion_on=LATE.isoformat())


def _late_approval(client: TestClient, pid: str) -> None:
    for sh in client.get(f"{API}/projects/{pid}/stakeholders").json():
        if sh["category"] != "mouvement":
            post(
                client,
                f"/projects/{pid}/approvals",
                {"stakeholder_id": sh["id"], "verdict": "favorable", "given_on": LATE.isoformat()},
            )


def _late_association(client: TestClient, pid: str) -> None:
    put(
        client,
        f"/projects/{pid}/association",
        {"name": "Association", "declared_on": LATE.isoformat(), "rna": "W2A1000123"},
    )


def _late_hire(client: TestClient, pid: str) -> None:
    post(client, f"/projects/{pid}/hires", {"name": "Karim", "role": "Chargé", "start_on": LATE.isoformat()})


def _late_expertise(client: TestClient, pid: str) -> None:
    x = post(
        client,
        f"/projects/{pid}/expertises",
        {"conducted_on": LATE.isoformat(), "experts": ["C"], "conclusion": "favorable"},
    )
    rate_all(client, pid, x["id"])


# kind: (the step it serves, what to record apart from it, how to record it late, the guard, what is named)
AS_OF = {
    "site_visit": (
        "faisabilite",
        lambda c, pid: _study(c, pid),
        _late_visit,
        "visite_terrain",
        "la visite de terrain du",
    ),
    "study_conclusion": ("faisabilite", None, _late_conclusion, "conclusion_favorable", "la conclusion de l'étude du"),
    "approval": ("validation", None, _late_approval, "avis_habitants", "l'avis du"),
    "association": (
        "prefiguration",
        None,
        _late_association,
        "association_declaree",
        "la déclaration de l'association du",
    ),
    "hire": ("prefiguration", None, _late_hire, "recrutement", "le recrutement qui commence le"),
    "expertise": ("expertise", None, _late_expertise, "expertise_sur_site", "l'expertise du"),
}
TRIGGER = {
    "faisabilite": "soumettre_validation",
    "validation": "lancer_prefiguration",
    "prefiguration": "demander_expertise",
    "expertise": "labelliser",
}


@pytest.mark.parametrize("kind", list(AS_OF))
def test_dated_evidence_counts_only_from_its_date(client: TestClient, kind: str) -> None:
    step, other, late, code, named = AS_OF[kind]
    p = project_at(client, step, start=START)
    pid = p["id"]
    # everything the step needs, but the one piece, which is dated LATE
    day = START + timedelta(days=100)
    if kind == "site_visit":
        post(
            client,
            f"/projects/{pid}/markets",
            {"label": "Halls", "buyer_name": "Vilogia", "buyer_category": "bailleur_social"},
        )
        needs = client.get(f"{API}/projects/{pid}/needs").json()
        for n in needs:
            client.patch(f"{API}/projects/{pid}/needs/{n['id']}", json={"status": "confirme"})
    elif kind == "study_conclusion":
        satisfy(client, pid, step, day)
    elif kind == "association":
        satisfy(client, pid, step, day)
        client.delete(f"{API}/projects/{pid}/association")
    elif kind == "hire":
        satisfy(client, pid, step, day)
        for h in client.get(f"{API}/projects/{pid}/hires").json():
            client.delete(f"{API}/projects/{pid}/hires/{h['id']}")
    if other is not None:
        other(client, pid)
    late(client, pid)
    trigger = TRIGGER[step]
    unmet = _unmet(client, pid, trigger, effective_on=EARLY.isoformat(), reason=None)
    assert code in [u["code"] for u in unmet], unmet
    message = next(u["message"] for u in unmet if u["code"] == code)
    assert f"Trop récent pour la date d'effet du {EARLY.strftime('%d/%m/%Y')}" in message
    assert f"{named} {LATE.strftime('%d/%m/%Y')}" in message
    # dated on the transition's day, or before it: it counts
    fired = fire(client, pid, trigger, effective_on=LATE.isoformat())
    assert fired["last_transition_on"] == LATE.isoformat()


def test_a_hire_starting_in_the_future_does_not_satisfy_recrutement_today(client: TestClient) -> None:
    p = project_at(client, "prefiguration", start=START)
    pid = p["id"]
    satisfy(client, pid, "prefiguration", START + timedelta(days=100))
    for h in client.get(f"{API}/projects/{pid}/hires").json():
        client.delete(f"{API}/projects/{pid}/hires/{h['id']}")
    start_on = TODAY + timedelta(days=30)
    post(client, f"/projects/{pid}/hires", {"name": "Karim", "role": "Chargé", "start_on": start_on.isoformat()})
    view = transitions(client, pid)["demander_expertise"]  # the checklist is judged as of today
    assert view["allowed"] is False and [u["code"] for u in view["unmet"]] == ["recrutement"]
    assert f"le recrutement qui commence le {start_on.strftime('%d/%m/%Y')}" in view["unmet"][0]["message"]
    assert [u["code"] for u in _unmet(client, pid, "demander_expertise")] == ["recrutement"]


# --- bulk import of a backdated history ------------------------------------------------------------------
def _example() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def test_bulk_import_judges_each_transition_as_of_its_date(client: TestClient) -> None:
    doc = _example()
    project = copy.deepcopy(doc["projects"][0])
    # the hire is recorded early, but starts after demander_expertise's effective date
    demander = next(t for t in project["transitions"] if t["trigger"] == "demander_expertise")
    hire = next(e for e in project["evidence"] if e["kind"] == "hires")
    hire["data"]["start_on"] = (date.fromisoformat(demander["effective_on"]) + timedelta(days=1)).isoformat()
    r = client.post(f"{API}/imports/projects", json={"projects": [project]})
    assert r.status_code == 200, r.text
    [outcome] = r.json()["projects"]
    assert outcome["status"] == "refused" and outcome["code"] == "conditions_non_remplies"
    assert [u["code"] for u in outcome["unmet"]] == ["recrutement"]
    assert "Trop récent" in outcome["unmet"][0]["message"]
    # the same history with the grid unrated: the label is refused on grille_expertise_complete
    project = copy.deepcopy(doc["projects"][0])
    project["evidence"] = [e for e in project["evidence"] if e["kind"] != "expertise-assessments"]
    [outcome] = client.post(f"{API}/imports/projects", json={"projects": [project]}).json()["projects"]
    assert [u["code"] for u in outcome["unmet"]] == ["grille_expertise_complete"]
    # the example as it is: imported, labelled
    [outcome] = client.post(f"{API}/imports/projects", json={"projects": [doc["projects"][0]]}).json()["projects"]
    assert outcome["status"] == "imported" and outcome["state"] == "labellisee"
    grid = client.get(f"{API}/projects/{outcome['project_id']}/grid").json()
    assert grid["complete"] is True


def test_bulk_import_names_the_expertise_of_a_rating_by_its_ref(client: TestClient) -> None:
    project = copy.deepcopy(_example()["projects"][0])
    rating = next(e for e in project["evidence"] if e["kind"] == "expertise-assessments")
    rating["data"]["expertise"] = "inconnue"
    [outcome] = client.post(f"{API}/imports/projects", json={"projects": [project]}).json()["projects"]
    assert outcome["code"] == "requete_invalide"
    assert any(e["field"].endswith("data.expertise") and "inconnue" in e["message"] for e in outcome["errors"])
