"""Requests against /api/v1 shared by the suites: create a project, record what a step needs, fire,
move a project forward, read its events, check an RFC 9457 problem; and API keys made directly."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

API = "/api/v1"


def create_project(client: TestClient, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Régie des Trois Quartiers",
        "kind": "regie_de_quartier",
        "region": "Hauts-de-France",
        "initiator": "habitants",
        "departement": "59",
    } | overrides
    if "region" in overrides and "departement" not in overrides:
        del body["departement"]  # 59 is in Hauts-de-France: a département must lie in the project's région
    r = client.post(f"{API}/projects", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def post(client: TestClient, path: str, body: dict[str, Any] | None = None, expect: int = 201) -> dict[str, Any]:
    r = client.post(f"{API}{path}", json=body)
    assert r.status_code == expect, r.text
    return r.json() if r.content else {}


def put(client: TestClient, path: str, body: dict[str, Any], expect: tuple[int, ...] = (200, 201)) -> dict[str, Any]:
    r = client.put(f"{API}{path}", json=body)
    assert r.status_code in expect, r.text
    return r.json()


def fire(client: TestClient, pid: str, trigger: str, expect: int = 200, **body: Any) -> dict[str, Any]:
    r = client.post(f"{API}/projects/{pid}/transitions/{trigger}", json=body or None)
    assert r.status_code == expect, r.text
    return r.json()


def satisfy(client: TestClient, pid: str, step: str, day: date) -> None:
    """Record everything the forward trigger out of `step` needs (dates on or before `day`)."""
    p = f"/projects/{pid}"
    d = day.isoformat()
    if step == "groupe_projet":
        post(
            client,
            f"{p}/stakeholders",
            {
                "name": "Claire Martin",
                "category": "mouvement",
                "is_amo_pilot": True,
                "organisation": "Mouvement des Régies",
            },
        )
        post(client, f"{p}/stakeholders", {"name": "Amina Benali", "category": "habitant"})
        post(client, f"{p}/stakeholders", {"name": "Ville de Roubaix", "category": "collectivite"})
        post(client, f"{p}/stakeholders", {"name": "Vilogia", "category": "bailleur_social"})
        post(client, f"{p}/stakeholders", {"name": "France Travail", "category": "partenaire_socio_economique"})
    elif step == "contours":
        post(client, f"{p}/communes", {"insee_code": "59512", "name": "Roubaix"})
        post(client, f"{p}/qpvs", {"code": "QP059036", "name": "Alma-Gare"})
        post(client, f"{p}/needs", {"label": "Entretien des parties communes"})
        post(client, f"{p}/activities", {"label": "Nettoyage et petite maintenance"})
    elif step == "faisabilite":
        r = client.get(f"{API}{p}/needs")
        for need in r.json():
            client.patch(f"{API}{p}/needs/{need['id']}", json={"status": "confirme"})
        put(
            client,
            f"{p}/feasibility",
            {
                "annual_charges": 420000,
                "market_income": 250000,
                "non_market_income": 180000,
                "premises_address": "12 rue de l'Alma, Roubaix",
                "conclusion": "favorable",
                "conclusion_on": d,
            },
        )
        post(
            client,
            f"{p}/markets",
            {"label": "Entretien des halls", "buyer_name": "Vilogia", "buyer_category": "bailleur_social"},
        )
        post(client, f"{p}/site-visits", {"regie_name": "Régie de quartier de Tourcoing", "visited_on": d})
    elif step == "validation":
        for sh in client.get(f"{API}{p}/stakeholders").json():
            if sh["category"] != "mouvement":
                post(client, f"{p}/approvals", {"stakeholder_id": sh["id"], "verdict": "favorable", "given_on": d})
    elif step == "prefiguration":
        put(
            client,
            f"{p}/association",
            {"name": "Association de préfiguration de la Régie de Roubaix", "declared_on": d, "rna": "W595012345"},
        )
        for name, college in (
            ("Amina Benali", "habitant"),
            ("Élu de quartier", "collectivite"),
            ("Vilogia", "bailleur_social"),
        ):
            post(client, f"{p}/board-members", {"name": name, "college": college})
        post(client, f"{p}/hires", {"name": "Karim Haddad", "role": "Chargé de préfiguration", "start_on": d})
    elif step == "expertise":
        expertise = post(
            client,
            f"{p}/expertises",
            {"conducted_on": d, "experts": ["Claire Martin", "Jean Dupuis"], "conclusion": "favorable"},
        )
        for condition in CONDITIONS:  # the expertise rates the five success conditions (grille_expertise_complete)
            post(
                client,
                f"{p}/expertise-assessments",
                {"expertise_id": expertise["id"], "condition": condition, "level": "atteint"},
            )


CONDITIONS = (
    "ancrage_territorial",
    "services_nouveaux",
    "perennite_economique",
    "cooperation_autonomie",
    "implication_habitants",
)
FORWARD = [
    ("groupe_projet", "definir_contours"),
    ("contours", "lancer_faisabilite"),
    ("faisabilite", "soumettre_validation"),
    ("validation", "lancer_prefiguration"),
    ("prefiguration", "demander_expertise"),
    ("expertise", "labelliser"),
]


PROBLEM_KEYS = ("type", "title", "status", "detail", "code")
STEP_ORDER = [step for step, _ in FORWARD]


def assert_problem(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """`r` is an RFC 9457 problem with `status` (and `code`, if given); returns its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].split(";")[0].strip() == "application/problem+json", r.headers
    body = r.json()
    missing = [k for k in PROBLEM_KEYS if k not in body]
    assert not missing, f"problem body lacks {missing}: {body}"
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["type"] == f"urn:regieflow:problem:{body['code']}"
    if code is not None:
        assert body["code"] == code, body
    return body


