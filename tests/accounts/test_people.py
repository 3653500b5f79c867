"""People: passwords (argon2id), session cookies, logout and expiry, CSRF, login throttling, and what
each role may do on a project (observer, porteur, consultant), down to the properties of a body."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from argon2 import Type
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.accounts.authentication import SESSION_COOKIE
from app.accounts.models import RoleGrant, User, WebSession
from app.accounts.pages import LOGIN_CSRF_COOKIE
from tests.support.accounts import PASSWORD, REAL_HASHER, REGION_A, REGION_B, add_user, browser, login
from tests.support.api import API, FORWARD, is_problem, satisfy
from tests.support.evidence import project_body

WRONG = "Adresse e-mail ou mot de passe incorrect."
LABEL_REFUSAL = (
    "Seul un consultant du Mouvement des Régies peut enregistrer l'expertise, attribuer ou ajourner le label."
)


def session_cookie_header(r) -> str:
    return next(h for h in r.headers.get_list("set-cookie") if h.startswith(f"{SESSION_COOKIE}="))


# --- sessions ---------------------------------------------------------------------------------
def test_passwords_are_stored_with_argon2id(app) -> None:
    from app.accounts import service as accounts
    from app.core.unit_of_work import UnitOfWork

    with UnitOfWork(app.state.session_factory) as uow:
        accounts.create_user(uow, email="Ana@Example.fr", name="Ana", password=PASSWORD, now=app.state.clock.now())
        user = uow.session.scalars(select(User)).one()
        assert user.email == "ana@example.fr"
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    # The application's own parameters (these tests swap in cheap ones): argon2id, at least OWASP's minimum.
    assert REAL_HASHER.type is Type.ID
    assert REAL_HASHER.time_cost >= 2 and REAL_HASHER.memory_cost >= 19 * 1024
    with browser(app) as c:
        assert login(c, "ANA@example.fr")["label"] == "user:ana@example.fr"


def test_login_sets_an_httponly_samesite_cookie(app) -> None:
    add_user(app, "ana@example.fr", [("observateur", None, REGION_A)], name="Ana")
    with browser(app) as c:
        r = c.post(f"{API}/auth/login", json={"email": "ana@example.fr", "password": PASSWORD})
        assert r.status_code == 200, r.text
        me = r.json()
        assert me == me | {
            "kind": "user",
            "label": "user:ana@example.fr",
            "name": "Ana",
            "roles": ["observateur"],
            "is_admin": False,
        }
        assert len(me["csrf_token"]) >= 32
        cookie = session_cookie_header(r)
        attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")}
        assert "httponly" in attrs and "samesite=lax" in cookie.lower() and "secure" not in attrs
        assert f"max-age={app.state.settings.session_hours * 3600}" in cookie.lower()
        token = cookie.split(";")[0].split("=", 1)[1]
        assert PASSWORD not in cookie
        # The database holds a hash of the session token, never the token.
        with app.state.session_factory() as session:
            ws = session.scalars(select(WebSession)).one()
        assert ws.token_hash != token and token not in ws.token_hash
        assert c.get(f"{API}/auth/me").json()["csrf_token"] == me["csrf_token"]


def test_secure_cookie_behind_https(app) -> None:
    add_user(app, "ana@example.fr", [("observateur", None, REGION_A)])
    with browser(app, base_url="https://testserver") as c:
        r = c.post(f"{API}/auth/login", json={"email": "ana@example.fr", "password": PASSWORD})
        assert r.status_code == 200
        attrs = {a.strip().lower() for a in session_cookie_header(r).split(";")}
        assert "secure" in attrs and "httponly" in attrs
        assert c.get(f"{API}/auth/me").json()["label"] == "user:ana@example.fr"


def test_logout_ends_the_session(app) -> None:
    add_user(app, "ana@example.fr", [("observateur", None, REGION_A)])
    with browser(app) as c:
        login(c, "ana@example.fr")
        token = c.cookies.get(SESSION_COOKIE)
        assert c.get(f"{API}/projects").status_code == 200
        r = c.post(f"{API}/auth/logout")
        assert r.status_code == 204
        assert c.get(f"{API}/projects").status_code == 401
    with browser(app) as replay:  # the old cookie, kept by someone, is worth nothing
        replay.cookies.set(SESSION_COOKIE, token)
        assert replay.get(f"{API}/projects").status_code == 401


def test_session_expires(app, clock) -> None:
    add_user(app, "ana@example.fr", [("observateur", None, REGION_A)])
    with browser(app) as c:
        login(c, "ana@example.fr")
        clock.state["now"] += timedelta(hours=app.state.settings.session_hours) - timedelta(minutes=1)
        assert c.get(f"{API}/projects").status_code == 200
        clock.state["now"] += timedelta(minutes=2)
        r = c.get(f"{API}/projects")
        assert r.status_code == 401 and is_problem(r)
        login(c, "ana@example.fr")  # and one logs in again
        assert c.get(f"{API}/projects").status_code == 200


def test_deactivated_user_loses_their_session(app) -> None:
    from app.accounts import service as accounts
    from app.core.unit_of_work import UnitOfWork

    uid, _ = add_user(app, "ana@example.fr", [("observateur", None, REGION_A)])
    with browser(app) as c:
        login(c, "ana@example.fr")
        with UnitOfWork(app.state.session_factory) as uow:
            accounts.update_user(uow, uid, active=False)
        assert c.get(f"{API}/projects").status_code == 401
        r = c.post(f"{API}/auth/login", json={"email": "ana@example.fr", "password": PASSWORD})
        assert r.status_code == 401 and r.json()["detail"] == WRONG


# --- CSRF -------------------------------------------------------------------------------------
def test_cookie_writes_need_the_csrf_header(app, client) -> None:
    pid = client.post(f"{API}/projects", json=project_body()).json()["id"]
    add_user(app, "pauline@example.fr", [("porteur", uuid.UUID(pid), None)])
    with browser(app) as c:
        csrf = login(c, "pauline@example.fr")["csrf_token"]
        del c.headers["X-CSRF-Token"]
        assert c.get(f"{API}/projects/{pid}").status_code == 200  # reads need none
        for headers in ({}, {"X-CSRF-Token": ""}, {"X-CSRF-Token": csrf[:-1] + ("A" if csrf[-1] != "A" else "B")}):
            r = c.post(f"{API}/projects/{pid}/needs", json={"label": "Besoin"}, headers=headers)
            assert r.status_code == 403 and is_problem(r), r.text
            assert "CSRF" in r.json()["detail"]
            assert c.post(f"{API}/auth/logout", headers=headers).status_code == 403
            assert c.post(f"{API}/projects", json=project_body(), headers=headers).status_code == 403
        r = c.post(f"{API}/projects/{pid}/needs", json={"label": "Besoin"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201, r.text
    # A key is not a cookie: no CSRF token needed (nothing a browser sends by itself).
    assert client.post(f"{API}/projects/{pid}/needs", json={"label": "Autre besoin"}).status_code == 201


def _form_token(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_login_page_form_needs_its_csrf_token(app) -> None:
    add_user(app, "ana@example.fr", [("observateur", None, REGION_A)])
    form = {"email": "ana@example.fr", "password": PASSWORD, "next": "/"}
    with browser(app) as c:  # no GET first: no cookie, the token is missing
        r = c.post("/connexion", data=form | {"csrf": "n'importe quoi"})
        assert r.status_code == 403 and SESSION_COOKIE not in r.headers.get("set-cookie", "")
    with browser(app) as c:
        page = c.get("/connexion")
        assert page.status_code == 200
        token = _form_token(page.text)
        assert c.cookies.get(LOGIN_CSRF_COOKIE) == token
        r = c.post("/connexion", data=form | {"csrf": token[:-2]})
        assert r.status_code == 403
        token = _form_token(r.text)  # a fresh form comes back
        r = c.post("/connexion", data=form | {"csrf": token, "next": "//evil.example/"})
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = session_cookie_header(r).lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert c.get("/").headers["location"] == "/projets"  # an observer's home is the portfolio
        home = c.get("/projets")
        assert home.status_code == 200 and "Se déconnecter" in home.text


def test_login_page_wrong_password_says_nothing_more(app) -> None:
    add_user(app, "ana@example.fr", [("observateur", None, REGION_A)])
    with browser(app) as c:
        answers = []
        for email, password in (("ana@example.fr", "mauvais mot de passe"), ("personne@example.fr", PASSWORD)):
            token = _form_token(c.get("/connexion").text)
            r = c.post("/connexion", data={"email": email, "password": password, "csrf": token})
            assert r.status_code == 401 and password not in r.text
            answers.append(re.search(r'role="alert"[^>]*>([^<]+)<', r.text).group(1))
        assert answers == [WRONG, WRONG]


def test_logout_form_needs_its_csrf_token(app) -> None:
    add_user(app, "ana@example.fr", [("observateur", None, REGION_A)])
    with browser(app) as c:
        csrf = login(c, "ana@example.fr")["csrf_token"]
        r = c.post("/deconnexion", data={})
        assert r.status_code == 403
        r = c.post("/deconnexion", data={"csrf": "faux"})
        assert r.status_code == 403
        assert c.get(f"{API}/auth/me").json()["kind"] == "user"  # still logged in
        page = c.get("/projets")
        assert _form_token(page.text) == csrf  # the page's logout form carries the session's token
        r = c.post("/deconnexion", data={"csrf": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/connexion"
        assert c.get(f"{API}/auth/me").status_code == 401


# --- throttling -------------------------------------------------------------------------------
def test_repeated_failures_are_throttled_without_saying_what_was_wrong(app, clock) -> None:
    add_user(app, "ana@example.fr", [("observateur", None, REGION_A)])
    settings = app.state.settings
    with browser(app) as c:
        details = set()
        for i in range(settings.login_max_failures):  # an unknown e-mail, then a wrong password: same answer
            for email in (f"inconnu{i}@example.fr", "ana@example.fr"):
                r = c.post(f"{API}/auth/login", json={"email": email, "password": "mauvais mot de passe"})
                assert r.status_code == 401 and is_problem(r), r.text
                details.add((r.json()["detail"], r.json()["code"], r.json()["title"]))
        assert details == {(WRONG, "authentification_requise", "Authentification requise")}
        # Blocked now, even with the right password, and the page form says the same.
        r = c.post(f"{API}/auth/login", json={"email": "ana@example.fr", "password": PASSWORD})
        assert r.status_code == 429 and is_problem(r), r.text
        retry = int(r.headers["Retry-After"])
        assert 0 < retry <= settings.login_block_minutes * 60 + 1
        assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
        token = _form_token(c.get("/connexion").text)
        r = c.post("/connexion", data={"email": "ana@example.fr", "password": PASSWORD, "csrf": token})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        # Once the block is over, the right password works again.
        clock.state["now"] += timedelta(minutes=settings.login_block_minutes, seconds=1)
        login(c, "ana@example.fr")


def test_throttling_is_per_email_too(app) -> None:
    """Failures against one account add up even when they come from different addresses."""
    add_user(app, "ana@example.fr", [("observateur", None, REGION_A)])
    for i in range(app.state.settings.login_max_failures):
        with TestClient(app, raise_server_exceptions=False, client=(f"10.0.0.{i + 1}", 50000)) as c:
            r = c.post(f"{API}/auth/login", json={"email": "ana@example.fr", "password": "mauvais mot de passe"})
            assert r.status_code == 401
    with TestClient(app, raise_server_exceptions=False, client=("10.0.1.1", 50000)) as c:
        r = c.post(f"{API}/auth/login", json={"email": "ana@example.fr", "password": PASSWORD})
        assert r.status_code == 429 and "Retry-After" in r.headers


# --- what each role may do ---------------------------------------------------------------------
def test_an_observer_only_reads(app, client) -> None:
    pid = client.post(f"{API}/projects", json=project_body()).json()["id"]
    add_user(app, "olivier@example.fr", [("observateur", uuid.UUID(pid), None)])
    with browser(app) as c:
        login(c, "olivier@example.fr")
        assert c.get(f"{API}/projects/{pid}").status_code == 200
        assert c.get(f"{API}/projects/{pid}/schedule").status_code == 200
        for method, url, body in (
            ("PATCH", f"/projects/{pid}", {"description": "x"}),
            ("POST", f"/projects/{pid}/needs", {"label": "Besoin"}),
            ("POST", f"/projects/{pid}/transitions/suspendre", {"reason": "Pause"}),
            ("PUT", f"/projects/{pid}/plan", {"step_months": {}, "horizon_months": 36, "reason": "x"}),
        ):
            r = c.request(method, API + url, json=body)
            assert r.status_code == 403 and is_problem(r), (url, r.text)
            assert r.json()["code"] == "acces_refuse"
        assert c.post(f"{API}/projects", json=project_body()).status_code == 403
    assert client.get(f"{API}/projects/{pid}").json()["version"] == 1  # nothing changed


def test_a_porteur_moves_their_project_but_cannot_grant_the_label(app, client) -> None:
    start = date(2024, 1, 15)  # a back-dated history, so that the sessions (and today) stay put
    pid = client.post(f"{API}/projects", json=project_body(started_on=start.isoformat())).json()["id"]
    add_user(app, "pauline@example.fr", [("porteur", uuid.UUID(pid), None)])
    add_user(app, "claire@example.fr", [("consultant", None, REGION_A)])
    with browser(app) as porteur, browser(app) as consultant:
        login(porteur, "pauline@example.fr")
        login(consultant, "claire@example.fr")
        day = start
        for step, trigger in FORWARD[:-1]:
            day += timedelta(days=60)
            satisfy(porteur, pid, step, day)
            r = porteur.post(f"{API}/projects/{pid}/transitions/{trigger}", json={"effective_on": day.isoformat()})
            assert r.status_code == 200, r.text
        # In the expertise step: the porteur may neither record the expertise nor grant/postpone the label.
        body = {"conducted_on": day.isoformat(), "experts": ["Claire Martin"], "conclusion": "favorable"}
        r = porteur.post(f"{API}/projects/{pid}/expertises", json=body)
        assert r.status_code == 403 and r.json()["detail"] == LABEL_REFUSAL
        satisfy(consultant, pid, "expertise", day)
        transitions = porteur.get(f"{API}/projects/{pid}/transitions").json()
        label = next(t for t in transitions["triggers"] if t["trigger"] == "labelliser")
        assert label["allowed"] is True and label["consultant_only"] is True
        for trigger, payload in (("labelliser", None), ("ajourner_label", {"reason": "Réserves"})):
            r = porteur.post(f"{API}/projects/{pid}/transitions/{trigger}", json=payload)
            assert r.status_code == 403 and is_problem(r), r.text
            assert r.json() == r.json() | {"code": "acces_refuse", "detail": LABEL_REFUSAL}
        for variant in ("Labelliser", "LABELLISER", "labelliser ", "labelliser%00"):
            r = porteur.post(f"{API}/projects/{pid}/transitions/{variant}")
            assert r.status_code in (403, 404, 422), (variant, r.text)  # never a way around the rule
        assert porteur.get(f"{API}/projects/{pid}").json()["state"] == "expertise"
        r = porteur.put(
            f"{API}/projects/{pid}/plan",
            json={
                "step_months": {
                    "groupe_projet": 3,
                    "contours": 4,
                    "faisabilite": 8,
                    "validation": 3,
                    "prefiguration": 12,
                    "expertise": 9,
                },
                "horizon_months": 39,
                "reason": "Retard",
            },
        )
        assert r.status_code == 403 and "replanifier" in r.json()["detail"]
        r = consultant.post(f"{API}/projects/{pid}/transitions/labelliser")
        assert r.status_code == 200 and r.json()["state"] == "labellisee"


def test_a_porteur_creates_a_project_and_becomes_its_porteur(app, client) -> None:
    existing = client.post(f"{API}/projects", json=project_body()).json()["id"]
    uid, _ = add_user(app, "pauline@example.fr", [("porteur", uuid.UUID(existing), None)])
    newcomer, _ = add_user(app, "nina@example.fr")  # no role yet: a new lead
    for email, user_id in (("pauline@example.fr", uid), ("nina@example.fr", newcomer)):
        with browser(app) as c:
            login(c, email)
            r = c.post(f"{API}/projects", json=project_body(REGION_B, name=f"Régie de {email}"))
            assert r.status_code == 201, r.text
            pid = r.json()["id"]
            assert c.get(f"{API}/projects/{pid}").status_code == 200
            assert c.post(f"{API}/projects/{pid}/needs", json={"label": "Besoin"}).status_code == 201
            assert c.get(f"{API}/auth/me").json()["roles"] == ["porteur"]
            events = c.get(f"{API}/projects/{pid}/events").json()["items"]
            assert events[0]["actor"] == f"user:{email}"
        with app.state.session_factory() as session:
            grants = session.scalars(select(RoleGrant).where(RoleGrant.user_id == user_id)).all()
            assert ("porteur", uuid.UUID(pid)) in {(g.role, g.project_id) for g in grants}
    # Porteur of their projects only: the other's stays out of reach.
    with browser(app) as c:
        login(c, "nina@example.fr")
        assert c.get(f"{API}/projects/{existing}").status_code == 404


def test_consultant_in_a_region_does_not_become_porteur(app) -> None:
    uid, _ = add_user(app, "claire@example.fr", [("consultant", None, REGION_A)])
    with browser(app) as c:
        login(c, "claire@example.fr")
        assert c.post(f"{API}/projects", json=project_body(REGION_A)).status_code == 201
        r = c.post(f"{API}/projects", json=project_body(REGION_B))
        assert r.status_code == 403 and REGION_A in r.json()["detail"]
        pid = c.get(f"{API}/projects").json()["items"][0]["id"]
        r = c.patch(f"{API}/projects/{pid}", json={"region": REGION_B})  # nor move one out of it
        assert r.status_code == 403 and REGION_A in r.json()["detail"]
    with app.state.session_factory() as session:
        roles = session.scalars(select(RoleGrant.role).where(RoleGrant.user_id == uid)).all()
    assert roles == ["consultant"]


@pytest.mark.parametrize(
    "field, value",
    [
        ("state", "labellisee"),
        ("version", 99),
        ("id", "00000000-0000-4000-8000-000000000001"),
        ("created_at", "2020-01-01T00:00:00Z"),
        ("updated_at", "2020-01-01T00:00:00Z"),
        ("labelled_on", "2026-01-01"),
        ("horizon_on", "2030-01-01"),
    ],
)
def test_state_version_ids_and_timestamps_cannot_be_set_through_a_body(client, field: str, value: object) -> None:
    project = client.post(f"{API}/projects", json=project_body()).json()
    pid = project["id"]
    r = client.patch(f"{API}/projects/{pid}", json={"description": "x", field: value})
    assert r.status_code == 422 and is_problem(r), r.text
    assert field in {e["field"] for e in r.json()["errors"]}
    r = client.post(f"{API}/projects", json=project_body() | {field: value})
    assert r.status_code == 422, r.text
    assert client.get(f"{API}/projects/{pid}").json() == project  # untouched


def test_evidence_ids_cannot_be_set_through_a_body(client) -> None:
    pid = client.post(f"{API}/projects", json=project_body()).json()["id"]
    r = client.post(f"{API}/projects/{pid}/needs", json={"label": "Besoin", "id": 12345})
    assert r.status_code == 422
    r = client.post(f"{API}/projects/{pid}/needs", json={"label": "Besoin", "project_id": str(uuid.uuid4())})
    assert r.status_code == 422
    r = client.post(f"{API}/projects/{pid}/transitions/suspendre", json={"reason": "x", "to_state": "labellisee"})
    assert r.status_code == 422


def test_items_are_reached_only_through_their_own_project(app, client) -> None:
    mine = client.post(f"{API}/projects", json=project_body()).json()["id"]
    theirs = client.post(f"{API}/projects", json=project_body(name="Autre")).json()["id"]
    need = client.post(f"{API}/projects/{theirs}/needs", json={"label": "Le leur"}).json()["id"]
    add_user(app, "pauline@example.fr", [("porteur", uuid.UUID(mine), None)])
    with browser(app) as c:
        login(c, "pauline@example.fr")
        for method, body in (("GET", None), ("PATCH", {"label": "Piraté"}), ("DELETE", None)):
            r = c.request(method, f"{API}/projects/{mine}/needs/{need}", json=body)
            assert r.status_code == 404 and r.json()["code"] == "introuvable", r.text
            r = c.request(method, f"{API}/projects/{theirs}/needs/{need}", json=body)
            assert r.status_code == 404 and r.json()["detail"] == "Projet introuvable.", r.text
    assert client.get(f"{API}/projects/{theirs}/needs/{need}").json()["label"] == "Le leur"
