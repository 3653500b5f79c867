"""Through HTTP only: a project from creation to label, the way a partner system would do it."""

from __future__ import annotations

from datetime import date, timedelta

from tests.support.api import API, FORWARD, create_project, fire, satisfy


def test_creation_to_label_over_http(client, clock) -> None:
    start = date(2024, 1, 15)
    clock.set(start)
    project = create_project(client, started_on=start.isoformat())
    pid = project["id"]
    assert project["state"] == "groupe_projet" and project["version"] == 1
    day = start
    for step, trigger in FORWARD:
        day += timedelta(days=60)
        clock.set(day)
        transitions = client.get(f"{API}/projects/{pid}/transitions").json()
        forward = next(t for t in transitions["triggers"] if t["trigger"] == trigger)
        assert forward["allowed"] is False and forward["unmet"], f"{trigger} should be blocked before evidence"
        satisfy(client, pid, step, day)
        forward = next(
            t for t in client.get(f"{API}/projects/{pid}/transitions").json()["triggers"] if t["trigger"] == trigger
        )
        assert forward == forward | {"allowed": True, "unmet": []}
        project = fire(client, pid, trigger)
    assert project["state"] == "labellisee"
    assert project["labelled_on"] == day.isoformat()
    assert project["within_horizon"] is True
    events = client.get(f"{API}/projects/{pid}/events", params={"page_size": 200}).json()
    transitions = [e for e in events["items"] if e["type"] == "project.transitioned"]
    assert [e["trigger"] for e in transitions] == [t for _, t in FORWARD]
    assert events["total"] == project["version"]
    assert [e["seq"] for e in events["items"]] == list(range(1, project["version"] + 1))
