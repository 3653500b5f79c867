"""Webhooks: Standard Webhooks signatures checked by the `standardwebhooks` package against a real HTTP
receiver on loopback, secret rotation, retries and Retry-After, final failure, automatic disabling,
two workers never delivering twice, the outbox written if and only if a change commits, targets."""

from __future__ import annotations

import base64
import json
import socket
import threading
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.accounts.models import ApiKey
from app.projects.models import Event, OutboxMessage
from app.webhooks import service as wh
from app.webhooks import targets
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from app.webhooks.worker import parse_retry_after
from tests.support.accounts import add_user, login
from tests.support.api import API, assert_problem, create_project, fire, make_key, satisfy
from tests.support.webhooks import configure, count, deliveries, outbox_count, subscribe, worker

SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000]


def verify(secret: str, request: dict) -> dict:
    return Webhook(secret).verify(request["body"], request["headers"])


def test_delivery_is_signed_per_standard_webhooks(loopback, client, receiver) -> None:
    sub = subscribe(
        client, receiver.url, event_types=["project.created", "project.transitioned"], description="Suivi Vilogia"
    )
    secret = sub["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24
    assert sub["enabled"] is True and sub["disabled_reason"] is None
    assert client.get(f"{API}/webhooks/{sub['id']}").json().keys() == sub.keys() - {"secret"}  # shown once

    project = create_project(client)
    client.patch(f"{API}/projects/{project['id']}", json={"description": "pas abonné à project.updated"})
    with worker(loopback) as w:
        report = w.run_once(scan=False)
    assert (report.deliveries_created, report.attempted, report.succeeded) == (1, 1, 1)
    [request] = receiver.requests
    assert request["headers"]["content-type"] == "application/json"
    assert request["headers"]["webhook-id"].startswith("msg_")
    assert abs(int(request["headers"]["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60
    payload = verify(secret, request)
    assert payload["type"] == "project.created"
    data = payload["data"]
    assert data["project_id"] == project["id"] and data["seq"] == 1 and data["feed_seq"] >= 1
    assert data["actor"].startswith("key:rf_") and data["data"]["name"] == project["name"]
    assert payload["timestamp"] == data["recorded_at"]
    with pytest.raises(WebhookVerificationError):  # another secret does not verify
        Webhook(wh.new_secret()).verify(request["body"], request["headers"])

    [d] = deliveries(client, sub["id"])
    assert (d["status"], d["attempts"], d["last_status_code"], d["event_type"]) == (
        "succeeded",
        1,
        204,
        "project.created",
    )
    assert d["message_id"] == request["headers"]["webhook-id"]
    log = client.get(f"{API}/webhooks/deliveries/{d['id']}/attempts").json()
    [attempt] = log["attempts"]
    assert attempt["status_code"] == 204 and attempt["duration_ms"] >= 0 and attempt["error"] is None


def test_rotation_signs_with_both_secrets_for_24_hours(loopback, client, receiver) -> None:
    sub = subscribe(client, receiver.url)
    old = sub["secret"]
    r = client.post(f"{API}/webhooks/{sub['id']}/rotate-secret")
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new != old and len(r.json()["secrets"]) == 2
    assert [s["expires_at"] is not None for s in r.json()["secrets"]] == [True, False]

    create_project(client)
    with worker(loopback) as w:
        w.run_once(scan=False)
        request = receiver.requests[-1]
        assert len(request["headers"]["webhook-signature"].split(" ")) == 2
        assert verify(old, request) == verify(new, request)  # both the old and the new secret verify

        loopback.state.clock.advance(hours=24, seconds=1)  # the old secret has had its day
        create_project(client, name="Régie du Val")
        w.run_once(scan=False)
    request = receiver.requests[-1]
    assert len(request["headers"]["webhook-signature"].split(" ")) == 1
    assert verify(new, request)["data"]["data"]["name"] == "Régie du Val"
    with pytest.raises(WebhookVerificationError):
        verify(old, request)
    assert len(client.get(f"{API}/webhooks/{sub['id']}").json()["secrets"]) == 1  # purged by the worker


def test_retries_honour_retry_after_then_recover(loopback, client, receiver) -> None:
    sub = subscribe(client, receiver.url)
    create_project(client)
    receiver.script(500, (429, {"Retry-After": "120"}))  # then the default, 204
    with worker(loopback) as w:
        w.run_once(scan=False)
        [d] = deliveries(client, sub["id"])
        assert (d["status"], d["attempts"], d["last_status_code"]) == ("pending", 1, 500)
        assert datetime.fromisoformat(d["next_attempt_at"]) == loopback.state.clock.now() + timedelta(seconds=5)
        assert w.run_once(scan=False).attempted == 0  # not due yet: the worker does not sleep, the clock moves
        loopback.state.clock.advance(seconds=5)
        w.run_once(scan=False)
        [d] = deliveries(client, sub["id"])
        assert (d["attempts"], d["last_status_code"]) == (2, 429)
        loopback.state.clock.advance(seconds=119)
        assert w.run_once(scan=False).attempted == 0  # Retry-After: 120 is honoured
        loopback.state.clock.advance(seconds=1)
        assert w.run_once(scan=False).succeeded == 1
    [d] = deliveries(client, sub["id"])
    assert (d["status"], d["attempts"], d["last_status_code"]) == ("succeeded", 3, 204)
    log = client.get(f"{API}/webhooks/deliveries/{d['id']}/attempts").json()["attempts"]
    assert [a["status_code"] for a in log] == [500, 429, 204]
    assert [a["error"] for a in log] == [
        "HTTP 500 : erreur du récepteur.",
        "HTTP 429 : le récepteur a refusé la livraison.",
        None,
    ]
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1  # one id for every attempt
    assert client.get(f"{API}/webhooks/{sub['id']}").json()["consecutive_failures"] == 0


def test_retry_after_as_seconds_or_http_date() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after("30", now) == 30
    assert parse_retry_after("Thu, 26 Nov 2026 12:02:00 GMT", now) == 120
    assert parse_retry_after("Thu, 26 Nov 2026 11:00:00 GMT", now) == 0
    assert parse_retry_after("demain", now) is None and parse_retry_after(None, now) is None
    assert parse_retry_after("99999999", now) == 86_400


def test_final_failure_after_the_whole_schedule(loopback, client, receiver) -> None:
    assert loopback.state.settings.webhook_retry_schedule_seconds == SCHEDULE  # about a day in all
    sub = subscribe(client, receiver.url)
    create_project(client)
    receiver.default = (503, {})
    with worker(loopback) as w:
        w.run_once(scan=False)
        for wait in SCHEDULE:
            [d] = deliveries(client, sub["id"])
            assert d["status"] == "pending"
            loopback.state.clock.advance(seconds=wait)
            assert w.run_once(scan=False).attempted == 1
        [d] = deliveries(client, sub["id"])
        assert (d["status"], d["attempts"], d["next_attempt_at"]) == ("failed", 8, None)
        loopback.state.clock.advance(days=2)
        assert w.run_once(scan=False).attempted == 0
    assert len(receiver.requests) == 8
    sub = client.get(f"{API}/webhooks/{sub['id']}").json()
    assert (sub["enabled"], sub["consecutive_failures"]) == (True, 1)

    # the owner can ask for it again, from the start of the schedule
    receiver.default = (200, {})
    r = client.post(f"{API}/webhooks/deliveries/{d['id']}/redeliver")
    assert r.status_code == 202 and r.json()["status"] == "pending", r.text
    with worker(loopback) as w:
        assert w.run_once(scan=False).succeeded == 1
    assert len(client.get(f"{API}/webhooks/deliveries/{d['id']}/attempts").json()["attempts"]) == 9


def test_subscription_disabled_after_consecutive_failed_deliveries(loopback, client, receiver) -> None:
    configure(loopback, webhook_retry_schedule_seconds=[60], webhook_max_consecutive_failures=3)
    sub = subscribe(client, receiver.url)
    for i in range(3):
        create_project(client, name=f"Régie {i}")
    receiver.default = (500, {})
    with worker(loopback) as w:
        w.run_once(scan=False)
        loopback.state.clock.advance(seconds=60)
        assert w.run_once(scan=False).failed == 3
        sub = client.get(f"{API}/webhooks/{sub['id']}").json()
        assert sub["enabled"] is False and sub["consecutive_failures"] == 3
        assert "3 livraisons échouées consécutivement" in sub["disabled_reason"]
        assert "HTTP 500" in sub["disabled_reason"] and sub["disabled_at"]

        create_project(client, name="Régie pendant la panne")  # not delivered while disabled
        report = w.run_once(scan=False)
        assert (report.deliveries_created, report.attempted) == (0, 0)
        redo = client.post(f"{API}/webhooks/deliveries/{deliveries(client, sub['id'])[0]['id']}/redeliver")
        assert_problem(redo, 409, "conflit")

        r = client.patch(f"{API}/webhooks/{sub['id']}", json={"enabled": True})
        assert r.status_code == 200 and r.json()["enabled"] is True and r.json()["disabled_reason"] is None
        assert r.json()["consecutive_failures"] == 0
        receiver.default = (200, {})
        create_project(client, name="Régie après la panne")
        assert w.run_once(scan=False).succeeded == 1
    assert len(receiver.requests) == 3 * 2 + 1


@pytest.mark.usefixtures("committed_db")  # two workers at once, two connections
def test_two_workers_never_deliver_one_event_twice(loopback, client, receiver) -> None:
    """Two workers run concurrently (threads) on the test database: on PostgreSQL they claim with
    FOR UPDATE SKIP LOCKED, on SQLite BEGIN IMMEDIATE serialises them; either way, once each."""
    subscribe(client, receiver.url)
    subscribe(client, receiver.url + "/bis")
    for i in range(12):
        create_project(client, name=f"Régie {i}")
    receiver.delay = 0.01
    barrier = threading.Barrier(2)
    fanned, sent = [], []

    def run() -> None:
        with worker(loopback) as w:
            barrier.wait()  # both fan the outbox out at once...
            fanned.append(w.fan_out())
            barrier.wait()  # ...then both send at once
            sent.append(w.deliver_due())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(sent) == 2
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert len(ids) == 24 and len(set(ids)) == 24  # 12 events × 2 subscriptions, each exactly once
    assert sum(created for _, created in fanned) == 24 and sum(rows for rows, _ in fanned) == 12
    assert sum(attempted for attempted, _, _ in sent) == 24
    assert all(attempted > 0 for attempted, _, _ in sent), sent  # both workers did send
    assert count(loopback, WebhookDelivery, WebhookDelivery.status == "succeeded") == 24
    assert count(loopback, WebhookAttempt) == 24


def test_an_outbox_row_exists_if_and_only_if_the_change_committed(app, client) -> None:
    project = create_project(client)
    assert outbox_count(app) == 1
    r = client.post(f"{API}/projects/{project['id']}/transitions/definir_contours")  # guards unmet
    assert_problem(r, 409, "conditions_non_remplies")
    assert outbox_count(app) == 1
    r = client.post(f"{API}/projects/{project['id']}/transitions/labelliser")  # wrong state
    assert r.status_code == 409 and outbox_count(app) == 1
    r = client.patch(f"{API}/projects/{project['id']}", json={"name": "Nom"}, headers={"If-Match": '"9"'})
    assert r.status_code == 412 and outbox_count(app) == 1
    satisfy(client, project["id"], "groupe_projet", date(2026, 11, 20))
    before = outbox_count(app)
    fire(client, project["id"], "definir_contours")
    assert outbox_count(app) == before + 1
    with app.state.session_factory() as session:
        events = session.scalars(select(Event.id)).all()
        boxed = session.scalars(select(OutboxMessage.event_id)).all()
        assert sorted(events) == sorted(boxed)
        last = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        assert last.topic == "project.transitioned" and last.dispatched_at is None


def _fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, str]) -> None:
    def resolve(host: str, port: int) -> list:
        if host not in answers:
            raise socket.gaierror("unknown host")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(targets, "resolver", resolve)


def test_private_targets_are_refused_at_subscription_and_at_delivery(
    app, client, receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app.state.settings.webhook_allow_private_targets is False
    _fake_dns(monkeypatch, {"interne.example": "192.168.1.10", "partenaire.example": "93.184.215.14"})
    for url in (
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://224.0.0.1/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        "https://interne.example/hook",
        "https://inconnu.example/hook",
        "ftp://partenaire.example/hook",
        "partenaire.example/hook",
        receiver.url,
    ):
        if url == "http://localhost/hook":
            monkeypatch.setattr(
                targets,
                "resolver",
                lambda host, port: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))],
            )
        r = client.post(f"{API}/webhooks", json={"url": url})
        body = assert_problem(r, 422)
        assert body["errors"][0]["field"] == "url", (url, body)
        _fake_dns(monkeypatch, {"interne.example": "192.168.1.10", "partenaire.example": "93.184.215.14"})
    assert count(app, WebhookSubscription) == 0

    sub = subscribe(client, "https://partenaire.example/hook")
    r = client.patch(f"{API}/webhooks/{sub['id']}", json={"url": "https://interne.example/hook"})
    assert_problem(r, 422)

    # DNS changes after the subscription: the delivery re-checks and sends nothing
    _fake_dns(monkeypatch, {"partenaire.example": "127.0.0.1"})
    create_project(client)
    with worker(app) as w:
        w.run_once(scan=False)
    [d] = deliveries(client, sub["id"])
    assert d["status"] == "pending" and d["last_status_code"] is None
    assert d["last_error"].startswith("Cible refusée") and "127.0.0.1" in d["last_error"]
    assert receiver.requests == []


