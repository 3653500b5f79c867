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
    "expertises": {"conducted_on": PAST, "experts": ["Claire Martin"], "conclusion": "favorable"},
    "feasibility": {"annual_charges": 420000, "premises_address": "12 rue de l'Alma, Roubaix"},
    "association": {"name": "Association de préfiguration", "declared_on": PAST, "rna": "W595012345"},
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
}


def evidence_body(kind: str, *, stakeholder_id: int | None = None, extra: bool = False) -> dict[str, Any]:
    body = dict(CREATE_BODIES[kind])
    if extra:
        body |= EXTRA_OVERRIDES.get(kind, {})
    if kind == "approvals":
        body["stakeholder_id"] = stakeholder_id
    return body


def seed_project(client: TestClient, region: str) -> tuple[str, dict[str, int | None]]:
    """A project with one item of every kind of evidence; returns (project id, kind → item id).

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
        body = evidence_body(kind.name, stakeholder_id=items["_voter"])
        if kind.singleton:
            r = client.put(f"{API}/projects/{pid}/{kind.name}", json=body)
            assert r.status_code == 201, r.text
            items[kind.name] = None
        else:
            r = client.post(f"{API}/projects/{pid}/{kind.name}", json=body)
            assert r.status_code == 201, r.text
            items[kind.name] = r.json()["id"]
    return pid, items
