"""Two writers at once on one project: exactly one transition happens, and the log stays whole.

Runs on SQLite (BEGIN IMMEDIATE serialises writers) and on PostgreSQL (SELECT … FOR UPDATE). The races
need one connection per writer, so these tests commit for real (`committed_db`)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.clock import Actor
from app.core.errors import ConcurrentUpdate, Refusal
from app.core.unit_of_work import UnitOfWork
from app.transitions.schemas import TransitionBody
from app.transitions.service import fire_transition
from tests.support.api import API, assert_problem, create_project, events_of, footprint, satisfy
from tests.support.clock import TODAY

ROUNDS = 10


@pytest.fixture
def clients(app, client) -> Any:
    """Two more clients with the same credentials as `client` (one HTTP connection each)."""
    auth = {"Authorization": client.headers["Authorization"]}
    with (
        TestClient(app, raise_server_exceptions=False, headers=auth) as a,
        TestClient(app, raise_server_exceptions=False, headers=auth) as b,
    ):
        yield a, b


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in as many threads, released together by a barrier; return their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait(timeout=10)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(run, c) for c in calls]
        return [f.result(timeout=60) for f in futures]


def _ready(client: TestClient, i: int) -> str:
    pid = create_project(client, name=f"Régie {i}")["id"]
    satisfy(client, pid, "groupe_projet", TODAY)
    return pid


def _check_one_transition(
    client: TestClient, pid: str, before: int, trigger: str = "definir_contours", state: str = "contours"
) -> dict:
    """Version `before` + 1, one event per version, and a single transition event in the log."""
    version = before + 1
    events = events_of(client, pid)
    assert [e["seq"] for e in events] == list(range(1, version + 1))
    assert [e["trigger"] for e in events if e["type"] == "project.transitioned"] == [trigger]
    project = client.get(f"{API}/projects/{pid}").json()
    assert project["state"] == state and project["version"] == version
    return project


@pytest.mark.usefixtures("committed_db")
def test_same_transition_at_once_over_http(client, clients) -> None:
    a, b = clients
    for i in range(ROUNDS):
        pid = _ready(client, i)
        before = 6  # created, then five stakeholders
        url = f"{API}/projects/{pid}/transitions/definir_contours"
        responses = _race([lambda c=c, url=url: c.post(url) for c in (a, b)])
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 409], [r.text for r in responses]
        loser = next(r for r in responses if r.status_code == 409)
        assert assert_problem(loser, 409)["code"] in {"transition_impossible", "modification_concurrente"}
        winner = next(r for r in responses if r.status_code == 200)
        assert winner.json()["version"] == before + 1 and winner.headers["etag"] == f'"{before + 1}"'
        _check_one_transition(client, pid, before)


@pytest.mark.usefixtures("committed_db")
def test_same_transition_at_once_with_if_match(client, clients) -> None:
    a, b = clients
    for i in range(ROUNDS):
        pid = create_project(client, name=f"Régie {i}")["id"]
        before = 1
        tag = client.get(f"{API}/projects/{pid}").headers["etag"]
        url = f"{API}/projects/{pid}/transitions/suspendre"
        responses = _race(
            [
                lambda c=c, url=url, tag=tag: c.post(url, json={"reason": f"pause {c is a}"}, headers={"If-Match": tag})
                for c in (a, b)
            ]
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses in ([200, 409], [200, 412]), [r.text for r in responses]
        loser = next(r for r in responses if r.status_code != 200)
        assert assert_problem(loser, loser.status_code)["code"] in {"version_perimee", "modification_concurrente"}
        project = _check_one_transition(client, pid, before, "suspendre", "groupe_projet")
        assert project["suspended"] is True
        winner = next(r for r in responses if r.status_code == 200)
        assert events_of(client, pid)[-1]["reason"] == f"pause {responses.index(winner) == 0}"


@pytest.mark.usefixtures("committed_db")
def test_same_transition_at_once_through_the_services(app, client) -> None:
    """The same race below HTTP: two units of work on the application's session factory."""
    factory = app.state.session_factory
    clock = app.state.clock

    def attempt(pid: uuid.UUID, actor: str) -> str:
        try:
            with UnitOfWork(factory) as uow:
                fire_transition(
                    uow,
                    pid,
                    "abandonner",
                    TransitionBody(reason=f"par {actor}"),
                    expected_version=None,
                    actor=Actor("user", actor, actor),
                    clock=clock,
                )
            return "ok"
        except Refusal as exc:
            return exc.code

    for i in range(ROUNDS):
        pid = create_project(client, name=f"Régie {i}")["id"]
        before = 1
        outcomes = _race([lambda pid=pid, who=who: attempt(uuid.UUID(pid), who) for who in ("alice", "bruno")])
        assert sorted(outcomes) in (["ok", "projet_clos"], ["modification_concurrente", "ok"]), outcomes
        project = _check_one_transition(client, pid, before, "abandonner", "abandonnee")
        winner = "alice" if outcomes[0] == "ok" else "bruno"
        assert project["closed_reason"] == f"par {winner}"
        assert events_of(client, pid)[-1]["actor"] == f"user:{winner}"


@pytest.mark.usefixtures("committed_db")
def test_concurrent_evidence_writes_all_land_in_order(client, app) -> None:
    """Without If-Match, writers queue: every write lands, each with its own version and event."""
    pid = create_project(client)["id"]
    writers = 6
    with TestClient(app, headers={"Authorization": client.headers["Authorization"]}) as extra:
        responses = _race(
            [
                lambda i=i: extra.post(f"{API}/projects/{pid}/needs", json={"label": f"Besoin {i}"})
                for i in range(writers)
            ]
        )
    assert [r.status_code for r in responses] == [201] * writers, [r.text for r in responses]
    assert sorted(int(r.headers["etag"].strip('"')) for r in responses) == list(range(2, writers + 2))
    assert footprint(client, pid) == (writers + 1, writers + 1)
    assert [e["seq"] for e in events_of(client, pid)] == list(range(1, writers + 2))
    assert len(client.get(f"{API}/projects/{pid}/needs").json()) == writers


def test_concurrent_update_error_is_a_409_problem() -> None:
    from app.http.problems import domain_problem

    r = domain_problem(ConcurrentUpdate("Le projet a été modifié par une autre requête."))
    assert r.status_code == 409 and r.media_type == "application/problem+json"
