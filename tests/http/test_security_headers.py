"""Security headers on pages and API answers; what answers without credentials; secrets never logged."""

from __future__ import annotations

import logging
import re
import uuid

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from app.authorization.rules import RULES
from app.http.application import API_PREFIX, api_routes
from tests.support.accounts import PASSWORD, add_user, login
from tests.support.api import API, is_problem, make_key, served_routes
from tests.support.evidence import project_body


def csp_directives(value: str) -> dict[str, list[str]]:
    out = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def assert_page_headers(r) -> None:
    csp = csp_directives(r.headers["Content-Security-Policy"])
    scripts = csp.get("script-src", csp.get("default-src"))
    assert scripts and "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, csp
    assert "'unsafe-inline'" not in csp.get("default-src", [])
    assert csp["frame-ancestors"] == ["'none'"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] in (
        "same-origin",
        "no-referrer",
        "strict-origin-when-cross-origin",
        "strict-origin",
    )


def test_pages_send_a_strict_content_security_policy(app) -> None:
    add_user(app, "ana@example.fr", [("admin", None, None)])
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as c:
        page = c.get("/connexion")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert_page_headers(page)
        login(c, "ana@example.fr")
        assert c.get("/").headers["location"] == "/projets"  # an admin's home is the portfolio
        home = c.get("/projets")
        assert home.status_code == 200
        assert_page_headers(home)
        for html in (page.text, home.text):
            # Nothing inline for the policy to block: no inline script, handler or style.
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), html
            assert not re.search(r"\son[a-z]+\s*=", html) and " style=" not in html
        # The API answers carry them as well.
        for r in (c.get(f"{API}/health"), c.get(f"{API}/projects"), c.get(f"{API}/projects/nope")):
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_anonymous_reaches_only_the_login_page_health_and_openapi(app, anon_client) -> None:
    """Walk every route of the application without credentials: which ones answer 2xx?"""
    answered, refused = set(), set()
    routes = served_routes(app)
    served_api = sorted((r.name, path) for path, r in routes if path.startswith(API_PREFIX + "/"))
    assert served_api == sorted((r.name, API_PREFIX + r.path) for r in api_routes())
    for full_path, route in routes:
        if isinstance(route, Mount):
            path = f"{full_path}/regieflow.css"
            methods = {"GET"}
        else:
            path = re.sub(r"\{project_id\}", str(uuid.uuid4()), re.sub(r"\{(?!project_id)[^}]+\}", "1", full_path))
            methods = set(getattr(route, "methods", None) or {"GET"}) - {"HEAD"}
        for method in methods:
            r = anon_client.request(method, path, follow_redirects=False)
            if 200 <= r.status_code < 300:
                answered.add((method, full_path))
            if full_path.startswith(API_PREFIX + "/") and RULES[route.name].need != "public":
                assert r.status_code == 401 and is_problem(r), (method, path, r.status_code)
                assert r.json()["code"] == "authentification_requise"
                assert r.headers["WWW-Authenticate"].startswith("Bearer")
                refused.add(route.name)
    assert answered == {
        ("GET", "/connexion"),
        ("GET", "/mot-de-passe-oublie"),  # the forgotten-password form (its POST needs the form's CSRF token)
        (("GET", f"{API_PREFIX}/health")),
        ("GET", f"{API_PREFIX}/health/live"),  # the platform's probes and metrics (app.observability)
        ("GET", f"{API_PREFIX}/health/ready"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),  # the documentation of the API, and its start-up script (app.http.docs)
        ("GET", "/docs/init.js"),
        ("GET", "/static"),  # the login page's style sheet
    }, answered
    assert refused == {r.name for r in api_routes() if RULES[r.name].need != "public"}  # every API route: 401
    assert anon_client.get("/", follow_redirects=False).headers["location"] == "/connexion"


# SQLAlchemy decides whether a connection logs its SQL when the connection opens, and this test turns the
# logging on in its body: its sessions need connections of their own, opened after (committed_db).
@pytest.mark.usefixtures("committed_db")
def test_secrets_never_reach_the_logs(app, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")  # even the SQL and its parameters
    add_user(app, "ana@example.fr", [("admin", None, None)])
    key, _ = make_key(app)
    secrets: list[str] = [PASSWORD, key, key.split("_", 2)[2]]
    with TestClient(app, raise_server_exceptions=False) as c:
        wrong = "un mauvais mot de passe 9"
        secrets.append(wrong)
        assert c.post(f"{API}/auth/login", json={"email": "ana@example.fr", "password": wrong}).status_code == 401
        login(c, "ana@example.fr")
        secrets.append(c.cookies.get("regieflow_session"))
        new_password = "le mot de passe d'Olivier 3"
        secrets.append(new_password)
        r = c.post(
            f"{API}/admin/users", json={"email": "olivier@example.fr", "name": "Olivier", "password": new_password}
        )
        assert r.status_code == 201, r.text
        r = c.post(f"{API}/admin/api-keys", json={"name": "Partenaire", "scopes": ["read"]})
        assert r.status_code == 201
        secrets.append(r.json()["key"])
        # A refused body is not echoed back (nor logged) with the secrets it carries.
        r = c.post(f"{API}/auth/login", json={"email": "ana@example.fr", "password": PASSWORD, "x": key})
        assert r.status_code == 422 and PASSWORD not in r.text and key not in r.text
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as page:
        token = re.search(r'name="csrf" value="([^"]+)"', page.get("/connexion").text).group(1)
        r = page.post("/connexion", data={"email": "ana@example.fr", "password": PASSWORD, "csrf": token})
        assert r.status_code == 303
        secrets.append(page.cookies.get("regieflow_session"))
    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"}) as partner:
        assert partner.post(f"{API}/projects", json=project_body()).status_code == 201
        assert partner.get(f"{API}/projects").status_code == 200
    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}x"}) as forged:
        assert forged.get(f"{API}/projects").status_code == 401
    text = caplog.text
    assert "INSERT INTO api_keys" in text and "web_sessions" in text  # the SQL was logged, parameters too
    for secret in secrets:
        assert secret and secret not in text, "a secret reached the logs"
