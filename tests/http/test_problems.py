"""Every refusal is an RFC 9457 problem (application/problem+json) with a stable `code`, and a
refused request leaves nothing behind: no version bump, no event, no evidence row."""

from __future__ import annotations

import uuid
from datetime import timedelta

from app.web.wording import date_fr
from tests.support.api import (
    API,
    assert_problem,
    create_project,
    events_of,
    fire,
    footprint,
    get_project,
    post,
    project_at,
    put,
)
from tests.support.clock import TODAY

START = TODAY - timedelta(days=200)
DEFAULT_MONTHS = {
    "groupe_projet": 3,
    "contours": 4,
    "faisabilite": 8,
    "validation": 3,
    "prefiguration": 12,
    "expertise": 6,
}


# --- 404 ------------------------------------------------------------------------------------------
def test_404_unknown_project_on_every_kind_of_route(client) -> None:
    missing = uuid.uuid4()
    for method, path, body in [
        ("GET", f"/projects/{missing}", None),
        ("PATCH", f"/projects/{missing}", {"name": "x"}),
        ("GET", f"/projects/{missing}/transitions", None),
        ("POST", f"/projects/{missing}/transitions/definir_contours", None),
        ("GET", f"/projects/{missing}/events", None),
        ("GET", f"/projects/{missing}/schedule", None),
        ("GET", f"/projects/{missing}/stakeholders", None),
        ("POST", f"/projects/{missing}/needs", {"label": "Besoin"}),
        ("PUT", f"/projects/{missing}/plan", {"step_months": DEFAULT_MONTHS, "horizon_months": 36, "reason": "x"}),
        ("PUT", f"/projects/{missing}/association", {"name": "A", "declared_on": "2026-01-01", "rna": "W123456789"}),
    ]:
        r = client.request(method, f"{API}{path}", json=body)
        problem = assert_problem(r, 404, "introuvable")
        assert problem["instance"] == f"{API}{path}"


def test_404_unknown_evidence_item(client) -> None:
    pid = create_project(client)["id"]
    assert_problem(client.get(f"{API}/projects/{pid}/needs/999"), 404, "introuvable")
    assert_problem(client.patch(f"{API}/projects/{pid}/needs/999", json={"label": "x"}), 404, "introuvable")
    assert_problem(client.delete(f"{API}/projects/{pid}/needs/999"), 404, "introuvable")
    assert_problem(client.get(f"{API}/projects/{pid}/feasibility"), 404, "introuvable")
    assert_problem(client.delete(f"{API}/projects/{pid}/association"), 404, "introuvable")
    assert footprint(client, pid) == (1, 1)


def test_404_unknown_url(client) -> None:
    for path in ("/api/v1/nothing-here", "/api/v2/projects", f"{API}/projects/{uuid.uuid4()}/unknown-kind"):
        problem = assert_problem(client.get(path), 404, "http_404")
        assert problem["instance"] == path


def test_404_unknown_trigger(client) -> None:
    pid = create_project(client)["id"]
    problem = assert_problem(client.post(f"{API}/projects/{pid}/transitions/sauter_etapes"), 404, "declencheur_inconnu")
    assert "sauter_etapes" in problem["detail"]
    assert footprint(client, pid) == (1, 1)


def test_malformed_project_id_is_422(client) -> None:
    problem = assert_problem(client.get(f"{API}/projects/not-a-uuid"), 422, "requete_invalide")
    assert problem["errors"][0]["field"] == "project_id"


# --- 405 ------------------------------------------------------------------------------------------
def test_405_projects_are_never_deleted(client) -> None:
    pid = create_project(client)["id"]
    r = client.delete(f"{API}/projects/{pid}")
    assert_problem(r, 405, "http_405")
    assert {"GET", "PATCH"} <= {m.strip() for m in r.headers["allow"].split(",")}
    assert get_project(client, pid)["version"] == 1
    r = client.put(f"{API}/projects", json={})
    assert_problem(r, 405, "http_405")
    assert r.headers["allow"] == "GET, POST"
    assert_problem(client.delete(f"{API}/projects/{pid}/events"), 405, "http_405")


