"""A partner system can subscribe to the collaboration events alone (opinion requests, the project's
messages) and receives exactly those; consultant notes write no event, so no subscription ever sees one."""

from __future__ import annotations

from tests.support.api import API, create_project
from tests.support.webhooks import subscribe, worker

COLLABORATION = ["opinion.requested", "opinion.answered", "opinion.revoked", "opinion.resent", "message.posted"]


def test_a_subscription_to_messages_only_gets_the_message(loopback, client, receiver) -> None:
    sub = subscribe(client, receiver.url, event_types=COLLABORATION)
    assert sorted(sub["event_types"]) == sorted(COLLABORATION)
    pid = create_project(client)["id"]
    r = client.post(f"{API}/projects/{pid}/messages", json={"body": "Réunion du comité le 1er décembre."})
    assert r.status_code == 201, r.text
    r = client.post(f"{API}/projects/{pid}/notes", json={"body": "Note interne : ne pas diffuser."})
    assert r.status_code == 201, r.text
    with worker(loopback) as w:
        report = w.run_once(scan=False)
    assert (report.deliveries_created, report.succeeded) == (1, 1)  # not project.created, not the note
    [request] = receiver.requests
    assert b'"type":"message.posted"' in request["body"].replace(b" ", b"")
    assert b"Note interne" not in request["body"]


def test_every_collaboration_type_is_accepted_and_unknown_ones_refused(loopback, client, receiver) -> None:
    for event_type in COLLABORATION:
        assert subscribe(client, receiver.url, event_types=[event_type])["event_types"] == [event_type]
    r = client.post(f"{API}/webhooks", json={"url": receiver.url, "event_types": ["note.created"]})
    assert r.status_code == 422
