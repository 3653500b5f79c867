"""Partner API keys: hashed at rest, prefix visible, scopes, restrictions, expiry, revocation, last use;
created and revoked by an admin through the API and the CLI."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from app.accounts.models import ApiKey, User
from app.cli import cli
from tests.support.accounts import PASSWORD, REGION_A, REGION_B, add_user, login
from tests.support.api import API, is_problem, make_key
from tests.support.evidence import project_body

BAD_KEY = "Clé d'API invalide, expirée ou révoquée."


def bearer(app, key: str) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"})


def refused_401(r) -> None:
    assert r.status_code == 401, r.text
    assert is_problem(r) and r.json()["code"] == "authentification_requise"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def admin(app) -> Iterator[TestClient]:
    add_user(app, "admin@example.fr", [("admin", None, None)])
    with TestClient(app, raise_server_exceptions=False) as c:
        login(c, "admin@example.fr")
        yield c


def test_the_database_holds_only_a_hash_of_the_key(app, admin, db) -> None:
    r = admin.post(f"{API}/admin/api-keys", json={"name": "Vilogia", "scopes": ["read", "write"]})
    assert r.status_code == 201, r.text
    created = r.json()
    key, prefix = created["key"], created["prefix"]
    assert key.startswith(prefix + "_") and len(key) > len(prefix) + 20
    with db.begin() as conn:
        rows = [dict(row._mapping) for row in conn.execute(text("SELECT * FROM api_keys"))]
    assert len(rows) == 1
    row = rows[0]
    assert row["prefix"] == prefix
    assert row["secret_hash"] == hashlib.sha256(key.encode()).hexdigest()
    secret = key.split("_", 2)[2]
    for column, value in row.items():
        assert key not in str(value) and secret not in str(value), f"column {column} holds the key"
    # Shown once: the listing never gives the key back, only its prefix.
    listing = admin.get(f"{API}/admin/api-keys").json()
    assert [k["prefix"] for k in listing] == [prefix]
    assert "key" not in listing[0] and key not in admin.get(f"{API}/admin/api-keys").text
    # And the key works, as "key:<prefix>".
    me = bearer(app, key).get(f"{API}/auth/me").json()
    assert me == me | {"kind": "key", "label": f"key:{prefix}", "name": "Vilogia"}


def test_admin_api_creates_lists_and_revokes_keys(app, admin) -> None:
    r = admin.post(
        f"{API}/admin/api-keys",
        json={
            "name": "Ville de Roubaix",
            "scopes": ["read"],
            "regions": [REGION_A],
            "expires_at": "2027-06-30T00:00:00Z",
        },
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert made == made | {
        "scopes": ["read"],
        "regions": [REGION_A],
        "consultant": False,
        "created_by": "user:admin@example.fr",
        "revoked_at": None,
        "last_used_at": None,
    }
    partner = bearer(app, made["key"])
    assert partner.get(f"{API}/projects").status_code == 200
    r = admin.delete(f"{API}/admin/api-keys/{made['id']}")
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    refused_401(partner.get(f"{API}/projects"))
    assert partner.get(f"{API}/projects").json()["detail"] == BAD_KEY
    listed = {k["id"]: k for k in admin.get(f"{API}/admin/api-keys").json()}
    assert listed[made["id"]]["revoked_at"] is not None and listed[made["id"]]["last_used_at"] is not None
    # Bad requests are refused with the field at fault, not stored.
    for body in (
        {"name": "x", "scopes": ["admin"]},
        {"name": "x", "scopes": ["read"], "consultant": True},
        {"name": "x", "scopes": ["read"], "expires_at": "2020-01-01T00:00:00Z"},
        {"name": "x", "scopes": ["read"], "expires_at": "2030-01-01T00:00:00"},
    ):
        r = admin.post(f"{API}/admin/api-keys", json=body)
        assert r.status_code == 422, (body, r.text)
    assert admin.delete(f"{API}/admin/api-keys/999999").status_code == 404


def test_revoked_key_is_refused(app) -> None:
    from app.accounts import service as accounts
    from app.core.unit_of_work import UnitOfWork

    key, row = make_key(app)
    c = bearer(app, key)
    assert c.get(f"{API}/projects").status_code == 200
    with UnitOfWork(app.state.session_factory) as uow:
        accounts.revoke_api_key(uow, key_id=row.id, now=app.state.clock.now())
    refused_401(c.get(f"{API}/projects"))
    refused_401(c.get(f"{API}/auth/me"))


def test_expired_key_is_refused(app, clock) -> None:
    expires = app.state.clock.now() + timedelta(days=1)
    key, _ = make_key(app, expires_at=expires)
    c = bearer(app, key)
    assert c.get(f"{API}/projects").status_code == 200
    clock.set(date(2026, 11, 28))
    r = c.get(f"{API}/projects")
    refused_401(r)
    assert r.json()["detail"] == BAD_KEY


MALFORMED = [
    "Basic dXNlcjpwYXNz",
    "Bearer",
    "Bearer ",
    "Token rf_12345678_abcdefghijklmnopqrstuvwxyz",
    "Bearer not-a-key",
    "Bearer rf_1234_abcdefghijklmnopqrstuvwxyz",
    "Bearer rf_12345678_short",
    "Bearer rf_12345678_" + "a" * 200,
    "Bearer rf_12345678_abcdefghijklmnopqrstuvwxyz extra",
]


def test_malformed_authorization_is_refused(app) -> None:
    with TestClient(app, raise_server_exceptions=False) as c:
        for header in MALFORMED:
            # A broken header is an error, never a downgrade to anonymous.
            for url in (f"{API}/projects", f"{API}/auth/me"):
                r = c.get(url, headers={"Authorization": header})
                assert r.status_code == 401, (header, r.text)
                refused_401(r)


def test_right_prefix_wrong_secret_is_refused(app) -> None:
    _, row = make_key(app)
    forged = f"{row.prefix}_{'x' * 43}"
    with bearer(app, forged) as c:
        r = c.get(f"{API}/projects")
    refused_401(r)
    assert r.json()["detail"] == BAD_KEY


def test_last_used_time_is_recorded(app, clock) -> None:
    key, row = make_key(app)
    assert row.last_used_at is None
    with bearer(app, key) as c:
        assert c.get(f"{API}/projects").status_code == 200
    with app.state.session_factory() as session:
        used = session.get(ApiKey, row.id).last_used_at
    assert used == app.state.clock.now()
    clock.set(date(2026, 11, 27))
    with bearer(app, key) as c:
        assert c.get(f"{API}/projects").status_code == 200
    with app.state.session_factory() as session:
        assert session.get(ApiKey, row.id).last_used_at == app.state.clock.now() > used


def test_read_only_key_cannot_write(app, client) -> None:
    pid = client.post(f"{API}/projects", json=project_body()).json()["id"]
    key, _ = make_key(app, scopes=("read",), consultant=False)
    with bearer(app, key) as c:
        assert c.get(f"{API}/projects/{pid}").status_code == 200
        r = c.patch(f"{API}/projects/{pid}", json={"description": "non"})
        assert r.status_code == 403 and r.json()["detail"] == "Votre rôle ne permet que la consultation de ce projet."
        assert c.post(f"{API}/projects", json=project_body()).status_code == 403


def test_region_restricted_key_sees_and_creates_only_in_its_regions(app, client) -> None:
    inside = client.post(f"{API}/projects", json=project_body(REGION_A)).json()["id"]
    outside = client.post(f"{API}/projects", json=project_body(REGION_B)).json()["id"]
    key, _ = make_key(app, regions=[REGION_A], consultant=False)
    with bearer(app, key) as c:
        assert [p["id"] for p in c.get(f"{API}/projects").json()["items"]] == [inside]
        assert c.get(f"{API}/projects", params={"region": REGION_B}).json()["total"] == 0
        assert c.get(f"{API}/projects/{inside}").status_code == 200
        for url in (
            f"{API}/projects/{outside}",
            f"{API}/projects/{outside}/events",
            f"{API}/projects/{outside}/stakeholders",
        ):
            r = c.get(url)
            assert r.status_code == 404 and r.json()["detail"] == "Projet introuvable.", url
        r = c.post(f"{API}/projects/{outside}/needs", json={"label": "Besoin"})
        assert r.status_code == 404
        r = c.post(f"{API}/projects", json=project_body(REGION_B))
        assert r.status_code == 403 and REGION_A in r.json()["detail"]
        r = c.post(f"{API}/projects", json=project_body(REGION_A, name="Régie nouvelle"))
        assert r.status_code == 201
        assert c.get(f"{API}/projects/{r.json()['id']}").status_code == 200
        # Nor can it move one of its projects out of its regions (that would be creating it elsewhere).
        moved = c.patch(f"{API}/projects/{inside}", json={"region": REGION_B})
        assert moved.status_code == 403 and REGION_A in moved.json()["detail"]
        assert c.get(f"{API}/projects/{inside}").json()["region"] == REGION_A
        assert c.patch(f"{API}/projects/{inside}", json={"region": REGION_A, "name": "Renommée"}).status_code == 200


def test_project_restricted_key_reaches_only_its_project(app, client) -> None:
    mine = client.post(f"{API}/projects", json=project_body(REGION_A)).json()["id"]
    theirs = client.post(f"{API}/projects", json=project_body(REGION_A, name="Autre")).json()["id"]
    key, _ = make_key(app, project_ids=[uuid.UUID(mine)], consultant=False)
    with bearer(app, key) as c:
        assert [p["id"] for p in c.get(f"{API}/projects").json()["items"]] == [mine]
        assert c.get(f"{API}/projects/{theirs}").status_code == 404
        assert c.post(f"{API}/projects/{mine}/needs", json={"label": "Besoin"}).status_code == 201
        assert c.post(f"{API}/projects", json=project_body(REGION_A)).status_code == 403


# --- the command line (its own connections: cli_env commits for real) ------------------------------
def test_cli_users_create_makes_the_first_admin(app, cli_env: CliRunner) -> None:
    r = cli_env.invoke(
        cli,
        ["users", "create", "--email", "Premiere.Admin@example.fr", "--name", "Première admin", "--role", "admin"],
        env={"REGIEFLOW_NEW_PASSWORD": PASSWORD},
    )
    assert r.exit_code == 0, r.output
    assert "premiere.admin@example.fr" in r.output and PASSWORD not in r.output
    with TestClient(app, raise_server_exceptions=False) as c:
        me = login(c, "premiere.admin@example.fr")
        assert me["is_admin"] is True and me["roles"] == ["admin"]
        assert c.get(f"{API}/admin/users").status_code == 200
    with app.state.session_factory() as session:
        user = session.scalars(select(User)).one()
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    # The same e-mail twice, a short password, a porteur without project: refused, exit code 2.
    for args, password in (
        (["--email", "premiere.admin@example.fr", "--name", "Bis", "--role", "admin"], PASSWORD),
        (["--email", "b@example.fr", "--name", "B", "--role", "admin"], "court"),
        (["--email", "c@example.fr", "--name", "C", "--role", "porteur"], PASSWORD),
    ):
        r = cli_env.invoke(cli, ["users", "create", *args], env={"REGIEFLOW_NEW_PASSWORD": password})
        assert r.exit_code == 2, (args, r.output)


def test_cli_regional_consultant(app, cli_env: CliRunner, client) -> None:
    pid = client.post(f"{API}/projects", json=project_body(REGION_B)).json()["id"]
    r = cli_env.invoke(
        cli,
        [
            "users",
            "create",
            "--email",
            "conseil@example.fr",
            "--name",
            "Conseil",
            "--role",
            "consultant",
            "--region",
            REGION_A,
        ],
        env={"REGIEFLOW_NEW_PASSWORD": PASSWORD},
    )
    assert r.exit_code == 0, r.output
    with TestClient(app, raise_server_exceptions=False) as c:
        login(c, "conseil@example.fr")
        assert c.get(f"{API}/projects/{pid}").status_code == 404
        assert c.post(f"{API}/projects", json=project_body(REGION_A)).status_code == 201


def test_cli_keys_create_list_revoke(app, cli_env: CliRunner, client, db) -> None:
    pid = client.post(f"{API}/projects", json=project_body(REGION_A)).json()["id"]
    r = cli_env.invoke(
        cli,
        [
            "keys",
            "create",
            "--name",
            "Vilogia – suivi",
            "--scope",
            "read",
            "--scope",
            "write",
            "--region",
            REGION_A,
            "--expires-in-days",
            "30",
        ],
    )
    assert r.exit_code == 0, r.output
    key = r.output.strip().splitlines()[-1]
    prefix = key[:11]  # rf_ + 8 hex digits
    assert key.startswith("rf_") and f"Key {prefix} created" in r.output
    with db.begin() as conn:
        stored = conn.execute(text("SELECT prefix, secret_hash FROM api_keys WHERE prefix = :p"), {"p": prefix}).one()
    assert stored.secret_hash == hashlib.sha256(key.encode()).hexdigest()

    with bearer(app, key) as c:
        assert c.get(f"{API}/projects/{pid}").status_code == 200
        assert c.post(f"{API}/projects/{pid}/needs", json={"label": "Besoin"}).status_code == 201
        r = c.post(
            f"{API}/projects/{pid}/expertises",
            json={"conducted_on": "2026-11-01", "experts": ["X"], "conclusion": "favorable"},
        )
        assert r.status_code == 403  # not a consultant key

    listing = cli_env.invoke(cli, ["keys", "list"])
    assert listing.exit_code == 0, listing.output
    line = next(x for x in listing.output.splitlines() if x.startswith(prefix))
    assert "Vilogia" in line and "scopes=read,write" in line and "expires" in line and key not in listing.output
    assert "last used never" not in line  # it was just used

    r = cli_env.invoke(cli, ["keys", "revoke", prefix])
    assert r.exit_code == 0 and f"Key {prefix} revoked." in r.output
    with bearer(app, key) as c:
        refused_401(c.get(f"{API}/projects/{pid}"))
    assert "revoked" in cli_env.invoke(cli, ["keys", "list"]).output
    assert cli_env.invoke(cli, ["keys", "revoke", "rf_00000000"]).exit_code == 2
    assert cli_env.invoke(cli, ["keys", "create", "--name", "x", "--scope", "admin"]).exit_code == 2
    assert cli_env.invoke(cli, ["keys", "create", "--name", "x", "--project", "pas-un-uuid"]).exit_code == 2


def test_cli_consultant_key_records_the_label(app, cli_env: CliRunner, client) -> None:
    r = cli_env.invoke(cli, ["keys", "create", "--name", "Mouvement", "--scope", "write", "--consultant"])
    assert r.exit_code == 0, r.output
    key = r.output.strip().splitlines()[-1]
    pid = client.post(f"{API}/projects", json=project_body()).json()["id"]
    with bearer(app, key) as c:
        r = c.post(
            f"{API}/projects/{pid}/expertises",
            json={"conducted_on": "2026-11-01", "experts": ["X"], "conclusion": "favorable"},
        )
        assert r.status_code == 201, r.text
        assert c.get(f"{API}/projects/{pid}/events").json()["items"][-1]["actor"] == f"key:{key[:11]}"
