"""Issue 11 §3: no secret at rest in the Idempotency-Key records and none replayed; the fingerprint
covers the query string; a replay re-checks that the caller still reads the project."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from app.accounts.models import ApiKey
from app.idempotency.middleware import fingerprint
from app.idempotency.models import IdempotencyRecord
from app.projects.models import Project
from tests.support.accounts import add_user, login
from tests.support.api import API, assert_problem, create_project, make_key
from tests.support.webhooks import count

PROJECT = {
    "name": "Régie des Trois Quartiers",
    "kind": "regie_de_quartier",
    "region": "Hauts-de-France",
    "initiator": "habitants",
}


@pytest.fixture
def admin(app) -> Iterator[TestClient]:
    add_user(app, "admin@example.fr", [("admin", None, None)])
    with TestClient(app, raise_server_exceptions=False) as c:
        login(c, "admin@example.fr")
        yield c


def stored(app: Any) -> str:
    """Everything the idempotency table holds, as text."""
    with app.state.session_factory() as session:
        rows = session.scalars(select(IdempotencyRecord)).all()
        return json.dumps(
            [[r.key, r.path, r.response_status, r.response_headers, r.response_body] for r in rows], ensure_ascii=False
        )


def twice(client: TestClient, path: str, key: str, body: Any = None) -> tuple[Any, Any]:
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    content = None if body is None else json.dumps(body)
    first = client.post(f"{API}{path}", content=content, headers=headers)
    again = client.post(f"{API}{path}", content=content, headers=headers)
    return first, again


def assert_redacted_replay(app: Any, first: Any, again: Any, fields: dict[str, str], advice: str) -> None:
    assert first.status_code == again.status_code and first.status_code in (200, 201), first.text
    assert "Idempotency-Replayed" not in first.headers and again.headers["Idempotency-Replayed"] == "true"
    shown, replayed = first.json(), again.json()
    for field, secret in fields.items():
        assert shown[field] == secret and replayed[field] is None
        assert secret not in again.text and secret not in json.dumps(dict(again.headers))
        assert secret not in stored(app), f"the idempotency record holds {field}"
    assert "n'est montré qu'une fois" in replayed["notice"] and advice in replayed["notice"]
    # the rest of the answer is the first one
    assert {k: v for k, v in replayed.items() if k not in fields and k != "notice"} == {
        k: v for k, v in shown.items() if k not in fields
    }


def test_an_api_key_is_not_kept_nor_replayed(app, admin) -> None:
    first, again = twice(admin, "/admin/api-keys", '"cle-api-1"', {"name": "Vilogia", "scopes": ["read"]})
    key = first.json()["key"]
    assert_redacted_replay(app, first, again, {"key": key}, "POST /api/v1/admin/api-keys")
    assert key.split("_", 2)[2] not in stored(app)  # not even the secret part
    assert len(admin.get(f"{API}/admin/api-keys").json()) == 1  # and created once


def test_a_calendar_token_is_not_kept_nor_replayed(app, client) -> None:
    pid = create_project(client)["id"]
    first, again = twice(client, "/calendars", "cal-1", {"project_id": pid})
    token, url = first.json()["token"], first.json()["url"]
    assert first.headers["Location"] == url and "Location" not in again.headers  # the URL carries the token
    assert_redacted_replay(app, first, again, {"token": token, "url": url}, "POST /api/v1/calendars")
    assert len(client.get(f"{API}/calendars").json()) == 1


def test_a_webhook_secret_is_not_kept_nor_replayed(app, client, monkeypatch) -> None:
    from tests.webhooks.test_webhooks import _fake_dns

    _fake_dns(monkeypatch, {"partenaire.example": "93.184.215.14"})
    body = {"url": "https://partenaire.example/hook", "event_types": ["project.created"]}
    first, again = twice(client, "/webhooks", "wh-1", body)
    assert again.headers["Location"] == first.headers["Location"]
    assert_redacted_replay(app, first, again, {"secret": first.json()["secret"]}, "rotate-secret")

    wid = first.json()["id"]
    first, again = twice(client, f"/webhooks/{wid}/rotate-secret", "wh-rotate-1")
    assert_redacted_replay(app, first, again, {"secret": first.json()["secret"]}, "rotate-secret")
    assert first.json()["secret"] != json.loads(stored(app))[0][4]


def test_answers_without_a_secret_are_kept_whole(app, client) -> None:
    first, again = twice(client, "/projects", "p-1", PROJECT)
    assert again.json() == first.json() and "notice" not in again.json()


@pytest.mark.parametrize("flag", ["true", "1"])
def test_a_dry_run_answer_is_not_replayed_for_the_real_import(app, client, flag) -> None:
    from tests.exchange.test_bulk_import import _example

    headers = {"Idempotency-Key": "import-1", "Content-Type": "application/json"}
    body = json.dumps(_example())
    dry = client.post(f"{API}/imports/projects?dry_run={flag}", content=body, headers=headers)
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert count(app, Project) == 0
    real = client.post(f"{API}/imports/projects?dry_run=false", content=body, headers=headers)
    assert_problem(real, 422, "idempotence_cle_reutilisee")
    assert count(app, Project) == 0
    replay = client.post(f"{API}/imports/projects?dry_run={flag}", content=body, headers=headers)
    assert replay.headers["Idempotency-Replayed"] == "true" and replay.json() == dry.json()


QUERY = st.lists(
    st.tuples(st.text("abcxyz_", min_size=1, max_size=5), st.text(st.characters(codec="utf-8"), max_size=6)),
    max_size=4,
)


def _query(pairs: list[tuple[str, str]]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(pairs).encode()


def _canonical(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(pairs, key=lambda p: p[0])


@given(QUERY, QUERY, st.binary(max_size=20))
def test_the_fingerprint_is_the_body_and_the_query_whatever_the_order_of_names(a, b, body) -> None:
    assert fingerprint(_query(_canonical(a)), body) == fingerprint(_query(a), body)
    if _canonical(a) != _canonical(b):
        assert fingerprint(_query(a), body) != fingerprint(_query(b), body)
    assert fingerprint(b"", body) == fingerprint(_query([]), body)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(QUERY, QUERY)
def test_another_query_string_is_another_request(app, client, a, b) -> None:
    key = str(uuid.uuid4())
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    body = json.dumps(PROJECT)
    first = client.post(f"{API}/projects?{_query(a).decode()}", content=body, headers=headers)
    assert first.status_code == 201, first.text
    shuffled = _query(list(reversed(_canonical(a))) if len({n for n, _ in a}) == len(a) else a).decode()
    replay = client.post(f"{API}/projects?{shuffled}", content=body, headers=headers)
    assert replay.headers["Idempotency-Replayed"] == "true" and replay.json()["id"] == first.json()["id"]
    other = client.post(f"{API}/projects?{_query(b).decode()}", content=body, headers=headers)
    if _canonical(a) == _canonical(b):
        assert other.headers["Idempotency-Replayed"] == "true"
    else:
        assert_problem(other, 422, "idempotence_cle_reutilisee")


def _restrict(app: Any, key_row: Any, project_ids: list[str]) -> None:
    with app.state.session_factory() as session, session.begin():
        session.execute(update(ApiKey).where(ApiKey.id == key_row.id).values(project_ids=project_ids))


def test_a_replay_after_losing_access_to_the_project_answers_404(app, client) -> None:
    pid = create_project(client)["id"]
    other = create_project(client, name="Autre régie")["id"]
    key, row = make_key(app, project_ids=[uuid.UUID(pid)], name="Partenaire d'un projet")
    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"}) as partner:
        need, again = twice(partner, f"/projects/{pid}/needs", "need-1", {"label": "Entretien des halls"})
        assert need.status_code == 201 and again.headers["Idempotency-Replayed"] == "true"
        cal, again = twice(partner, "/calendars", "cal-1", {"project_id": pid})  # the project is in the body
        assert cal.status_code == 201 and again.headers["Idempotency-Replayed"] == "true"
        _restrict(app, row, [other])
        for path, key_value, body in (
            (f"/projects/{pid}/needs", "need-1", {"label": "Entretien des halls"}),
            ("/calendars", "cal-1", {"project_id": pid}),
        ):
            r = partner.post(
                f"{API}{path}",
                content=json.dumps(body),
                headers={"Idempotency-Key": key_value, "Content-Type": "application/json"},
            )
            body_ = assert_problem(r, 404, "introuvable")
            assert "Idempotency-Replayed" not in r.headers and "Entretien" not in r.text and "token" not in body_
        _restrict(app, row, [pid])  # access given back: the stored answer again
        r = partner.post(
            f"{API}/projects/{pid}/needs",
            content=json.dumps({"label": "Entretien des halls"}),
            headers={"Idempotency-Key": "need-1", "Content-Type": "application/json"},
        )
        assert r.headers["Idempotency-Replayed"] == "true" and r.json() == need.json()


def test_a_new_project_replayed_after_losing_its_region_answers_404(app) -> None:
    key, row = make_key(app, regions=["Hauts-de-France"], name="Partenaire régional")
    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"}) as partner:
        first, again = twice(partner, "/projects", "p-1", PROJECT)
        assert first.status_code == 201, first.text
        assert again.headers["Idempotency-Replayed"] == "true"
        with app.state.session_factory() as session, session.begin():
            session.execute(update(ApiKey).where(ApiKey.id == row.id).values(regions=["Bretagne"]))
        r = partner.post(
            f"{API}/projects",
            content=json.dumps(PROJECT),
            headers={"Idempotency-Key": "p-1", "Content-Type": "application/json"},
        )
        assert_problem(r, 404, "introuvable")
    assert count(app, Project) == 1


def test_an_applied_request_whose_answer_was_lost_is_not_described_to_a_caller_who_lost_access(
    app, client, monkeypatch
) -> None:
    from app.idempotency import middleware

    pid = create_project(client)["id"]
    key, row = make_key(app, project_ids=[uuid.UUID(pid)], name="Partenaire d'un projet")
    monkeypatch.setattr(middleware, "finish", lambda *args, **kwargs: None)  # "the process died here"
    headers = {"Idempotency-Key": "need-crash", "Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    body = json.dumps({"label": "Entretien des halls"})
    assert client.post(f"{API}/projects/{pid}/needs", content=body, headers=headers).status_code == 201
    monkeypatch.undo()
    assert_problem(client.post(f"{API}/projects/{pid}/needs", content=body, headers=headers), 409)
    _restrict(app, row, [create_project(client, name="Autre régie")["id"]])
    assert_problem(client.post(f"{API}/projects/{pid}/needs", content=body, headers=headers), 404, "introuvable")


@given(st.binary(max_size=12), st.binary(max_size=12))
def test_two_query_strings_that_differ_by_a_byte_never_share_a_fingerprint(a, b) -> None:
    from urllib.parse import quote_from_bytes

    qa, qb = ("x=" + quote_from_bytes(a)).encode(), ("x=" + quote_from_bytes(b)).encode()
    assert (fingerprint(qa, b"{}") == fingerprint(qb, b"{}")) == (a == b)
