"""The grid and the reservations through the API: who may write what, the events that record it, and
GET …/grid with the facts beside it (DOMAIN.md, "The label's success conditions")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.assessments.helpers import START, adjourned, porteur, rate_all
from tests.support.api import API, CONDITIONS, assert_problem, create_project, events_of, fire, post, project_at
from tests.support.clock import TODAY
from tests.support.evidence import to_contours

D = (TODAY - timedelta(days=3)).isoformat()


def _grid(client: TestClient, pid: str) -> dict[str, Any]:
    r = client.get(f"{API}/projects/{pid}/grid")
    assert r.status_code == 200, r.text
    return r.json()


# --- self-assessment ---------------------------------------------------------------------------------
def test_self_assessment_opens_at_step_2_and_keeps_its_history(client: TestClient) -> None:
    pid = create_project(client)["id"]
    body = {"condition": "implication_habitants", "level": "non_atteint", "comment": "Personne encore"}
    problem = assert_problem(client.post(f"{API}/projects/{pid}/self-assessments", json=body), 409, "conflit")
    assert "s'ouvre à l'étape 2" in problem["detail"]

    to_contours(client, pid)
    first = post(client, f"/projects/{pid}/self-assessments", body | {"assessed_on": D})
    assert first["assessed_on"] == D  # and without a date, today
    second = post(
        client, f"/projects/{pid}/self-assessments", body | {"level": "en_cours", "comment": "Deux habitantes"}
    )
    assert second["assessed_on"] == TODAY.isoformat()

    line = next(c for c in _grid(client, pid)["conditions"] if c["condition"] == "implication_habitants")
    assert line["self_assessment"]["level"] == "en_cours"
    assert [a["level"] for a in line["self_history"]] == ["non_atteint", "en_cours"]
    created = [
        e for e in events_of(client, pid) if e["type"] == "evidence.created" and e["data"]["kind"] == "self-assessments"
    ]
    # each event carries what replays its row, the date the server filled in included
    assert [e["data"]["values"]["assessed_on"] for e in created] == [D, TODAY.isoformat()]
    assert all(e["data"]["values"]["condition"] == "implication_habitants" for e in created)


def test_self_assessment_is_never_a_guard(client: TestClient) -> None:
    """A grid the group judges 'non atteint' everywhere blocks nothing."""
    p = project_at(client, "contours", start=START)
    for condition in CONDITIONS:
        post(client, f"/projects/{p['id']}/self-assessments", {"condition": condition, "level": "non_atteint"})
    day = START + timedelta(days=40)
    from tests.support.api import satisfy

    satisfy(client, p["id"], "contours", day)
    assert fire(client, p["id"], "lancer_faisabilite", effective_on=day.isoformat())["state"] == "faisabilite"


def test_self_assessment_refuses_unknown_levels_and_conditions_in_french(client: TestClient) -> None:
    pid = create_project(client)["id"]
    to_contours(client, pid)
    for body, field in (
        ({"condition": "charisme", "level": "atteint"}, "condition"),
        ({"condition": "services_nouveaux", "level": "partiel"}, "level"),  # an expert's level, not the group's
        ({"condition": "services_nouveaux", "level": "atteint", "assessed_on": "2030-01-01"}, "assessed_on"),
    ):
        problem = assert_problem(client.post(f"{API}/projects/{pid}/self-assessments", json=body), 422)
        assert any(e["field"].endswith(field) for e in problem["errors"]), problem


# --- the expertise's assessment -----------------------------------------------------------------------
def test_the_expertise_rates_each_condition_once(app: Any, client: TestClient) -> None:
    p = project_at(client, "expertise", start=START)
    pid = p["id"]
    x = post(
        client,
        f"/projects/{pid}/expertises",
        {"conducted_on": D, "experts": ["Claire Martin"], "conclusion": "favorable"},
    )
    base = f"{API}/projects/{pid}/expertise-assessments"
    body = {"expertise_id": x["id"], "condition": "perennite_economique", "level": "partiel", "comment": "Fragile"}
    rated = post(client, f"/projects/{pid}/expertise-assessments", body)
    assert rated == rated | body
    problem = assert_problem(client.post(base, json=body | {"level": "atteint"}), 409, "conflit")
    assert "évalue déjà « Pérennité économique »" in problem["detail"]
    assert_problem(client.post(base, json=body | {"expertise_id": 999_999}), 409, "conflit")
    # the porteur reads it but cannot rate: the expertise is the Mouvement's
    with porteur(app, pid) as c:
        assert c.get(base).status_code == 200
        problem = assert_problem(c.post(base, json=body | {"condition": "services_nouveaux"}), 403, "acces_refuse")
        assert problem["detail"].startswith("Seul un consultant du Mouvement des Régies")
    # an expertise that is rated cannot be removed from under its ratings
    problem = assert_problem(client.delete(f"{API}/projects/{pid}/expertises/{x['id']}"), 409, "conflit")
    assert "retirez d'abord" in problem["detail"]


# --- reservations ------------------------------------------------------------------------------------
def test_reservations_belong_to_an_expertise_with_reservations(client: TestClient) -> None:
    p = project_at(client, "expertise", start=START)
    pid = p["id"]
    favourable = post(
        client, f"/projects/{pid}/expertises", {"conducted_on": D, "experts": ["A"], "conclusion": "favorable"}
    )
    body = {"expertise_id": favourable["id"], "condition": "ancrage_territorial", "description": "Plus de présence"}
    problem = assert_problem(client.post(f"{API}/projects/{pid}/reservations", json=body), 409, "conflit")
    assert "« avec réserves » ou « défavorable »" in problem["detail"]
    unfavourable = post(
        client, f"/projects/{pid}/expertises", {"conducted_on": D, "experts": ["A"], "conclusion": "defavorable"}
    )
    made = post(client, f"/projects/{pid}/reservations", body | {"expertise_id": unfavourable["id"]})
    assert made["lifted_on"] is None and made["recorded_on"] == TODAY.isoformat()
    blank = body | {"expertise_id": unfavourable["id"], "description": "   "}
    assert_problem(client.post(f"{API}/projects/{pid}/reservations", json=blank), 422)


def test_a_porteur_reports_but_only_a_consultant_lifts(app: Any, client: TestClient) -> None:
    pid, _, (governance, buyers) = adjourned(client)
    item = f"{API}/projects/{pid}/reservations/{governance}"
    with porteur(app, pid) as c:
        # lifting it: 403 with a French reason, nothing recorded
        before = len(events_of(client, pid))
        problem = assert_problem(c.patch(item, json={"lifted_on": D, "lifted_how": "Fait"}), 403, "acces_refuse")
        assert problem["detail"].startswith("Seul un consultant du Mouvement des Régies")
        assert_problem(c.post(f"{API}/projects/{pid}/reservations", json={}), 403, "acces_refuse")
        assert len(events_of(client, pid)) == before
        # reporting what the group did: allowed, one event that replays the change
        r = c.put(f"{item}/response", json={"response": "Deux habitantes élues au conseil", "responded_on": D})
        assert r.status_code == 200, r.text
        assert r.json()["response"] == "Deux habitantes élues au conseil" and r.json()["lifted_on"] is None
        assert r.headers["etag"] == f'"{before + 1}"'
        event = events_of(client, pid)[-1]
        assert event["type"] == "evidence.updated" and event["data"] == {
            "kind": "reservations",
            "id": governance,
            "values": {"response": "Deux habitantes élues au conseil", "responded_on": D},
        }
        assert_problem(c.put(f"{item}/response", json={"response": "  "}), 422)
        future = (TODAY + timedelta(days=1)).isoformat()
        assert_problem(c.put(f"{item}/response", json={"response": "Bientôt", "responded_on": future}), 422)
        assert_problem(c.put(f"{API}/projects/{pid}/reservations/999999/response", json={"response": "x"}), 404)
    # the consultant lifts it: when, how, and who (the server names the caller)
    r = client.patch(item, json={"lifted_on": D, "lifted_how": "Procès-verbal du conseil du 20 novembre"})
    assert r.status_code == 200, r.text
    assert r.json()["lifted_by"] == "Mouvement des Régies – tests"
    assert events_of(client, pid)[-1]["data"]["values"]["lifted_by"] == "Mouvement des Régies – tests"
    # a lifted reservation takes no more reports; a lift needs both its date and how
    assert_problem(client.put(f"{item}/response", json={"response": "Encore"}), 409, "conflit")
    problem = assert_problem(client.patch(f"{API}/projects/{pid}/reservations/{buyers}", json={"lifted_on": D}), 422)
    assert problem["errors"][0]["field"].endswith("lifted_how")


# --- the grid and its facts ----------------------------------------------------------------------------
def test_grid_shows_the_latest_expertise_and_the_facts_beside_it(client: TestClient) -> None:
    p = project_at(client, "expertise", start=START)
    pid = p["id"]
    # the board (from `satisfy`): Amina Benali (habitant), Élu de quartier, Vilogia; add one more inhabitant
    post(client, f"/projects/{pid}/board-members", {"name": "Karima Saïdi", "college": "habitant"})
    # markets: Vilogia sits on the board and buys; the town does not sit on it
    markets = client.get(f"{API}/projects/{pid}/markets").json()
    client.patch(f"{API}/projects/{pid}/markets/{markets[0]['id']}", json={"annual_amount": 60000})
    post(
        client,
        f"/projects/{pid}/markets",
        {
            "label": "Propreté",
            "buyer_name": "Ville de Roubaix",
            "buyer_category": "collectivite",
            "annual_amount": 40000,
        },
    )
    post(
        client,
        f"/projects/{pid}/hires",
        {"name": "Sofiane", "role": "Encadrant", "start_on": D, "home_insee_code": "59512"},
    )
    post(client, f"/projects/{pid}/hires", {"name": "Léa", "role": "Agente", "start_on": D, "home_insee_code": "59350"})
    old = post(client, f"/projects/{pid}/expertises", {"conducted_on": D, "experts": ["A"], "conclusion": "reserves"})
    post(
        client,
        f"/projects/{pid}/expertise-assessments",
        {"expertise_id": old["id"], "condition": "ancrage_territorial", "level": "non_atteint"},
    )
    grid = _grid(client, pid)
    assert grid["latest_expertise_id"] == old["id"] and grid["complete"] is False
    new = post(
        client,
        f"/projects/{pid}/expertises",
        {"conducted_on": TODAY.isoformat(), "experts": ["A"], "conclusion": "favorable"},
    )
    rate_all(client, pid, new["id"])
    grid = _grid(client, pid)
    assert grid["latest_expertise_id"] == new["id"] and grid["complete"] is True
    assert [c["condition"] for c in grid["conditions"]] == list(CONDITIONS)
    assert {c["expertise_assessment"]["level"] for c in grid["conditions"]} == {"atteint"}
    assert grid["conditions"][0]["label"] == "Ancrage territorial"
    facts = grid["facts"]
    assert (facts["board_members"], facts["board_habitants"], facts["habitant_share"]) == (4, 2, 0.5)
    assert (facts["market_total"], facts["market_from_board_buyers"]) == (100000, 60000)
    assert facts["board_buyers"] == ["Vilogia"] and facts["board_buyer_share"] == 0.6
    # the hire of `satisfy` has no commune recorded: only the two with one count
    assert (facts["hires_with_home"], facts["hires_in_territory"]) == (2, 1)