# --- 409 ------------------------------------------------------------------------------------------
def test_409_guards_unmet_lists_every_unmet_guard(client) -> None:
    pid = create_project(client)["id"]
    r = client.post(f"{API}/projects/{pid}/transitions/definir_contours")
    problem = assert_problem(r, 409, "conditions_non_remplies")
    assert problem["trigger"] == "definir_contours"
    assert [u["code"] for u in problem["unmet"]] == [
        "pilote_mouvement",
        "groupe_habitants",
        "groupe_collectivite",
        "groupe_bailleur",
    ]
    assert all(isinstance(u["message"], str) and len(u["message"]) > 10 for u in problem["unmet"])

    # A habitant, and a Mouvement consultant who is not (yet) the AMO pilot: three guards remain.
    post(client, f"/projects/{pid}/stakeholders", {"name": "Amina", "category": "habitant"})
    consultant = post(client, f"/projects/{pid}/stakeholders", {"name": "Claire", "category": "mouvement"})
    problem = assert_problem(client.post(f"{API}/projects/{pid}/transitions/definir_contours"), 409)
    assert [u["code"] for u in problem["unmet"]] == ["pilote_mouvement", "groupe_collectivite", "groupe_bailleur"]
    r = client.patch(f"{API}/projects/{pid}/stakeholders/{consultant['id']}", json={"is_amo_pilot": True})
    assert r.status_code == 200, r.text
    problem = assert_problem(client.post(f"{API}/projects/{pid}/transitions/definir_contours"), 409)
    assert [u["code"] for u in problem["unmet"]] == ["groupe_collectivite", "groupe_bailleur"]


def test_409_territory_of_a_regie_de_quartier_needs_a_qpv(client) -> None:
    quartier = project_at(client, "contours", start=START)["id"]
    territoire = project_at(client, "contours", start=START, kind="regie_de_territoire")["id"]
    for pid in (quartier, territoire):
        post(client, f"/projects/{pid}/communes", {"insee_code": "59512", "name": "Roubaix"})
        post(client, f"/projects/{pid}/needs", {"label": "Entretien"})
    post(client, f"/projects/{territoire}/communes", {"insee_code": "59599"})  # a Régie de Territoire: two
    problem = assert_problem(client.post(f"{API}/projects/{quartier}/transitions/lancer_faisabilite"), 409)
    assert [u["code"] for u in problem["unmet"]] == ["territoire_defini", "activites_prioritaires"]
    problem = assert_problem(client.post(f"{API}/projects/{territoire}/transitions/lancer_faisabilite"), 409)
    assert [u["code"] for u in problem["unmet"]] == ["activites_prioritaires"]


def test_409_every_soumettre_validation_guard_at_once(client) -> None:
    pid = project_at(client, "faisabilite", start=START)["id"]
    problem = assert_problem(client.post(f"{API}/projects/{pid}/transitions/soumettre_validation"), 409)
    assert [u["code"] for u in problem["unmet"]] == [
        "besoins_valides",
        "modele_economique",
        "budget_equilibre",
        "locaux_identifies",
        "marches_mobilisables",
        "visite_terrain",
        "conclusion_favorable",
    ]


def test_409_trigger_not_valid_from_current_state(client) -> None:
    pid = create_project(client)["id"]
    for trigger in ("labelliser", "lancer_faisabilite", "reprendre_contours", "ajourner_label"):
        problem = assert_problem(
            client.post(f"{API}/projects/{pid}/transitions/{trigger}", json={"reason": "essai"}),
            409,
            "transition_impossible",
        )
        assert trigger in problem["detail"]
    # `reprendre` exists from every step, but only a suspended project can be resumed.
    problem = assert_problem(
        client.post(f"{API}/projects/{pid}/transitions/reprendre", json={"reason": "essai"}),
        409,
        "conditions_non_remplies",
    )
    assert [u["code"] for u in problem["unmet"]] == ["projet_actif"]
    assert footprint(client, pid) == (1, 1)


