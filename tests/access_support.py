"""Helpers for the access-control tests: people, logins and realistic evidence bodies."""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from app.accounts.models import RoleGrant, User
from app.core import security

API = "/api/v1"
PASSWORD = "un mot de passe solide 42"
REGION_A = "Hauts-de-France"
REGION_B = "Bretagne"
PAST = "2026-11-01"  # on or before the tests' today (2026-11-26)
PLAN = {"groupe_projet": 3, "contours": 4, "faisabilite": 8, "validation": 3, "prefiguration": 12, "expertise": 6}


REAL_HASHER = security._hasher  # what the application uses; test_access_people checks its parameters
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # still argon2id


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with tiny parameters: each login would otherwise cost ~0.2 s of CPU.

    Imported by the access tests (an imported fixture applies to the importing module)."""
    monkeypatch.setattr(security, "_hasher", FAST_HASHER)
    monkeypatch.setattr(security, "_dummy_hash", lambda: _fast_dummy_hash())


@cache
def _fast_dummy_hash() -> str:
    return FAST_HASHER.hash("regieflow: a password nobody has")


@cache
def password_hash() -> str:
    """One argon2id hash of PASSWORD for the whole run."""
    return FAST_HASHER.hash(PASSWORD)


def add_user(
    app: Any, email: str, grants: list[tuple[str, uuid.UUID | None, str | None]] = (), *, name: str | None = None
) -> tuple[int, list[int]]:
    """Insert a user whose password is PASSWORD, with role grants; returns (user id, grant ids)."""
    with app.state.session_factory() as session:
        user = User(
            email=email,
            name=name or email.split("@")[0],
            password_hash=password_hash(),
            created_at=app.state.clock.now(),
            active=True,
            grants=[RoleGrant(role=r, project_id=p, region=g) for r, p, g in grants],
        )
        session.add(user)
        session.commit()
        return user.id, [g.id for g in user.grants]


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """Log in through the API; the client keeps the cookie and sends X-CSRF-Token from now on."""
    r = client.post(f"{API}/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    body = r.json()
    client.headers["X-CSRF-Token"] = body["csrf_token"]
    return body


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
    "communes": {"name": "Roubaix (centre)"},
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


def served_routes(app: Any) -> list[tuple[str, Any]]:
    """(full path, route) for everything the application serves, through included routers.

    Recent FastAPI keeps an included router as one entry of app.routes (with `original_router`);
    older versions copy its routes, prefixed, into app.routes. Both are walked."""
    out: list[tuple[str, Any]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for r in routes:
            inner = getattr(r, "original_router", None)
            if inner is not None:
                walk(inner.routes, prefix + r.include_context.prefix)
            else:
                out.append((prefix + getattr(r, "path", ""), r))

    walk(list(app.routes), "")
    return out


def is_problem(response: Any) -> bool:
    return response.headers.get("content-type", "").startswith("application/problem+json")
