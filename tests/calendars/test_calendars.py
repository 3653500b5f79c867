"""iCalendar feeds: tokens shown once and stored hashed, feeds built with the owner's rights at fetch
time, stable UIDs, all-day events, and 404 for anything but a live token."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import select

from app.calendars.models import CalendarToken
from app.core.security import sha256_hex
from tests.support.accounts import add_user, login
from tests.support.api import API, advance, make_key, project_at, satisfy

STEPS = ("groupe_projet", "contours", "faisabilite", "validation", "prefiguration", "expertise")


def _feed(c: TestClient, url: str) -> Calendar:
    r = c.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(r.content)


def _events(cal: Calendar) -> dict[str, object]:
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_portfolio_feed_has_due_dates_horizons_and_planned_ends(client: TestClient, anon_client: TestClient) -> None:
    a = project_at(client, "faisabilite", start=date(2025, 1, 6), name="Régie de l'Alma")
    b = project_at(client, "groupe_projet", start=date(2026, 10, 1), name="Régie du Blosne", region="Bretagne")
    done = project_at(client, "labellisee", start=date(2023, 3, 1), name="Régie des Coteaux")
    r = client.post(f"{API}/calendars", json={})
    assert r.status_code == 201, r.text
    created = r.json()
    token, url = created["token"], created["url"]
    assert token.startswith(created["prefix"] + "_") and created["prefix"].startswith("rfcal_")
    assert url.endswith(f"/calendars/{token}.ics") and r.headers["location"] == url
    assert created["project_id"] is None

    cal = _feed(anon_client, _path(url))  # no other credential than the token
    assert str(cal["VERSION"]) == "2.0" and "regieflow" in str(cal["PRODID"])
    events = _events(cal)
    for p in (a, b):
        pid = p["id"]
        schedule = client.get(f"{API}/projects/{pid}/schedule").json()
        due = events[f"{pid}-due-{p['state']}@regieflow"]
        assert due["DTSTART"].dt == date.fromisoformat(p["step_due_on"])
        assert events[f"{pid}-horizon@regieflow"]["DTSTART"].dt == date.fromisoformat(p["horizon_on"])
        for step in schedule["steps"]:
            planned = events[f"{pid}-planned-{step['step']}@regieflow"]
            assert planned["DTSTART"].dt == date.fromisoformat(step["planned_end"])
            assert "Fin prévue" in str(planned["SUMMARY"]) and p["name"] in str(planned["SUMMARY"])
        assert p["name"] in str(due["SUMMARY"]) and "Échéance" in str(due["SUMMARY"])
    assert set(events) - {f"{done['id']}-label@regieflow"} == {
        f"{p['id']}-{what}@regieflow"
        for p in (a, b)
        for what in ("horizon", f"due-{p['state']}", *(f"planned-{st}" for st in STEPS))
    }
    assert events[f"{done['id']}-label@regieflow"]["DTSTART"].dt == date.fromisoformat(done["labelled_on"])
    for e in events.values():  # all-day events, with the stamps calendar applications need
        start, end = e["DTSTART"].dt, e["DTEND"].dt
        assert type(start) is date and (end - start).days == 1
        assert e["DTSTAMP"].dt.tzinfo is not None and int(e["SEQUENCE"]) >= 1
        assert e.get("DTSTART").params.get("VALUE") == "DATE"


def test_uids_are_stable_and_follow_the_project(client: TestClient, anon_client: TestClient) -> None:
    p = project_at(client, "groupe_projet", start=date(2026, 6, 1))
    url = _path(client.post(f"{API}/calendars", json={"project_id": p["id"]}).json()["url"])
    first = _events(_feed(anon_client, url))
    again = _events(_feed(anon_client, url))
    assert list(first) == list(again)
    assert {k: v.to_ical() for k, v in first.items()} == {k: v.to_ical() for k, v in again.items()}
    moved = advance(client, p["id"], "contours", start=date(2026, 6, 1))
    after = _events(_feed(anon_client, url))
    pid = p["id"]
    assert f"{pid}-due-groupe_projet@regieflow" in first and f"{pid}-due-groupe_projet@regieflow" not in after
    assert after[f"{pid}-due-contours@regieflow"]["DTSTART"].dt == date.fromisoformat(moved["step_due_on"])
    assert set(first) - {f"{pid}-due-groupe_projet@regieflow"} <= set(after)  # the other UIDs stay
    assert int(after[f"{pid}-horizon@regieflow"]["SEQUENCE"]) == moved["version"]


def test_project_token_shows_that_project_only(client: TestClient, anon_client: TestClient) -> None:
    a = project_at(client, "contours", start=date(2026, 3, 2))
    project_at(client, "groupe_projet", start=date(2026, 9, 1), name="Autre")
    url = _path(client.post(f"{API}/calendars", json={"project_id": a["id"]}).json()["url"])
    cal = _feed(anon_client, url)
    assert {str(e["UID"]).split("-", 5)[:5] == a["id"].split("-") for e in cal.walk("VEVENT")} == {True}
    assert "Régie des Trois Quartiers" in str(cal["X-WR-CALNAME"])
    # Someone who cannot read a project cannot make a token for it: it does not exist for them.
    r = client.post(f"{API}/calendars", json={"project_id": str(uuid.uuid4())})
    assert r.status_code == 404


def test_revoked_unknown_and_malformed_tokens_answer_404(app, client: TestClient, anon_client: TestClient) -> None:
    project_at(client, "groupe_projet", start=date(2026, 9, 1))
    created = client.post(f"{API}/calendars", json={}).json()
    url = _path(created["url"])
    assert anon_client.get(url).status_code == 200
    # Stored as a SHA-256 with a visible prefix, never in clear.
    with app.state.session_factory() as session:
        row = session.scalars(select(CalendarToken)).one()
        assert row.token_hash == sha256_hex(created["token"]) and row.prefix == created["prefix"]
        assert row.owner.startswith("key:") and row.api_key_id is not None and row.last_used_at is not None
    listed = client.get(f"{API}/calendars").json()
    assert [x["id"] for x in listed] == [created["id"]] and "token" not in listed[0]
    # Another principal neither sees nor revokes it.
    other_key, _ = make_key(app, name="Autre partenaire", scopes=("read",), consultant=False)
    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {other_key}"}) as other:
        assert other.get(f"{API}/calendars").json() == []
        assert other.delete(f"{API}/calendars/{created['id']}").status_code == 404
    assert anon_client.get(url).status_code == 200
    assert client.delete(f"{API}/calendars/{created['id']}").status_code == 204
    r = anon_client.get(url)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"{API}/calendars").json()[0]["revoked_at"] is not None
    assert client.delete(f"{API}/calendars/{created['id']}").status_code == 204  # idempotent
    wrong = created["token"][:-4] + ("AAAA" if not created["token"].endswith("AAAA") else "BBBB")
    for bad in (wrong, "nimportequoi", "rfcal_zz_" + "x" * 40, created["prefix"]):
        assert anon_client.get(f"/calendars/{bad}.ics").status_code == 404, bad


def test_the_feed_follows_the_owners_rights_at_fetch_time(app, client: TestClient, anon_client: TestClient) -> None:
    mine = project_at(client, "groupe_projet", start=date(2026, 9, 1), name="La mienne")
    other = project_at(client, "groupe_projet", start=date(2026, 9, 1), name="L'autre", region="Bretagne")
    user_id, _ = add_user(app, "porteur@example.fr", [("porteur", uuid.UUID(mine["id"]), None)])
    with TestClient(app, raise_server_exceptions=False) as c:
        login(c, "porteur@example.fr")
        assert c.post(f"{API}/calendars", json={"project_id": other["id"]}).status_code == 404
        url = _path(c.post(f"{API}/calendars", json={}).json()["url"])
    uids = set(_events(_feed(anon_client, url)))
    assert uids and all(u.startswith(mine["id"]) for u in uids)
    # The porteur is given the other project too: it joins the feed at the next fetch.
    add_user(app, "admin@example.fr", [("admin", None, None)])
    with TestClient(app, raise_server_exceptions=False) as admin:
        login(admin, "admin@example.fr")
        r = admin.post(f"{API}/admin/users/{user_id}/grants", json={"role": "porteur", "project_id": other["id"]})
        assert r.status_code == 201, r.text
        assert any(u.startswith(other["id"]) for u in _events(_feed(anon_client, url)))
        # …and leaves it when the grant is removed; a disabled user's feeds stop answering.
        assert admin.delete(f"{API}/admin/users/{user_id}/grants/{r.json()['id']}").status_code == 204
        assert not any(u.startswith(other["id"]) for u in _events(_feed(anon_client, url)))
        assert admin.patch(f"{API}/admin/users/{user_id}", json={"active": False}).status_code == 200
        assert anon_client.get(url).status_code == 404


def test_a_revoked_key_takes_its_feeds_with_it(app, anon_client: TestClient) -> None:
    key, row = make_key(app, name="Bailleur", scopes=("read",), consultant=False)
    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"}) as c:
        url = _path(c.post(f"{API}/calendars").json()["url"])  # no body: the whole portfolio
    assert anon_client.get(url).status_code == 200
    from app.accounts import service as accounts
    from app.core.unit_of_work import UnitOfWork

    with UnitOfWork(app.state.session_factory) as uow:
        accounts.revoke_api_key(uow, key_id=row.id, now=app.state.clock.now())
    assert anon_client.get(url).status_code == 404


def test_suspended_and_closed_projects(client: TestClient, anon_client: TestClient) -> None:
    p = project_at(client, "contours", start=date(2026, 1, 5))
    satisfy(client, p["id"], "contours", date(2026, 5, 1))
    r = client.post(
        f"{API}/projects/{p['id']}/transitions/suspendre",
        json={"reason": "Élections municipales", "effective_on": "2026-10-01"},
    )
    assert r.status_code == 200, r.text
    url = _path(client.post(f"{API}/calendars", json={"project_id": p["id"]}).json()["url"])
    events = _events(_feed(anon_client, url))
    shown = client.get(f"{API}/projects/{p['id']}/schedule").json()
    assert events[f"{p['id']}-due-contours@regieflow"]["DTSTART"].dt == date.fromisoformat(shown["step_due_on"])
    assert "Suspendu depuis le 01/10/2026" in str(events[f"{p['id']}-horizon@regieflow"]["DESCRIPTION"])
    r = client.post(f"{API}/projects/{p['id']}/transitions/abandonner", json={"reason": "Pas de local"})
    assert r.status_code == 200, r.text
    assert _events(_feed(anon_client, url)) == {}  # an abandoned project has nothing ahead