def test_409_closed_project(client) -> None:
    pid = create_project(client)["id"]
    fire(client, pid, "abandonner", reason="Plus de porteur")
    before = footprint(client, pid)
    for trigger in ("definir_contours", "suspendre", "reprendre", "abandonner"):
        assert_problem(
            client.post(f"{API}/projects/{pid}/transitions/{trigger}", json={"reason": "x"}), 409, "projet_clos"
        )
    assert_problem(client.post(f"{API}/projects/{pid}/needs", json={"label": "Besoin"}), 409, "projet_clos")
    assert_problem(client.put(f"{API}/projects/{pid}/feasibility", json={"annual_charges": 1}), 409, "projet_clos")
    assert footprint(client, pid) == before


# --- 412 ------------------------------------------------------------------------------------------
def _stale_project(client) -> tuple[str, str]:
    """A project at version 2, and the ETag of its version 1."""
    created = client.post(f"{API}/projects", json={"name": "Régie", "kind": "regie_de_quartier", "region": "Bretagne"})
    pid, old = created.json()["id"], created.headers["etag"]
    r = client.patch(f"{API}/projects/{pid}", json={"lead_name": "Nadia"}, headers={"If-Match": old})
    assert r.status_code == 200 and r.headers["etag"] == '"2"'
    return pid, old


def test_412_stale_if_match_on_patch(client) -> None:
    pid, old = _stale_project(client)
    problem = assert_problem(
        client.patch(f"{API}/projects/{pid}", json={"name": "Autre"}, headers={"If-Match": old}), 412, "version_perimee"
    )
    assert "version 1" in problem["detail"] and "actuelle 2" in problem["detail"]
    assert get_project(client, pid)["name"] == "Régie"
    assert footprint(client, pid) == (2, 2)


def test_412_stale_if_match_on_transition(client) -> None:
    pid, old = _stale_project(client)
    assert_problem(
        client.post(f"{API}/projects/{pid}/transitions/suspendre", json={"reason": "pause"}, headers={"If-Match": old}),
        412,
        "version_perimee",
    )
    assert get_project(client, pid)["suspended"] is False
    assert footprint(client, pid) == (2, 2)


def test_412_stale_if_match_on_evidence_writes(client) -> None:
    pid, old = _stale_project(client)
    need = post(client, f"/projects/{pid}/needs", {"label": "Besoin"})
    put(client, f"/projects/{pid}/feasibility", {"annual_charges": 10})
    before = footprint(client, pid)
    stale = {"If-Match": old}
    assert_problem(client.post(f"{API}/projects/{pid}/needs", json={"label": "Autre"}, headers=stale), 412)
    assert_problem(
        client.patch(f"{API}/projects/{pid}/needs/{need['id']}", json={"label": "Autre"}, headers=stale), 412
    )
    assert_problem(client.delete(f"{API}/projects/{pid}/needs/{need['id']}", headers=stale), 412)
    assert_problem(client.put(f"{API}/projects/{pid}/feasibility", json={"annual_charges": 5}, headers=stale), 412)
    assert_problem(client.delete(f"{API}/projects/{pid}/feasibility", headers=stale), 412, "version_perimee")
    assert_problem(
        client.put(
            f"{API}/projects/{pid}/plan",
            headers=stale,
            json={
                "step_months": {
                    "groupe_projet": 3,
                    "contours": 4,
                    "faisabilite": 8,
                    "validation": 3,
                    "prefiguration": 12,
                    "expertise": 6,
                },
                "horizon_months": 36,
                "reason": "x",
            },
        ),
        412,
    )
    assert footprint(client, pid) == before
    assert [n["label"] for n in client.get(f"{API}/projects/{pid}/needs").json()] == ["Besoin"]
    assert client.get(f"{API}/projects/{pid}/feasibility").json()["annual_charges"] == 10


