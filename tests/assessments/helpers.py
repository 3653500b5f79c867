"""Projects brought to the steps the grid and the new guards are about, and a porteur's client."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.support.accounts import add_user, login
from tests.support.api import API, CONDITIONS, fire, post, project_at
from tests.support.clock import TODAY

START = TODAY - timedelta(days=400)


def adjourned(client: TestClient) -> tuple[str, int, list[int]]:
    """A project back in préfiguration after ajourner_label: (project id, expertise id, reservation ids),
    the expertise concluding with two reservations."""
    p = project_at(client, "expertise", start=START)
    pid = p["id"]
    day = date.fromisoformat(p["last_transition_on"]) + timedelta(days=5)
    x = post(
        client,
        f"/projects/{pid}/expertises",
        {"conducted_on": day.isoformat(), "experts": ["Claire Martin"], "conclusion": "reserves"},
    )
    ids = [
        post(
            client,
            f"/projects/{pid}/reservations",
            {"expertise_id": x["id"], "condition": c, "description": d, "recorded_on": day.isoformat()},
        )["id"]
        for c, d in (
            ("implication_habitants", "Faire siéger les habitants au conseil"),
            ("cooperation_autonomie", "Diversifier les acheteurs"),
        )
    ]
    fire(
        client,
        pid,
        "ajourner_label",
        reason="Expertise avec réserves",
        effective_on=(day + timedelta(days=2)).isoformat(),
    )
    return pid, x["id"], ids


def rate_all(client: TestClient, pid: str, expertise_id: int, level: str = "atteint") -> None:
    for condition in CONDITIONS:
        post(
            client,
            f"/projects/{pid}/expertise-assessments",
            {"expertise_id": expertise_id, "condition": condition, "level": level},
        )


@contextmanager
def porteur(app: Any, pid: str, email: str = "porteur@example.fr") -> Iterator[TestClient]:
    """A porteur of this project, logged in through the API (session cookie and X-CSRF-Token)."""
    add_user(app, email, [("porteur", uuid.UUID(pid), None)], name="Nadia Porteur")
    with TestClient(app, raise_server_exceptions=False) as c:
        login(c, email)
        yield c


def transitions(client: TestClient, pid: str) -> dict[str, dict[str, Any]]:
    r = client.get(f"{API}/projects/{pid}/transitions")
    assert r.status_code == 200, r.text
    return {t["trigger"]: t for t in r.json()["triggers"]}