def test_a_subscription_is_its_owners_alone(loopback, client, receiver) -> None:
    mine = subscribe(client, receiver.url)
    other_key, _ = make_key(loopback, name="Autre partenaire", scopes=("read",), consultant=False)
    other = {"Authorization": f"Bearer {other_key}"}
    assert client.get(f"{API}/webhooks", headers=other).json() == []
    for method, path in (
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/rotate-secret"),
        ("GET", "/deliveries"),
    ):
        r = client.request(
            method,
            f"{API}/webhooks/{mine['id']}{path}",
            headers=other,
            json={"description": "x"} if method == "PATCH" else None,
        )
        assert_problem(r, 404, "introuvable")
    create_project(client)
    with worker(loopback) as w:
        w.run_once(scan=False)
    [d] = deliveries(client, mine["id"])
    assert_problem(client.get(f"{API}/webhooks/deliveries/{d['id']}/attempts", headers=other), 404)
    assert_problem(client.post(f"{API}/webhooks/deliveries/{d['id']}/redeliver", headers=other), 404)
    theirs = client.post(f"{API}/webhooks", json={"url": receiver.url}, headers=other)
    assert theirs.status_code == 201 and theirs.json()["owner"].startswith("key:rf_")
    assert [s["id"] for s in client.get(f"{API}/webhooks").json()] == [mine["id"]]

    # an admin sees and changes every subscription
    add_user(loopback, "admin@example.fr", [("admin", None, None)])
    from fastapi.testclient import TestClient

    with TestClient(loopback, raise_server_exceptions=False) as admin:
        login(admin, "admin@example.fr")
        assert {s["id"] for s in admin.get(f"{API}/webhooks").json()} == {mine["id"], theirs.json()["id"]}
        assert admin.patch(f"{API}/webhooks/{mine['id']}", json={"description": "vu"}).status_code == 200
        assert admin.delete(f"{API}/webhooks/{theirs.json()['id']}").status_code == 204
        # a person who may read no project cannot subscribe
        add_user(loopback, "personne@example.fr", [])
        with TestClient(loopback, raise_server_exceptions=False) as nobody:
            login(nobody, "personne@example.fr")
            assert_problem(nobody.post(f"{API}/webhooks", json={"url": receiver.url}), 403, "acces_refuse")
    assert client.delete(f"{API}/webhooks/{mine['id']}").status_code == 204
    assert count(loopback, WebhookSubscription) == 0 and count(loopback, WebhookDelivery) == 0


