"""Evidence sub-resources, one test per kind of the registry: every write is one version and one event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.evidence.registry import KINDS
from tests.support.api import API, actor_of, assert_problem, create_project, events_of, fire, footprint, post
from tests.support.clock import TODAY
from tests.support.evidence import NEEDS_EXPERTISE, to_contours

D = (TODAY - timedelta(days=3)).isoformat()
D2 = (TODAY - timedelta(days=1)).isoformat()

# kind -> (minimal valid body, a change): PATCH body for collections, the full replacement for singletons.
BODIES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "stakeholders": ({"name": "Amina Benali", "category": "habitant"}, {"organisation": "Amicale des locataires"}),
    "communes": ({"insee_code": "59512", "name": "Roubaix"}, {"insee_code": "59599"}),
    "qpvs": ({"code": "QP059036", "name": "Alma-Gare"}, {"code": "QP059037"}),
    "needs": ({"label": "Entretien des halls"}, {"status": "confirme"}),
    "activities": ({"label": "Petite maintenance"}, {"description": "Dans les halls et les caves"}),
    "feasibility": (
        {"annual_charges": 420000},
        {"annual_charges": 430000, "conclusion": "favorable", "conclusion_on": D},
    ),
    "markets": (
        {"label": "Entretien", "buyer_name": "Vilogia", "buyer_category": "bailleur_social"},
        {"annual_amount": 80000},
    ),
    "site-visits": ({"regie_name": "Régie de Tourcoing", "visited_on": D}, {"visited_on": D2}),
    "approvals": ({"verdict": "favorable", "given_on": D}, {"verdict": "defavorable", "comment": "Pas de local"}),
    "association": (
        {"name": "Association de préfiguration", "declared_on": D, "rna": "W595012345"},
        {"name": "Association de préfiguration", "declared_on": D, "rna": "W595012345", "siret": "73282932000074"},
    ),
    "board-members": ({"name": "Amina Benali", "college": "habitant"}, {"office": "Présidente"}),
    "hires": ({"name": "Karim Haddad", "role": "Chargé de préfiguration", "start_on": D}, {"role": "Directeur"}),
    "expertises": (
        {"conducted_on": D, "experts": ["Claire Martin"]},
        {"experts": ["Claire Martin", "Jean Dupuis"], "conclusion": "reserves"},
    ),
    # the grid (app/assessments): `expertise_id` is set by _setup
    "self-assessments": (
        {"condition": "ancrage_territorial", "level": "en_cours", "assessed_on": D},
        {"level": "atteint", "comment": "Trois associations de locataires"},
    ),
    "expertise-assessments": (
        {"condition": "perennite_economique", "level": "partiel"},
        {"level": "atteint", "comment": "Budget équilibré"},
    ),
    "reservations": (
        {"condition": "implication_habitants", "description": "Plus d'habitants au conseil", "recorded_on": D},
        {"lifted_on": D2, "lifted_how": "Deux habitantes élues"},
    ),
}


def test_every_kind_has_a_body() -> None:
    assert set(BODIES) == set(KINDS)


def _setup(client, name: str) -> tuple[str, dict[str, Any]]:
    """A project ready to take this kind of evidence, and the body to create it with."""
    pid = create_project(client)["id"]
    body = dict(BODIES[name][0])
    if name == "approvals":
        sh = post(client, f"/projects/{pid}/stakeholders", {"name": "Ville de Roubaix", "category": "collectivite"})
        body["stakeholder_id"] = sh["id"]
    if name == "self-assessments":
        to_contours(client, pid)
    if name in NEEDS_EXPERTISE:
        x = post(client, f"/projects/{pid}/expertises", {"conducted_on": D, "experts": ["A"], "conclusion": "reserves"})
        body["expertise_id"] = x["id"]
    return pid, body


def _one_write(client, pid: str, r, before: int, type_: str, kind: str) -> dict[str, Any]:
    """The write answered with version `before` + 1, and the log holds exactly one more event: returns it."""
    assert r.headers["etag"] == f'"{before + 1}"', r.headers
    events = events_of(client, pid)
    assert [e["seq"] for e in events] == list(range(1, before + 2))
    event = events[-1]
    assert event["type"] == type_ and event["data"]["kind"] == kind
    assert event["actor"] == actor_of(client) and event["trigger"] is None
    return event


# What a change brings with it: a commune's official name comes with its code (app/reference).
# Who lifted a reservation: the caller, filled in by the server (and recorded in the event).
FILLED_IN: dict[str, dict[str, Any]] = {
    "communes": {"name": "Tourcoing"},
    "reservations": {"lifted_by": "Mouvement des Régies – tests"},
}


@pytest.mark.parametrize("name", [k for k, v in KINDS.items() if not v.singleton])
def test_collection_create_list_get_patch_delete(client, name) -> None:
    pid, body = _setup(client, name)
    base = f"{API}/projects/{pid}/{name}"
    version = footprint(client, pid)[0]
    assert client.get(base).json() == []

    r = client.post(base, json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    location = r.headers["location"]
    assert location == f"{base}/{created['id']}"
    assert created == created | body
    event = _one_write(client, pid, r, version, "evidence.created", name)
    assert event["data"]["id"] == created["id"]
    version += 1

    r = client.get(base)
    assert r.json() == [created] and r.headers["etag"] == f'"{version}"'
    assert client.get(location).json() == created

    change = BODIES[name][1]
    r = client.patch(location, json=change, headers={"If-Match": f'"{version}"'})
    assert r.status_code == 200, r.text
    updated = r.json()
    change = change | FILLED_IN.get(name, {})
    assert updated == created | change
    event = _one_write(client, pid, r, version, "evidence.updated", name)
    assert event["data"]["values"] == change and event["data"]["id"] == created["id"]
    assert client.get(location).json() == updated
    version += 1

    r = client.delete(location)
    assert r.status_code == 204 and r.content == b""
    _one_write(client, pid, r, version, "evidence.deleted", name)
    version += 1
    assert_problem(client.get(location), 404, "introuvable")
    assert client.get(base).json() == []
    assert_problem(client.delete(location), 404)
    assert footprint(client, pid) == (version, version)


@pytest.mark.parametrize("name", [k for k, v in KINDS.items() if v.singleton])
def test_singleton_put_get_delete(client, name) -> None:
    pid, body = _setup(client, name)
    base = f"{API}/projects/{pid}/{name}"
    assert_problem(client.get(base), 404, "introuvable")
    version = footprint(client, pid)[0]

    r = client.put(base, json=body)
    assert r.status_code == 201, r.text
    assert r.json() == r.json() | body
    _one_write(client, pid, r, version, "evidence.created", name)
    version += 1
    assert client.get(base).json() == r.json()

    replacement = BODIES[name][1]
    r = client.put(base, json=replacement, headers={"If-Match": f'"{version}"'})
    assert r.status_code == 200, r.text
    assert r.json() == r.json() | replacement
    # PUT replaces: what the replacement leaves out is cleared.
    assert all(v is None for k, v in r.json().items() if k not in replacement)
    _one_write(client, pid, r, version, "evidence.updated", name)
    version += 1
    got = client.get(base)
    assert got.json() == r.json() and got.headers["etag"] == f'"{version}"'

    r = client.delete(base)
    assert r.status_code == 204
    _one_write(client, pid, r, version, "evidence.deleted", name)
    version += 1
    assert_problem(client.get(base), 404)
    assert_problem(client.delete(base), 404)
    assert footprint(client, pid) == (version, version)
    # ... and it can be recorded again.
    assert client.put(base, json=body).status_code == 201


def test_patch_of_nothing_writes_nothing(client) -> None:
    pid = create_project(client)["id"]
    need = post(client, f"/projects/{pid}/needs", {"label": "Besoin"})
    r = client.patch(f"{API}/projects/{pid}/needs/{need['id']}", json={})
    assert r.status_code == 200, r.text
    assert r.json() == need and r.headers["etag"] == '"2"'
    assert footprint(client, pid) == (2, 2)


def test_items_of_another_project_are_not_found(client) -> None:
    a = create_project(client, name="A")["id"]
    b = create_project(client, name="B")["id"]
    need = post(client, f"/projects/{a}/needs", {"label": "Besoin de A"})
    assert_problem(client.get(f"{API}/projects/{b}/needs/{need['id']}"), 404)
    assert_problem(client.patch(f"{API}/projects/{b}/needs/{need['id']}", json={"label": "x"}), 404)
    assert_problem(client.delete(f"{API}/projects/{b}/needs/{need['id']}"), 404)
    assert client.get(f"{API}/projects/{a}/needs/{need['id']}").json() == need
    assert footprint(client, b) == (1, 1)


def test_duplicate_commune_and_qpv_are_409(client) -> None:
    pid = create_project(client)["id"]
    first = post(client, f"/projects/{pid}/communes", {"insee_code": "2A004", "name": "Ajaccio"})
    other = post(client, f"/projects/{pid}/communes", {"insee_code": "59512", "name": "Roubaix"})
    post(client, f"/projects/{pid}/qpvs", {"code": "QP059036", "name": "Alma-Gare"})
    before = footprint(client, pid)
    r = client.post(f"{API}/projects/{pid}/communes", json={"insee_code": "2a004", "name": "Ajaccio bis"})
    problem = assert_problem(r, 409, "conflit")
    assert "2A004" in problem["detail"]
    assert_problem(client.post(f"{API}/projects/{pid}/qpvs", json={"code": "qp059036", "name": "Bis"}), 409)
    # Changing a commune to the code of another one is a duplicate too; keeping its own code is not.
    assert_problem(client.patch(f"{API}/projects/{pid}/communes/{other['id']}", json={"insee_code": "2A004"}), 409)
    assert footprint(client, pid) == before
    r = client.patch(f"{API}/projects/{pid}/communes/{first['id']}", json={"insee_code": "2a004"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Ajaccio" and footprint(client, pid) == before  # nothing changed
    # Another project may record the same commune.
    other_project = create_project(client, name="Autre")["id"]
    post(client, f"/projects/{other_project}/communes", {"insee_code": "2A004", "name": "Ajaccio"})


def test_approval_from_a_stakeholder_of_another_project_is_409(client) -> None:
    a = create_project(client, name="A")["id"]
    b = create_project(client, name="B")["id"]
    theirs = post(client, f"/projects/{b}/stakeholders", {"name": "Bailleur de B", "category": "bailleur_social"})
    before = footprint(client, a)
    r = client.post(
        f"{API}/projects/{a}/approvals", json={"stakeholder_id": theirs["id"], "verdict": "favorable", "given_on": D}
    )
    assert_problem(r, 409, "conflit")
    r = client.post(
        f"{API}/projects/{a}/approvals", json={"stakeholder_id": 999999, "verdict": "favorable", "given_on": D}
    )
    assert_problem(r, 409, "conflit")
    assert footprint(client, a) == before
    assert client.get(f"{API}/projects/{a}/approvals").json() == []


def test_a_stakeholder_who_gave_an_approval_cannot_be_deleted(client) -> None:
    pid = create_project(client)["id"]
    sh = post(client, f"/projects/{pid}/stakeholders", {"name": "Amina", "category": "habitant"})
    approval = post(
        client, f"/projects/{pid}/approvals", {"stakeholder_id": sh["id"], "verdict": "favorable", "given_on": D}
    )
    before = footprint(client, pid)
    assert_problem(client.delete(f"{API}/projects/{pid}/stakeholders/{sh['id']}"), 409, "conflit")
    assert footprint(client, pid) == before
    assert client.get(f"{API}/projects/{pid}/stakeholders/{sh['id']}").json() == sh
    # Once the approval is withdrawn, the stakeholder can go.
    assert client.delete(f"{API}/projects/{pid}/approvals/{approval['id']}").status_code == 204
    assert client.delete(f"{API}/projects/{pid}/stakeholders/{sh['id']}").status_code == 204
    assert footprint(client, pid) == (before[0] + 2, before[1] + 2)


def test_only_a_mouvement_stakeholder_can_be_amo_pilot(client) -> None:
    pid = create_project(client)["id"]
    for category in ("habitant", "collectivite", "bailleur_social", "partenaire_socio_economique"):
        r = client.post(
            f"{API}/projects/{pid}/stakeholders", json={"name": "X", "category": category, "is_amo_pilot": True}
        )
        problem = assert_problem(r, 422, "donnee_invalide")
        assert problem["errors"][0]["field"] == "is_amo_pilot"
    pilot = post(
        client, f"/projects/{pid}/stakeholders", {"name": "Claire", "category": "mouvement", "is_amo_pilot": True}
    )
    habitant = post(client, f"/projects/{pid}/stakeholders", {"name": "Amina", "category": "habitant"})
    before = footprint(client, pid)
    # Neither by changing the pilot's category, nor by making a habitant pilot.
    assert_problem(
        client.patch(f"{API}/projects/{pid}/stakeholders/{pilot['id']}", json={"category": "habitant"}),
        422,
        "donnee_invalide",
    )
    assert_problem(
        client.patch(f"{API}/projects/{pid}/stakeholders/{habitant['id']}", json={"is_amo_pilot": True}),
        422,
        "donnee_invalide",
    )
    assert footprint(client, pid) == before
    r = client.patch(
        f"{API}/projects/{pid}/stakeholders/{pilot['id']}", json={"is_amo_pilot": False, "category": "habitant"}
    )
    assert r.status_code == 200 and r.json()["category"] == "habitant"


def test_evidence_writes_on_closed_projects_are_409(client) -> None:
    """An abandoned project here; a labelled one in test_api_transitions (end of the full walk)."""
    pid = create_project(client, name="Abandonné")["id"]
    need = post(client, f"/projects/{pid}/needs", {"label": "Besoin"})
    sh = post(client, f"/projects/{pid}/stakeholders", {"name": "Amina", "category": "habitant"})
    fire(client, pid, "abandonner", reason="Pas de local")
    before = footprint(client, pid)
    for method, path, body in [
        ("POST", "/needs", {"label": "Nouveau besoin"}),
        ("PATCH", f"/needs/{need['id']}", {"status": "ecarte"}),
        ("DELETE", f"/needs/{need['id']}", None),
        ("POST", "/stakeholders", {"name": "Nouveau", "category": "habitant"}),
        ("PATCH", f"/stakeholders/{sh['id']}", {"name": "Autre"}),
        ("DELETE", f"/stakeholders/{sh['id']}", None),
        ("POST", "/approvals", {"stakeholder_id": sh["id"], "verdict": "favorable", "given_on": D}),
        ("PUT", "/association", BODIES["association"][0]),
        ("DELETE", "/feasibility", None),
        ("POST", "/expertises", {"conducted_on": D, "experts": ["Claire"]}),
    ]:
        assert_problem(client.request(method, f"{API}/projects/{pid}{path}", json=body), 409, "projet_clos")
    assert footprint(client, pid) == before
    assert client.get(f"{API}/projects/{pid}/needs").json() == [need]
    assert client.get(f"{API}/projects/{pid}/stakeholders").json() == [sh]
