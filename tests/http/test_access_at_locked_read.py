"""The access rule applied at a route's locked read (app.http.dependencies.RULE_AT_LOCKED_READ).

A transition does not read the project's region in the access check: the check authenticates the
caller and leaves a ProjectAccess that the transition applies to the region its locked read returns,
before anything else. These tests hold that path to the rule's answers: a project the caller may not
read answers 404 exactly like a missing one, a refused ability 403, both before the If-Match
precondition, and nothing is written (project, event, feed position, outbox message). And the key's
last use, read in a reading unit of work, is still recorded (refused requests included)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.accounts.models import ApiKey
from app.authorization.rules import REFUSALS, RULES, Ability, ProjectAccess, key_principal
from app.core.errors import NotFound
from app.feed.models import FeedCounter
from app.http.dependencies import RULE_AT_LOCKED_READ, _project_access
from app.projects.models import Event, OutboxMessage
from tests.support.api import API, assert_problem, create_project, footprint, make_key, project_at, served_routes

START = date(2026, 1, 5)
OTHER_REGION = "Bretagne"


def _depends_on(dependant: Any, call: Any) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in dependant.dependencies)


def test_every_route_left_the_rule_applies_it(app) -> None:
    """A route of RULE_AT_LOCKED_READ has a rule in RULES and receives the ProjectAccess (a route that
    did not would skip the rule on its project)."""
    routes = {route.name: route for _, route in served_routes(app) if hasattr(route, "dependant")}
    assert RULE_AT_LOCKED_READ and set(RULES) >= RULE_AT_LOCKED_READ
    for name in RULE_AT_LOCKED_READ:
        assert _depends_on(routes[name].dependant, _project_access), name


@pytest.fixture
def pid(client: TestClient) -> str:
    """A project in Hauts-de-France at `validation`: `reprendre_faisabilite` (with a reason) is allowed."""
    return str(project_at(client, "validation", start=START)["id"])


def _written(app: Any) -> tuple[int, int, int]:
    """(events, outbox messages, feed counter): all three unchanged after a refused transition."""
    with app.state.session_factory() as session:
        return (
            session.scalar(select(func.count()).select_from(Event)) or 0,
            session.scalar(select(func.count()).select_from(OutboxMessage)) or 0,
            session.scalar(select(FeedCounter.value)) or 0,
        )


@pytest.fixture
def keyed(app: Any) -> Iterator[Any]:
    clients: list[TestClient] = []

    def make(**kwargs: Any) -> TestClient:
        key, _ = make_key(app, **kwargs)
        c = TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"})
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def _fire(c: TestClient, pid: str, trigger: str = "reprendre_faisabilite", **headers: str) -> Any:
    return c.post(f"{API}/projects/{pid}/transitions/{trigger}", json={"reason": "Motif du test."}, headers=headers)


def test_a_project_the_caller_may_not_read_answers_404_like_a_missing_one(app, client, keyed, pid) -> None:
    missing = str(uuid.uuid4())
    another = uuid.UUID(create_project(client, region=OTHER_REGION)["id"])
    before, rows = footprint(client, pid), _written(app)
    answers = {
        "missing": _fire(client, missing),
        "other region": _fire(keyed(regions=[OTHER_REGION]), pid),
        "other project": _fire(keyed(project_ids=[another]), pid),
        "stale If-Match too": _fire(keyed(regions=[OTHER_REGION]), pid, **{"If-Match": '"1"'}),
        "consultant trigger": _fire(keyed(regions=[OTHER_REGION], consultant=False), pid, "labelliser"),
    }
    bodies = {}
    for why, r in answers.items():
        body = assert_problem(r, 404)
        assert body["detail"] == "Projet introuvable.", why
        assert "etag" not in r.headers, why
        bodies[why] = {k: v for k, v in body.items() if k != "instance"}
    assert all(b == bodies["missing"] for b in bodies.values()), bodies
    assert footprint(client, pid) == before and _written(app) == rows


def test_a_refused_ability_answers_403_and_writes_nothing(app, client, keyed, pid) -> None:
    before, rows = footprint(client, pid), _written(app)
    r = _fire(keyed(scopes=("read",), consultant=False), pid, **{"If-Match": '"1"'})  # 403 before 412
    assert assert_problem(r, 403)["detail"] == REFUSALS[Ability.WRITE]
    r = keyed(regions=["Hauts-de-France"], consultant=False).post(f"{API}/projects/{pid}/transitions/labelliser")
    assert assert_problem(r, 403)["detail"] == REFUSALS[Ability.CONSULTANT]
    assert footprint(client, pid) == before and _written(app) == rows


def test_a_caller_of_the_projects_region_fires(app, client, keyed, pid) -> None:
    version, events = footprint(client, pid)
    c = keyed(regions=["Hauts-de-France"], consultant=False)
    r = _fire(c, pid, **{"If-Match": f'"{version}"'})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "faisabilite" and r.headers["etag"] == f'"{version + 1}"'
    assert footprint(client, pid) == (version + 1, events + 1)
    other = create_project(client, region=OTHER_REGION)["id"]
    assert _fire(c, other).status_code == 404  # the same key, a project out of its region


def test_project_access_refuses_another_project_or_none() -> None:
    principal = key_principal(ApiKey(id=1, prefix="rf_x", name="k", scopes=["read", "write"], consultant=True))
    pid = uuid.uuid4()
    ProjectAccess(principal, pid, Ability.WRITE).check(pid, "Bretagne")  # allowed: no exception
    for access, project, region in (
        (ProjectAccess(principal, pid, Ability.WRITE), uuid.uuid4(), "Bretagne"),  # not the path's project
        (ProjectAccess(principal, None, Ability.READ), pid, "Bretagne"),  # nothing left by the check
        (ProjectAccess(principal, pid, Ability.WRITE), pid, None),  # no such project
    ):
        with pytest.raises(NotFound):
            access.check(project, region)


def test_the_keys_last_use_is_recorded_by_a_refused_transition_too(app, clock, pid) -> None:
    key, row = make_key(app, regions=[OTHER_REGION])
    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"}) as c:
        assert _fire(c, pid).status_code == 404
        with app.state.session_factory() as session:
            used = session.get(ApiKey, row.id).last_used_at
        assert used == app.state.clock.now()
        clock.set(date(2026, 11, 27))
        assert _fire(c, pid).status_code == 404
    with app.state.session_factory() as session:
        assert session.get(ApiKey, row.id).last_used_at == app.state.clock.now() > used
