"""The change feed: GET /events?after=<cursor>, across the projects the caller may read, in commit order;
a poller paging through while others write sees every event exactly once, in feed_seq order."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.projects.models import Event
from tests.support.api import API, assert_problem, create_project, make_key


def page(client: TestClient, after: str | None = None, limit: int = 50, **headers: str) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if after is not None:
        params["after"] = after
    r = client.get(f"{API}/events", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_feed_pages_with_a_cursor_across_projects(app, client) -> None:
    first = create_project(client, name="Régie lilloise")
    second = create_project(client, name="Régie rennaise", region="Bretagne")
    client.post(f"{API}/projects/{first['id']}/needs", json={"label": "Entretien des halls"})
    client.post(f"{API}/projects/{second['id']}/transitions/suspendre", json={"reason": "Élections"})

    one = page(client, limit=3)
    assert [(e["project_id"], e["type"]) for e in one["items"]] == [
        (first["id"], "project.created"),
        (second["id"], "project.created"),
        (first["id"], "evidence.created"),
    ]
    assert one["has_more"] is True and one["next_cursor"] == f"fs_{one['items'][-1]['feed_seq']}"
    two = page(client, one["next_cursor"], limit=3)
    assert [e["type"] for e in two["items"]] == ["project.transitioned"] and two["has_more"] is False
    assert two["items"][0]["data"] == {"suspended": True} and two["items"][0]["reason"] == "Élections"
    three = page(client, two["next_cursor"])
    assert three == {"items": [], "next_cursor": two["next_cursor"], "has_more": False}  # poll again later

    # a key restricted to one region reads that region's events only
    breton, _ = make_key(app, name="Bretagne", scopes=("read",), consultant=False, regions=["Bretagne"])
    mine = page(client, Authorization=f"Bearer {breton}")
    assert {e["project_id"] for e in mine["items"]} == {second["id"]} and len(mine["items"]) == 2

    assert_problem(client.get(f"{API}/events", params={"after": "n'importe quoi"}), 422)
    assert_problem(client.get(f"{API}/events", params={"limit": 10_000}), 422)
    assert page(client, "2")["items"][0]["feed_seq"] == 3  # a bare position is accepted too
    assert_problem(TestClient(app, raise_server_exceptions=False).get(f"{API}/events"), 401)


@pytest.mark.usefixtures("committed_db")  # six writers and a poller, each on its own connection
def test_a_poller_sees_every_event_once_in_order_while_others_write(app, client) -> None:
    projects = [create_project(client, name=f"Régie {i}")["id"] for i in range(3)]
    writes_per_thread = 8
    done = threading.Event()
    errors: list[str] = []

    def writer(pid: str) -> None:
        with TestClient(app, raise_server_exceptions=False, headers=dict(client.headers)) as c:
            for i in range(writes_per_thread):
                r = c.post(f"{API}/projects/{pid}/needs", json={"label": f"Besoin {i}"})
                if r.status_code not in (201, 409):  # 409: a concurrent change of the same project, retried
                    errors.append(r.text)
                while r.status_code == 409:
                    r = c.post(f"{API}/projects/{pid}/needs", json={"label": f"Besoin {i}"})

    def writers_then_done(threads: list[threading.Thread]) -> None:
        for t in threads:
            t.join(60)
        done.set()

    threads = [threading.Thread(target=writer, args=(pid,)) for pid in projects for _ in range(2)]
    for t in threads:
        t.start()
    threading.Thread(target=writers_then_done, args=(threads,)).start()

    seen: list[dict[str, Any]] = []
    cursor = None
    with TestClient(app, raise_server_exceptions=False, headers=dict(client.headers)) as poller:
        while True:
            finished = done.is_set()  # read before the page: a page read after every write has ended
            body = page(poller, cursor, limit=7)
            seen += body["items"]
            cursor = body["next_cursor"]
            if finished and not body["has_more"] and not body["items"]:
                break
    assert not errors, errors[:3]

    with app.state.session_factory() as session:
        everything = list(session.execute(select(Event.id, Event.feed_seq).order_by(Event.feed_seq)))
    assert len(everything) == 3 + len(threads) * writes_per_thread
    assert [e["id"] for e in seen] == [row.id for row in everything]  # each once, none missed
    positions = [e["feed_seq"] for e in seen]
    assert positions == sorted(positions) and positions == list(range(1, len(positions) + 1))


def _statements(app, client: TestClient, path: str, headers: dict[str, str]) -> list[str]:
    """The SQL statements one GET sends (after a first, warming, identical GET)."""
    from sqlalchemy import event as sa_event

    client.get(path, headers=headers)
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    sa_event.listen(app.state.engine, "before_cursor_execute", count)
    try:
        r = client.get(path, headers=headers)
    finally:
        sa_event.remove(app.state.engine, "before_cursor_execute", count)
    assert r.status_code == 200, r.text
    return seen


def test_a_feed_page_costs_the_same_statements_whatever_the_portfolio_and_the_page(app, client) -> None:
    """Issue 17: the feed reads one page in a constant number of statements (the key, the page's events with
    the reader's reach in one query), with 6 or 60 projects, 5 or 50 items, for a national reader or a
    regional one."""
    breton, _ = make_key(app, name="Bretagne", scopes=("read",), consultant=False, regions=["Bretagne"])
    regional = {"Authorization": f"Bearer {breton}"}
    for i in range(6):
        create_project(client, name=f"Régie n°{i}", region=("Bretagne", "Hauts-de-France")[i % 2])
    small = {
        who: len(_statements(app, client, f"{API}/events?limit=5", h)) for who, h in (("all", {}), ("bzh", regional))
    }
    for i in range(54):
        create_project(client, name=f"Régie supplémentaire n°{i}", region=("Bretagne", "Hauts-de-France")[i % 2])
    assert len(page(client, limit=50)["items"]) == 50
    assert len(page(client, limit=50, **regional)["items"]) == 30  # the Breton half of the 60
    for limit in (5, 50):
        assert len(_statements(app, client, f"{API}/events?limit={limit}", {})) == small["all"], limit
        assert len(_statements(app, client, f"{API}/events?limit={limit}", regional)) == small["bzh"], limit
