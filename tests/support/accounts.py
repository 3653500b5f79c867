"""People: users with role grants, logins, a person's browser, and cheap password hashing for tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from functools import cache
from typing import Any

import pytest
from argon2 import PasswordHasher

from app.core import security

API = "/api/v1"
PASSWORD = "un mot de passe solide 42"
REGION_A = "Hauts-de-France"
REGION_B = "Bretagne"

REAL_HASHER = security._hasher  # what the application uses; tests/accounts/test_people.py checks its parameters
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # still argon2id

Grants = Iterable[tuple[str, uuid.UUID | str | None, str | None]]


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with tiny parameters: each login would otherwise cost ~0.2 s of CPU.

    Autouse where it is imported: the conftest.py of each folder whose tests log people in."""
    monkeypatch.setattr(security, "_hasher", FAST_HASHER)
    monkeypatch.setattr(security, "_dummy_hash", lambda: _fast_dummy_hash())


@cache
def _fast_dummy_hash() -> str:
    return FAST_HASHER.hash("regieflow: a password nobody has")


@cache
def password_hash() -> str:
    """One argon2id hash of PASSWORD for the whole run."""
    return FAST_HASHER.hash(PASSWORD)


def add_user(app: Any, email: str, grants: Grants = (), *, name: str | None = None) -> tuple[int, list[int]]:
    """Insert a user whose password is PASSWORD, with role grants; returns (user id, grant ids)."""
    from app.accounts.models import RoleGrant, User

    with app.state.session_factory() as session:
        user = User(
            email=email,
            name=name or email.split("@")[0],
            password_hash=password_hash(),
            created_at=app.state.clock.now(),
            active=True,
            grants=[RoleGrant(role=r, project_id=p, region=g) for r, p, g in grants],
        )
        session.add(user)
        session.commit()
        return user.id, [g.id for g in user.grants]


def login(client: Any, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """Log in through the API; the client keeps the cookie and sends X-CSRF-Token from now on."""
    r = client.post(f"{API}/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    body = r.json()
    client.headers["X-CSRF-Token"] = body["csrf_token"]
    return body


def browser(
    app: Any,
    email: str | None = None,
    grants: Grants | None = None,
    *,
    password: str = PASSWORD,
    login_page: bool = False,
    base_url: str = "http://testserver",
) -> Any:
    """A person's browser on `app`: a TestClient with no API key that does not follow redirects and
    answers server errors as pages. Use it as a context manager (`with browser(app, …) as c:`).

    `grants`: first create the user `email` (password PASSWORD) with these role grants.
    `email`: then log in, through the API (the default: one request) or through the login page like a
    browser (`login_page=True`: its CSRF cookie and hidden field). `c.csrf` is the session's CSRF token
    after an API login; no X-CSRF-Token header is kept, since a browser posting a form sends none."""
    from fastapi.testclient import TestClient

    if grants is not None:
        assert email, "grants need the user's email"
        add_user(app, email, grants)
    c = TestClient(app, raise_server_exceptions=False, follow_redirects=False, base_url=base_url)
    c.csrf = None  # type: ignore[attr-defined]
    if email and login_page:
        from tests.support.html import page_login

        page_login(c, email, password)
    elif email:
        c.csrf = login(c, email, password)["csrf_token"]  # type: ignore[attr-defined]
        del c.headers["X-CSRF-Token"]
    return c
