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


class _HeldAtCommit(UnitOfWork):
    """A unit of work that, having written, holds its transaction open until told to commit: the
    interleaving where a second writer waits for its lock."""

    held = threading.Event()
    release = threading.Event()

    def commit(self) -> None:
        type(self).held.set()
        assert type(self).release.wait(30)
        super().commit()


@pytest.mark.usefixtures("committed_db")
def test_a_writer_that_waited_for_the_lock_reads_what_the_first_one_committed(app, client) -> None:
    """A pauses the project and holds its commit; B asks to resume and waits for the row's lock; A
    commits. B must read the project as A left it, in full: the new row, and with it the chain's tail and
    the pause A opened (on PostgreSQL a statement that waited for a row lock re-reads that row only, its
    subqueries keep their older snapshot: store.LOCK_ROW takes the lock before the read)."""
    from app.core.unit_of_work import UnitOfWorkFactory
    from app.transitions.verify import verify

    factory = app.state.session_factory
    clock = app.state.clock
    pid = uuid.UUID(create_project(client, name="Régie des deux écrivains")["id"])
    _HeldAtCommit.held.clear()
    _HeldAtCommit.release.clear()
    outcomes: dict[str, str] = {}

    def run(name: str, uow: UnitOfWork, trigger: str) -> None:
        try:
            with uow:
                fire_transition(
                    uow,
                    pid,
                    trigger,
                    TransitionBody(reason=f"{trigger} par {name}"),
                    expected_version=None,
                    actor=Actor("user", name, name),
                    clock=clock,
                )
            outcomes[name] = "ok"
        except Refusal as exc:
            outcomes[name] = exc.code

    first = threading.Thread(target=run, args=("alice", _HeldAtCommit(factory), "suspendre"))
    first.start()
    assert _HeldAtCommit.held.wait(30)  # A has written its pause and event, not committed
    second = threading.Thread(target=run, args=("bruno", UnitOfWork(factory), "reprendre"))
    second.start()
    second.join(1.0)  # B is waiting for the lock A holds
    assert second.is_alive()
    _HeldAtCommit.release.set()
    first.join(30)
    second.join(30)
    assert outcomes == {"alice": "ok", "bruno": "ok"}

    events = events_of(client, str(pid))
    assert [e["trigger"] for e in events if e["type"] == "project.transitioned"] == ["suspendre", "reprendre"]
    project = client.get(f"{API}/projects/{pid}").json()
    assert project["suspended"] is False and project["version"] == 3
    checked, findings = verify(UnitOfWorkFactory(factory), checkpoints=False)
    assert checked == 1 and findings == []  # the hash chain, the dates and the pauses as replayed