def test_only_events_the_owner_may_read_are_delivered(loopback, client, receiver) -> None:
    breton_key, breton_row = make_key(
        loopback, name="Bretagne", scopes=("read",), consultant=False, regions=["Bretagne"]
    )
    breton = {"Authorization": f"Bearer {breton_key}"}
    sub = client.post(f"{API}/webhooks", json={"url": receiver.url}, headers=breton).json()
    create_project(client, name="Régie lilloise")  # Hauts-de-France: not for this key
    moved = create_project(client, name="Régie rennaise", region="Bretagne")
    with worker(loopback) as w:
        assert w.fan_out() == (2, 1)
        # before the delivery is sent, the project leaves the key's region: re-checked, nothing sent
        client.patch(f"{API}/projects/{moved['id']}", json={"region": "Normandie"})
        report = w.run_once(scan=False)
    assert report.deliveries_created == 0 and receiver.requests == []
    [d] = client.get(f"{API}/webhooks/{sub['id']}/deliveries", headers=breton).json()["items"]
    assert d["status"] == "failed" and "ne peut plus lire ce projet" in d["last_error"]

    kept = create_project(client, name="Régie brestoise", region="Bretagne")
    with loopback.state.session_factory() as session:  # the key is revoked before the worker runs
        session.get(ApiKey, breton_row.id).revoked_at = loopback.state.clock.now()
        session.commit()
    with worker(loopback) as w:
        w.run_once(scan=False)
    assert receiver.requests == []
    with loopback.state.session_factory() as session:
        s = session.get(WebhookSubscription, sub["id"])
        assert s.enabled is False and "révoquée" in s.disabled_reason
    assert kept["id"]


def test_subscription_validation(loopback, client, receiver) -> None:
    r = client.post(f"{API}/webhooks", json={"url": receiver.url, "event_types": ["project.exploded"]})
    assert_problem(r, 422, "requete_invalide")
    r = client.post(f"{API}/webhooks", json={"url": receiver.url, "secret": "whsec_moi"})
    assert_problem(r, 422, "requete_invalide")
    sub = subscribe(client, receiver.url, event_types=["deadline.status_changed", "plan.changed"])
    assert sub["event_types"] == ["deadline.status_changed", "plan.changed"]
    r = client.patch(f"{API}/webhooks/{sub['id']}", json={"event_types": [], "enabled": False})
    assert r.json()["event_types"] == [] and r.json()["enabled"] is False
    assert r.json()["disabled_reason"] == "Désactivé par son propriétaire."
    assert_problem(client.get(f"{API}/webhooks/{2**31 - 1}"), 404)
    assert_problem(client.get(f"{API}/webhooks/deliveries/{uuid.uuid4().int % 1000 + 1}/attempts"), 404)
    assert json.loads(json.dumps(sub))  # plain JSON