def test_if_match_current_star_and_unreadable(client) -> None:
    pid, _ = _stale_project(client)
    r = client.patch(f"{API}/projects/{pid}", json={"lead_name": "A"}, headers={"If-Match": '"2"'})
    assert r.status_code == 200 and r.headers["etag"] == '"3"'
    # If-Match compares strongly (RFC 9110 §13.1.1): a weak tag never matches, even the current one.
    weak = client.patch(f"{API}/projects/{pid}", json={"lead_name": "B"}, headers={"If-Match": 'W/"3"'})
    assert_problem(weak, 412, "version_perimee")
    assert "étiquette faible" in weak.json()["detail"]
    r = client.patch(f"{API}/projects/{pid}", json={"lead_name": "B"}, headers={"If-Match": '"3"'})
    assert r.status_code == 200 and r.headers["etag"] == '"4"'
    r = client.patch(f"{API}/projects/{pid}", json={"lead_name": "C"}, headers={"If-Match": "*"})
    assert r.status_code == 200 and r.headers["etag"] == '"5"'
    unreadable = client.patch(f"{API}/projects/{pid}", json={"lead_name": "D"}, headers={"If-Match": "cinq"})
    assert_problem(unreadable, 412, "version_perimee")
    assert "If-Match illisible" in unreadable.json()["detail"]
    # A well-formed ETag that names no version is stale, not unreadable: "0" and "00" included.
    for tag in ('"0"', '"00"', '"4"'):
        stale = client.patch(f"{API}/projects/{pid}", json={"lead_name": "E"}, headers={"If-Match": tag})
        assert_problem(stale, 412, "version_perimee")
        assert stale.json()["detail"].startswith("Le projet a changé depuis votre lecture"), tag
    assert footprint(client, pid) == (5, 5)


def test_an_unreadable_if_match_does_not_hide_what_else_is_wrong(client) -> None:
    """RFC 9110 §13.2.1: a precondition is judged only for a request that would otherwise succeed; one
    that is invalid, or aimed at a missing project, gets that answer (422, 404), not 412."""
    pid, _ = _stale_project(client)
    before = footprint(client, pid)
    bad = {"If-Match": "cinq"}
    assert_problem(client.patch(f"{API}/projects/{pid}", json={"lead_name": 5}, headers=bad), 422)
    assert_problem(client.post(f"{API}/projects/{pid}/needs", json={}, headers=bad), 422)
    assert_problem(
        client.post(f"{API}/projects/{pid}/transitions/reprendre_contours", json={"raison": "x"}, headers=bad), 422
    )
    missing = "00000000-0000-4000-8000-000000000000"
    assert_problem(client.patch(f"{API}/projects/{missing}", json={"lead_name": "E"}, headers=bad), 404)
    # and a valid request with it is refused, with nothing written
    assert_problem(
        client.post(f"{API}/projects/{pid}/needs", json={"label": "Besoin"}, headers=bad), 412, "version_perimee"
    )
    assert footprint(client, pid) == before