def get_project(client: TestClient, pid: str) -> dict[str, Any]:
    r = client.get(f"{API}/projects/{pid}")
    assert r.status_code == 200, r.text
    return r.json()


def events_of(client: TestClient, pid: str) -> list[dict[str, Any]]:
    r = client.get(f"{API}/projects/{pid}/events", params={"page_size": 200})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["items"])
    return body["items"]


def footprint(client: TestClient, pid: str) -> tuple[int, int]:
    """(version, number of events): both unchanged after a refused request."""
    return get_project(client, pid)["version"], len(events_of(client, pid))


def advance(client: TestClient, pid: str, until: str, *, start: date, gap_days: int = 10) -> dict[str, Any]:
    """Move a project started on `start` forward to state `until` (a step or "labellisee").

    Each forward transition takes effect `gap_days` after the previous one (never moving the clock);
    the evidence it needs is dated on that day. Returns the project as the last answer gives it.
    (To move the clock instead: `clock.advance(hours=…)`, tests/support/clock.py.)
    """
    project = get_project(client, pid)
    day = date.fromisoformat(project["last_transition_on"])
    for step, trigger in FORWARD[STEP_ORDER.index(project["state"]) :]:
        if step == until:
            break
        day = max(day, start) + timedelta(days=gap_days)
        satisfy(client, pid, step, day)
        project = fire(client, pid, trigger, effective_on=day.isoformat())
    assert project["state"] == until, project
    return project


def project_at(client: TestClient, until: str, *, start: date, gap_days: int = 10, **fields: Any) -> dict[str, Any]:
    """A new project started on `start`, moved forward to `until` (see `advance`)."""
    project = create_project(client, started_on=start.isoformat(), **fields)
    if until == "groupe_projet":
        return project
    return advance(client, project["id"], until, start=start, gap_days=gap_days)


def actor_of(client: TestClient) -> str:
    """The event actor recorded for this client's API key: "key:<visible prefix>"."""
    key = client.headers["Authorization"].split()[1]
    return "key:" + "_".join(key.split("_")[:2])


def make_key(
    app: Any,
    *,
    scopes: tuple[str, ...] | list[str] = ("read", "write"),
    consultant: bool = True,
    regions: list[str] | None = None,
    project_ids: list[Any] | None = None,
    name: str = "Test key",
    expires_at: Any = None,
) -> tuple[str, Any]:
    """Create an API key directly through the accounts service; returns (key string, row)."""
    from app.accounts import service as accounts
    from app.core.unit_of_work import UnitOfWork

    with UnitOfWork(app.state.session_factory) as uow:
        new = accounts.create_api_key(
            uow,
            name=name,
            scopes=list(scopes),
            consultant=consultant,
            regions=regions,
            project_ids=project_ids,
            expires_at=expires_at,
            created_by="tests",
            now=app.state.clock.now(),
        )
        return new.key, new.row


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
