"""Realistic bodies for every kind of evidence, and a project holding one item of each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.support.accounts import REGION_A

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

API = "/api/v1"
PAST = "2026-11-01"  # on or before the tests' today (2026-11-26)
PLAN = {"groupe_projet": 3, "contours": 4, "faisabilite": 8, "validation": 3, "prefiguration": 12, "expertise": 6}


def project_body(region: str = REGION_A, **overrides: Any) -> dict[str, Any]:
    return {
        "name": f"Régie de {region}",
        "kind": "regie_de_quartier",
        "region": region,
        "initiator": "habitants",
    } | overrides


# Bodies to add one item of each kind (`seed` for the fixtures, `extra` for a second, distinct item),
# to change one, and to record a singleton. Approvals take the project's stakeholder id at run time.
CREATE_BODIES: dict[str, dict[str, Any]] = {
    "stakeholders": {"name": "Amina Benali", "category": "habitant"},
    "communes": {"insee_code": "59512", "name": "Roubaix"},
    "qpvs": {"code": "QP059036", "name": "Alma-Gare"},
    "needs": {"label": "Entretien des parties communes"},
    "activities": {"label": "Nettoyage et petite maintenance"},
    "markets": {"label": "Entretien des halls", "buyer_name": "Vilogia", "buyer_category": "bailleur_social"},
    "site-visits": {"regie_name": "Régie de quartier de Tourcoing", "visited_on": PAST},
    "approvals": {"verdict": "favorable", "given_on": PAST},
    "board-members": {"name": "Élu de quartier", "college": "collectivite"},
    "hires": {"name": "Karim Haddad", "role": "Chargé de préfiguration", "start_on": PAST},
    # with reservations: the seeded project's reservations need an expertise that concludes so
    "expertises": {"conducted_on": PAST, "experts": ["Claire Martin"], "conclusion": "reserves"},
    "feasibility": {"annual_charges": 420000, "premises_address": "12 rue de l'Alma, Roubaix"},
    "association": {"name": "Association de préfiguration", "declared_on": PAST, "rna": "W595012345"},
    # the grid (app/assessments); `expertise_id` is the project's expertise, set at run time
    "self-assessments": {"condition": "implication_habitants", "level": "en_cours", "comment": "Deux habitantes"},
    "expertise-assessments": {"condition": "ancrage_territorial", "level": "atteint"},
    "reservations": {
        "condition": "implication_habitants",
        "description": "Renforcer le collège des habitants",
        "recorded_on": "2026-10-15",  # before PAST, when the change below lifts it
    },
}
EXTRA_OVERRIDES: dict[str, dict[str, Any]] = {  # distinct values where a field is unique in a project
    "communes": {"insee_code": "59350", "name": "Lille"},
    "qpvs": {"code": "QP059037", "name": "Épeule"},
}
PATCH_BODIES: dict[str, dict[str, Any]] = {
    "stakeholders": {"organisation": "Amicale des locataires"},
    "communes": {"insee_code": "59599"},  # Tourcoing: another commune, its official name comes with it
    "qpvs": {"name": "Alma-Gare Fontenoy"},
    "needs": {"status": "confirme"},
    "activities": {"description": "Halls et cages d'escalier"},
    "markets": {"annual_amount": 25000},
    "site-visits": {"notes": "Visite très utile"},
    "approvals": {"comment": "Avis confirmé en réunion"},
    "board-members": {"office": "Trésorier"},
    "hires": {"role": "Directeur de préfiguration"},
    "expertises": {"report": "Rapport joint"},
    "self-assessments": {"level": "atteint"},
    "expertise-assessments": {"comment": "Très bon ancrage"},
    "reservations": {"lifted_on": PAST, "lifted_how": "Deux habitantes élues au conseil"},
}
EXTRA_OVERRIDES |= {"expertise-assessments": {"condition": "services_nouveaux"}}
NEEDS_EXPERTISE = ("expertise-assessments", "reservations")


def evidence_body(
    kind: str, *, stakeholder_id: int | None = None, extra: bool = False, expertise_id: int | None = None
) -> dict[str, Any]:
    body = dict(CREATE_BODIES[kind])
    if extra:
        body |= EXTRA_OVERRIDES.get(kind, {})
    if kind == "approvals":
        body["stakeholder_id"] = stakeholder_id
    if kind in NEEDS_EXPERTISE:
        body["expertise_id"] = expertise_id
    return body


def to_contours(client: TestClient, pid: str) -> None:
    """Record the groupe projet's pilot and triptyque, then move to step 2 (where the grid opens)."""
    for body in (
        {"name": "Claire Martin", "category": "mouvement", "is_amo_pilot": True},
        {"name": "Amina Benali", "category": "habitant"},
        {"name": "Ville de Roubaix", "category": "collectivite"},
        {"name": "Vilogia", "category": "bailleur_social"},
    ):
        r = client.post(f"{API}/projects/{pid}/stakeholders", json=body)
        assert r.status_code == 201, r.text
    r = client.post(f"{API}/projects/{pid}/transitions/definir_contours", json={})
    assert r.status_code == 200, r.text


def seed_project(client: TestClient, region: str) -> tuple[str, dict[str, int | None]]:
    """A project with one item of every kind of evidence; returns (project id, kind → item id). It moves
    to step 2 (contours) on the way, where the group's self-assessment opens.

    `client` must be allowed to record the expertise (a consultant key)."""
    from app.evidence.registry import KINDS

    r = client.post(f"{API}/projects", json=project_body(region))
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    voter = client.post(
        f"{API}/projects/{pid}/stakeholders", json={"name": "Ville de Roubaix", "category": "collectivite"}
    )
    assert voter.status_code == 201, voter.text
    items: dict[str, int | None] = {"_voter": voter.json()["id"]}
    for kind in KINDS.values():
        if kind.name == "self-assessments":  # open from step 2 on
            to_contours(client, pid)
        body = evidence_body(kind.name, stakeholder_id=items["_voter"], expertise_id=items.get("expertises"))
        if kind.singleton:
            r = client.put(f"{API}/projects/{pid}/{kind.name}", json=body)
            assert r.status_code == 201, r.text
            items[kind.name] = None
        else:
            r = client.post(f"{API}/projects/{pid}/{kind.name}", json=body)
            assert r.status_code == 201, r.text
            items[kind.name] = r.json()["id"]
    return pid, items