# --- 413 ------------------------------------------------------------------------------------------
def test_413_body_larger_than_the_limit(client, settings) -> None:
    assert settings.max_body_bytes == 64 * 1024
    pid = create_project(client)["id"]
    big = {"label": "Besoin", "description": "x" * (settings.max_body_bytes + 1)}
    problem = assert_problem(client.post(f"{API}/projects/{pid}/needs", json=big), 413, "requete_trop_volumineuse")
    assert str(settings.max_body_bytes) in problem["detail"]
    # Without Content-Length (chunked), the limit still holds while the body is read.
    chunks = (b'{"label": "Besoin", "description": "' + b"x" * 1024 for _ in range(80))
    r = client.post(f"{API}/projects/{pid}/needs", content=chunks, headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert_problem(r, 413, "requete_trop_volumineuse")
    assert footprint(client, pid) == (1, 1)
    # Just under the limit is fine as far as size goes (the field itself is bounded: 422, not 413).
    assert_problem(
        client.post(f"{API}/projects/{pid}/needs", json={"label": "B", "description": "x" * 6000}),
        422,
        "requete_invalide",
    )


# --- 422 ------------------------------------------------------------------------------------------
def _errors(problem: dict) -> dict[str, str]:
    return {e["field"]: e["message"] for e in problem.get("errors", [])}


def test_422_unknown_field_is_rejected(client) -> None:
    r = client.post(f"{API}/projects", json={"name": "R", "kind": "regie_de_quartier", "region": "Corse", "budget": 12})
    problem = assert_problem(r, 422, "requete_invalide")
    assert "budget" in _errors(problem)
    pid = create_project(client)["id"]
    problem = assert_problem(client.post(f"{API}/projects/{pid}/needs", json={"label": "B", "priority": 1}), 422)
    assert "priority" in _errors(problem)
    problem = assert_problem(
        client.post(f"{API}/projects/{pid}/transitions/suspendre", json={"reason": "x", "force": True}), 422
    )
    assert "force" in _errors(problem)
    assert footprint(client, pid) == (1, 1)
    assert client.get(f"{API}/projects").json()["total"] == 1


def test_422_too_long_strings(client) -> None:
    r = client.post(f"{API}/projects", json={"name": "R" * 201, "kind": "regie_de_quartier", "region": "Corse"})
    assert "name" in _errors(assert_problem(r, 422, "requete_invalide"))
    pid = create_project(client)["id"]
    r = client.post(f"{API}/projects/{pid}/activities", json={"label": "a" * 301})
    assert "label" in _errors(assert_problem(r, 422))
    r = client.post(f"{API}/projects/{pid}/transitions/suspendre", json={"reason": "r" * 2001})
    assert "reason" in _errors(assert_problem(r, 422))
    r = client.get(f"{API}/projects", params={"q": "q" * 101})
    assert "q" in _errors(assert_problem(r, 422))
    assert footprint(client, pid) == (1, 1)


def test_422_effective_on_in_the_future(client) -> None:
    pid = create_project(client)["id"]
    r = client.post(
        f"{API}/projects/{pid}/transitions/suspendre",
        json={"reason": "pause", "effective_on": (TODAY + timedelta(days=1)).isoformat()},
    )
    problem = assert_problem(r, 422, "date_effet_invalide")
    assert _errors(problem) == {"effective_on": problem["detail"]}
    assert footprint(client, pid) == (1, 1)
    # Today is fine.
    fire(client, pid, "suspendre", reason="pause", effective_on=TODAY.isoformat())


def test_422_effective_on_before_the_previous_transition(client) -> None:
    pid = create_project(client, started_on=START.isoformat())["id"]
    # Before the start of the groupe projet.
    r = client.post(
        f"{API}/projects/{pid}/transitions/suspendre",
        json={"reason": "pause", "effective_on": (START - timedelta(days=1)).isoformat()},
    )
    assert_problem(r, 422, "date_effet_invalide")
    moved = START + timedelta(days=30)
    fire(client, pid, "suspendre", reason="pause", effective_on=moved.isoformat())
    r = client.post(
        f"{API}/projects/{pid}/transitions/reprendre",
        json={"reason": "reprise", "effective_on": (moved - timedelta(days=1)).isoformat()},
    )
    problem = assert_problem(r, 422, "date_effet_invalide")
    assert f"(du {date_fr(moved)})" in problem["detail"]  # in French words, as people read it (never ISO)
    assert footprint(client, pid) == (2, 2)
    fire(client, pid, "reprendre", reason="reprise", effective_on=moved.isoformat())  # same day is allowed


def test_422_reason_required(client) -> None:
    pid = project_at(client, "faisabilite", start=START)["id"]
    before = footprint(client, pid)
    for trigger in ("reprendre_contours", "abandonner", "suspendre"):
        for body in (None, {}, {"reason": ""}, {"reason": "   "}, {"effective_on": TODAY.isoformat()}):
            r = client.post(f"{API}/projects/{pid}/transitions/{trigger}", json=body)
            problem = assert_problem(r, 422, "motif_requis")
            assert "reason" in _errors(problem), (trigger, body)
    assert footprint(client, pid) == before
    assert get_project(client, pid)["state"] == "faisabilite"


def test_422_invalid_insee_and_qpv(client) -> None:
    pid = create_project(client)["id"]
    for path, body, field in [
        ("communes", {"insee_code": "5951", "name": "Roubaix"}, "insee_code"),
        ("communes", {"insee_code": "595120", "name": "Roubaix"}, "insee_code"),
        ("communes", {"insee_code": "2C004", "name": "Ajaccio"}, "insee_code"),
        ("communes", {"insee_code": "ABCDE", "name": "Roubaix"}, "insee_code"),
        ("qpvs", {"code": "QX059036", "name": "Alma"}, "code"),
        ("qpvs", {"code": "QP05903", "name": "Alma"}, "code"),
        ("qpvs", {"code": "QP059-36", "name": "Alma"}, "code"),
    ]:
        problem = assert_problem(client.post(f"{API}/projects/{pid}/{path}", json=body), 422, "requete_invalide")
        assert list(_errors(problem)) == [field], body
    assert client.get(f"{API}/projects/{pid}/communes").json() == []
    assert client.get(f"{API}/projects/{pid}/qpvs").json() == []
    assert footprint(client, pid) == (1, 1)


def test_valid_identifiers_are_normalised(client) -> None:
    pid = create_project(client)["id"]
    assert (
        post(client, f"/projects/{pid}/communes", {"insee_code": "2a004", "name": "Ajaccio"})["insee_code"] == "2A004"
    )
    assert post(client, f"/projects/{pid}/qpvs", {"code": " qp059036 ", "name": "Alma"})["code"] == "QP059036"


def test_422_invalid_rna_and_siret(client) -> None:
    pid = create_project(client)["id"]
    for body, field in [
        ({"rna": "595012345"}, "rna"),
        ({"rna": "W59501234"}, "rna"),
        ({"rna": "W5950123456"}, "rna"),
        ({"rna": "W595012345", "siret": "73282932000075"}, "siret"),  # bad Luhn key
        ({"rna": "W595012345", "siret": "7328293200007"}, "siret"),  # 13 digits
        ({"rna": "W595012345", "siret": "7328293200007A"}, "siret"),
    ]:
        full = {"name": "Association de préfiguration", "declared_on": TODAY.isoformat()} | body
        problem = assert_problem(client.put(f"{API}/projects/{pid}/association", json=full), 422, "requete_invalide")
        assert list(_errors(problem)) == [field], body
    assert_problem(client.get(f"{API}/projects/{pid}/association"), 404)
    assert footprint(client, pid) == (1, 1)
    r = client.put(
        f"{API}/projects/{pid}/association",
        json={
            "name": "Association",
            "declared_on": TODAY.isoformat(),
            "rna": "w595012345",
            "siret": "732 829 320 00074",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["rna"] == "W595012345" and r.json()["siret"] == "73282932000074"


def test_422_future_dates_of_evidence(client) -> None:
    pid = create_project(client)["id"]
    sh = post(client, f"/projects/{pid}/stakeholders", {"name": "Amina", "category": "habitant"})
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    before = footprint(client, pid)
    r = client.post(
        f"{API}/projects/{pid}/approvals",
        json={"stakeholder_id": sh["id"], "verdict": "favorable", "given_on": tomorrow},
    )
    problem = assert_problem(r, 422, "donnee_invalide")
    assert "given_on" in _errors(problem)
    for path, body in [
        ("site-visits", {"regie_name": "Régie de Lille", "visited_on": tomorrow}),
        ("expertises", {"conducted_on": tomorrow, "experts": ["Claire"]}),
    ]:
        assert_problem(client.post(f"{API}/projects/{pid}/{path}", json=body), 422, "donnee_invalide")
    assert_problem(client.put(f"{API}/projects/{pid}/feasibility", json={"conclusion_on": tomorrow}), 422)
    assert footprint(client, pid) == before
    # A PATCH cannot move a date into the future either.
    ok = post(
        client,
        f"/projects/{pid}/approvals",
        {"stakeholder_id": sh["id"], "verdict": "favorable", "given_on": TODAY.isoformat()},
    )
    before = footprint(client, pid)
    r = client.patch(f"{API}/projects/{pid}/approvals/{ok['id']}", json={"given_on": tomorrow})
    assert_problem(r, 422, "donnee_invalide")
    assert footprint(client, pid) == before
    # ... and a project cannot start in the future.
    r = client.post(
        f"{API}/projects", json={"name": "R", "kind": "regie_de_quartier", "region": "Corse", "started_on": tomorrow}
    )
    assert "started_on" in _errors(assert_problem(r, 422, "donnee_invalide"))


def test_422_page_size_above_max(client, settings) -> None:
    pid = create_project(client)["id"]
    for path in ("/projects", f"/projects/{pid}/events"):
        r = client.get(f"{API}{path}", params={"page_size": settings.max_page_size + 1})
        assert "page_size" in _errors(assert_problem(r, 422, "donnee_invalide"))
        r = client.get(f"{API}{path}", params={"page_size": settings.max_page_size})
        assert r.status_code == 200
        assert_problem(client.get(f"{API}{path}", params={"page_size": 0}), 422, "requete_invalide")
        assert_problem(client.get(f"{API}{path}", params={"page": 0}), 422, "requete_invalide")


def test_422_unknown_enum_values(client) -> None:
    r = client.post(f"{API}/projects", json={"name": "R", "kind": "regie_de_ville", "region": "Corse"})
    assert "kind" in _errors(assert_problem(r, 422))
    assert_problem(client.get(f"{API}/projects", params={"state": "termine"}), 422)
    assert_problem(client.get(f"{API}/projects", params={"sort": "version"}), 422)


def test_400_malformed_json(client) -> None:
    r = client.post(f"{API}/projects", content=b'{"name": ', headers={"content-type": "application/json"})
    assert_problem(r, 400, "json_illisible")


# --- 500 ------------------------------------------------------------------------------------------
def test_500_is_a_problem_without_internals(fresh_app) -> None:
    from fastapi.testclient import TestClient

    def explode() -> None:
        raise RuntimeError("secret stack detail")

    fresh_app.add_api_route("/api/v1/_boom", explode, methods=["GET"])
    with TestClient(fresh_app, raise_server_exceptions=False) as client:
        r = client.get("/api/v1/_boom")
    problem = assert_problem(r, 500, "erreur_interne")
    assert "secret" not in r.text
    assert problem["instance"] == "/api/v1/_boom"


# --- nothing half-written -------------------------------------------------------------------------
def test_refused_requests_leave_version_and_events_unchanged(client) -> None:
    """One project, many refusals of every kind: none of them leaves a trace."""
    pid = project_at(client, "faisabilite", start=START)["id"]
    other = create_project(client, name="Autre projet")["id"]
    foreign = post(client, f"/projects/{other}/stakeholders", {"name": "Étranger", "category": "habitant"})
    needs = client.get(f"{API}/projects/{pid}/needs").json()
    stakeholders = client.get(f"{API}/projects/{pid}/stakeholders").json()
    habitant = next(s for s in stakeholders if s["category"] == "habitant")
    post(
        client,
        f"/projects/{pid}/approvals",
        {"stakeholder_id": habitant["id"], "verdict": "favorable", "given_on": TODAY.isoformat()},
    )
    version, n_events = footprint(client, pid)
    etag = f'"{version}"'
    stale = {"If-Match": f'"{version - 1}"'}
    months = {"groupe_projet": 3, "contours": 4, "faisabilite": 8, "validation": 3, "prefiguration": 12}
    refusals = [
        ("POST", "/transitions/soumettre_validation", None, None, 409),  # guards unmet
        ("POST", "/transitions/labelliser", None, None, 409),  # not from here
        ("POST", "/transitions/reprendre", {"reason": "x"}, None, 409),  # not suspended
        ("POST", "/transitions/reprendre_contours", {"reason": "x"}, stale, 412),
        ("POST", "/transitions/reprendre_contours", {"reason": "x", "effective_on": "2999-01-01"}, None, 422),
        ("POST", "/transitions/reprendre_contours", {}, {"If-Match": etag}, 422),
        ("POST", "/transitions/inconnu", None, None, 404),
        ("PATCH", "", {"name": None}, None, 422),
        ("PATCH", "", {"state": "expertise"}, None, 422),
        ("PATCH", "", {"name": "Nouveau nom"}, stale, 412),
        ("PUT", "/plan", {"step_months": months, "horizon_months": 36, "reason": "x"}, None, 422),
        ("PUT", "/plan", {"step_months": months | {"expertise": 6}, "horizon_months": 36}, None, 422),
        ("PUT", "/plan", {"step_months": months | {"expertise": 6}, "horizon_months": 36, "reason": "x"}, stale, 412),
        ("POST", "/communes", {"insee_code": "59512", "name": "Roubaix bis"}, None, 409),  # duplicate
        ("POST", "/qpvs", {"code": "QP059036", "name": "Alma bis"}, None, 409),  # duplicate
        (
            "POST",
            "/approvals",
            {"stakeholder_id": foreign["id"], "verdict": "favorable", "given_on": TODAY.isoformat()},
            None,
            409,
        ),
        ("DELETE", f"/stakeholders/{habitant['id']}", None, None, 409),
        ("POST", "/stakeholders", {"name": "X", "category": "habitant", "is_amo_pilot": True}, None, 422),
        ("PATCH", f"/needs/{needs[0]['id']}", {"label": None}, None, 422),
        ("PATCH", f"/needs/{needs[0]['id']}", {"status": "peut_etre"}, None, 422),
        ("POST", "/needs", {"label": "x" * 301}, None, 422),
        ("POST", "/needs", {"label": "Besoin"}, stale, 412),
        ("DELETE", f"/needs/{needs[0]['id']}", None, stale, 412),
        ("PUT", "/feasibility", {"annual_charges": -1}, None, 422),
    ]
    for method, path, body, headers, status in refusals:
        r = client.request(method, f"{API}/projects/{pid}{path}", json=body, headers=headers)
        assert_problem(r, status)
    # Writes only ever add: if any refusal had written, the version or the log would have grown.
    events = events_of(client, pid)
    assert len(events) == n_events, events[n_events:]
    project = get_project(client, pid)
    assert project["version"] == version
    assert project["state"] == "faisabilite" and project["name"] == "Régie des Trois Quartiers"
    assert client.get(f"{API}/projects/{pid}/needs").json() == needs
    assert client.get(f"{API}/projects/{pid}/stakeholders").json() == stakeholders
    assert len(client.get(f"{API}/projects/{pid}/communes").json()) == 1
    assert_problem(client.get(f"{API}/projects/{pid}/feasibility"), 404)
    assert [e["seq"] for e in events_of(client, pid)] == list(range(1, version + 1))
