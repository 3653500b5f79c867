"""Webhook secrets at rest (issue 11, §3): encrypted in the database with a key derived from the server
key, still signing deliveries that the receiver verifies, re-encrypted after a key rotation while the
previous key still reads them, a clear failure when no key decrypts them, and migration 0004 encrypting
the secrets stored in clear before it (and decrypting them on downgrade), on both databases."""

from __future__ import annotations

import base64
import logging
import os
import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from cryptography.fernet import InvalidToken
from pydantic import SecretStr
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.core.keys import fernet
from app.core.migrate import alembic_config, upgrade
from app.core.settings import Settings, get_settings
from app.webhooks import service as wh
from tests.support.api import API, create_project
from tests.support.webhooks import deliveries, subscribe, worker

OTHER_KEY = "another-server-key-" + "x" * 32


NEW_KEY = "the-new-server-key-" + "y" * 32


def _tokens(app) -> list[str]:
    """The `secret` column as stored, oldest row first (raw SQL: no model in between)."""
    with app.state.session_factory() as session:
        return list(session.execute(text("SELECT secret FROM webhook_secrets ORDER BY id")).scalars())


def _with_keys(settings: Settings, current: str, *previous: str) -> Settings:
    return settings.model_copy(
        update={"secret_key": SecretStr(current), "previous_secret_keys": [SecretStr(k) for k in previous]}
    )


def _deliver(app, settings: Settings | None = None) -> tuple[int, int]:
    """Fan out and send what is due with a worker on `settings` (the server's by default); (attempted,
    succeeded)."""
    with worker(app) as w:
        if settings is not None:
            w.settings = settings
        w.fan_out()
        attempted, succeeded, _ = w.deliver_due()
    return attempted, succeeded


def test_the_database_holds_no_clear_secret_and_deliveries_still_verify(
    loopback, client, receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sub = subscribe(client, receiver.url)
    first = sub["secret"]
    second = client.post(f"{API}/webhooks/{sub['id']}/rotate-secret").json()["secret"]
    tokens = _tokens(loopback)
    assert len(tokens) == 2
    for token, secret in zip(tokens, (first, second), strict=True):
        assert secret not in token and secret.removeprefix("whsec_") not in token
        assert base64.b64decode(secret.removeprefix("whsec_")).hex() not in token
        assert fernet(loopback.state.settings).decrypt(token.encode()).decode() == secret  # a Fernet token of it
    for row in client.get(f"{API}/webhooks/{sub['id']}").json()["secrets"]:
        assert set(row) == {"id", "created_at", "expires_at"}

    create_project(client)
    assert _deliver(loopback) == (1, 1)
    [request] = receiver.requests
    assert Webhook(first).verify(request["body"], request["headers"]) == Webhook(second).verify(
        request["body"], request["headers"]
    )
    assert first not in caplog.text and second not in caplog.text
    assert tokens[0] not in caplog.text


def test_a_rotated_secret_no_key_reads_is_left_out_but_the_current_one_must_decrypt(loopback, client, receiver) -> None:
    sub = subscribe(client, receiver.url)
    old = sub["secret"]
    new = client.post(f"{API}/webhooks/{sub['id']}/rotate-secret").json()["secret"]
    stranger = fernet(_with_keys(loopback.state.settings, OTHER_KEY))
    with loopback.state.session_factory() as session:  # the rotated secret was made under a dropped key
        first_id = session.execute(text("SELECT min(id) FROM webhook_secrets")).scalar_one()
        session.execute(
            text("UPDATE webhook_secrets SET secret = :t WHERE id = :i"),
            {"t": stranger.encrypt(old.encode()).decode(), "i": first_id},
        )
        session.commit()
    create_project(client)
    assert _deliver(loopback) == (1, 1)
    request = receiver.requests[-1]
    assert len(request["headers"]["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(request["body"], request["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(request["body"], request["headers"])


def test_a_secret_no_key_decrypts_fails_the_attempt_with_a_french_reason(loopback, client, receiver) -> None:
    sub = subscribe(client, receiver.url)
    create_project(client)
    wrong = _with_keys(loopback.state.settings, OTHER_KEY)
    assert _deliver(loopback, wrong) == (1, 0)  # no exception, no crash of the worker
    assert receiver.requests == []  # nothing sent without a signature
    [d] = deliveries(client, sub["id"])
    assert d["status"] == "pending" and d["last_status_code"] is None  # retried on the schedule
    assert d["last_error"].startswith("Le secret de signature ne se déchiffre avec aucune clé du serveur")
    assert f"/api/v1/webhooks/{sub['id']}/rotate-secret" in d["last_error"]
    [attempt] = client.get(f"{API}/webhooks/deliveries/{d['id']}/attempts").json()["attempts"]
    assert attempt["error"] == d["last_error"] and attempt["response_excerpt"] is None

    # the right key back (here as a previous key): the retry goes through and verifies
    loopback.state.clock.advance(seconds=5)
    assert _deliver(loopback, _with_keys(loopback.state.settings, OTHER_KEY, os.environ["REGIEFLOW_SECRET_KEY"])) == (
        1,
        1,
    )
    Webhook(sub["secret"]).verify(receiver.requests[0]["body"], receiver.requests[0]["headers"])


def test_an_unreadable_server_key_fails_the_attempt_without_detail(loopback, client, receiver, tmp_path) -> None:
    sub = subscribe(client, receiver.url)
    create_project(client)
    broken = loopback.state.settings.model_copy(update={"secret_key": None, "secret_key_file": tmp_path})  # a directory
    assert _deliver(loopback, broken) == (1, 0)
    assert receiver.requests == []
    [d] = deliveries(client, sub["id"])
    assert d["status"] == "pending" and d["last_error"] == (
        "La clé du serveur est indisponible : rien n'a été envoyé (nouvel essai selon le calendrier ; "
        "le détail est dans le journal du serveur)."
    )
    assert str(tmp_path) not in d["last_error"]


@pytest.mark.usefixtures("committed_db")
def test_key_rotation_reencrypts_every_secret(loopback, client, receiver, cli_env, monkeypatch) -> None:
    """The documented procedure: the new key in REGIEFLOW_SECRET_KEY, the old one in
    REGIEFLOW_PREVIOUS_SECRET_KEYS (deliveries keep working), `regieflow webhooks rotate-secrets`, then
    the old key dropped (deliveries still work); a secret no key reads is reported, exit code 1."""
    from app.cli import cli

    old_key = os.environ["REGIEFLOW_SECRET_KEY"]
    subs = [subscribe(client, receiver.url), subscribe(client, receiver.url + "/bis")]
    current = {receiver.url: client.post(f"{API}/webhooks/{subs[0]['id']}/rotate-secret").json()["secret"]}
    current[receiver.url + "/bis"] = subs[1]["secret"]
    before = _tokens(loopback)
    assert len(before) == 3

    during = _with_keys(loopback.state.settings, NEW_KEY, old_key)
    create_project(client)
    assert _deliver(loopback, during) == (2, 2)  # the previous key still reads them

    monkeypatch.setenv("REGIEFLOW_SECRET_KEY", NEW_KEY)
    monkeypatch.setenv("REGIEFLOW_PREVIOUS_SECRET_KEYS", old_key)
    get_settings.cache_clear()
    result = cli_env.invoke(cli, ["webhooks", "rotate-secrets"])
    assert result.exit_code == 0, result.output
    assert "3 webhook secret(s) re-encrypted" in result.stdout
    after = _tokens(loopback)
    only_new, only_old = fernet(_with_keys(during, NEW_KEY)), fernet(_with_keys(during, old_key))
    for old_token, new_token in zip(before, after, strict=True):
        assert new_token != old_token
        assert only_new.decrypt(new_token.encode()) == only_old.decrypt(old_token.encode())
        with pytest.raises(InvalidToken):
            only_old.decrypt(new_token.encode())

    create_project(client, name="Régie après la rotation")
    receiver.requests.clear()
    assert _deliver(loopback, _with_keys(during, NEW_KEY)) == (2, 2)  # the old key is gone
    assert sorted(r["path"] for r in receiver.requests) == ["/hooks/regieflow", "/hooks/regieflow/bis"]
    for request in receiver.requests:
        url = receiver.url + ("/bis" if request["path"].endswith("/bis") else "")
        Webhook(current[url]).verify(request["body"], request["headers"])

    monkeypatch.setenv("REGIEFLOW_SECRET_KEY", OTHER_KEY)  # a key that reads none of them
    monkeypatch.delenv("REGIEFLOW_PREVIOUS_SECRET_KEYS")
    get_settings.cache_clear()
    result = cli_env.invoke(cli, ["webhooks", "rotate-secrets"])
    assert result.exit_code == 1, result.output
    assert f"subscription(s) {subs[0]['id']}, {subs[1]['id']} hold a secret that no server key decrypts" in (
        result.stderr
    )
    assert _tokens(loopback) == after  # left as they were


@pytest.mark.usefixtures("committed_db")
def test_rotate_secrets_without_a_readable_key_is_one_line(cli_env, monkeypatch, tmp_path) -> None:
    from app.cli import cli
    from tests.fixtures.cli import error_line

    monkeypatch.delenv("REGIEFLOW_SECRET_KEY")
    monkeypatch.setenv("REGIEFLOW_SECRET_KEY_FILE", str(tmp_path))  # a directory: no key can be read there
    get_settings.cache_clear()
    line = error_line(cli_env.invoke(cli, ["webhooks", "rotate-secrets"]))
    assert line.startswith("Error: Clé du serveur illisible dans "), line


# --- migration 0004 ------------------------------------------------------------------------------------
def _scratch_database(database_url: str, tmp_path) -> str:
    from app.core.database import is_sqlite
    from tests.fixtures.database import postgres_database

    if is_sqlite(database_url):
        return f"sqlite:///{tmp_path / 'migration-0004.db'}"
    return postgres_database(database_url, f"wh0004_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")


def _seed_at_0003(engine: sa.Engine, secret: str) -> None:
    """One project, event, subscription (with a clear secret), delivery and two attempts, as 0003 stored them."""
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    meta = sa.MetaData()
    names = ("projects", "events", "webhook_subscriptions", "webhook_secrets", "webhook_deliveries", "webhook_attempts")
    uuids = {"projects": sa.Column("id", sa.Uuid, primary_key=True), "events": sa.Column("project_id", sa.Uuid)}
    t = {
        name: sa.Table(name, meta, *[c for n, c in uuids.items() if n == name], autoload_with=engine) for name in names
    }
    pid = uuid.uuid4()
    day = date(2026, 1, 5)
    with engine.begin() as conn:
        conn.execute(
            t["projects"]
            .insert()
            .values(
                id=pid,
                name="Régie",
                kind="regie_de_quartier",
                region="Bretagne",
                conventionnement="aucun",
                state="groupe_projet",
                started_on=day,
                state_entered_on=day,
                last_transition_on=day,
                step_months={},
                horizon_months=36,
                horizon_on=date(2029, 1, 5),
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            t["events"].insert().values(id=1, project_id=pid, seq=1, type="project.created", recorded_at=now, data={})
        )
        conn.execute(
            t["webhook_subscriptions"]
            .insert()
            .values(
                id=1,
                owner="key:rf_x",
                url="https://example.org/hook",
                event_types=[],
                enabled=True,
                consecutive_failures=0,
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(t["webhook_secrets"].insert().values(id=1, subscription_id=1, secret=secret, created_at=now))
        conn.execute(
            t["webhook_deliveries"]
            .insert()
            .values(
                id=1, subscription_id=1, event_id=1, message_id="msg_1", status="pending", attempts=2, created_at=now
            )
        )
        for attempt_id, status, excerpt in ((1, 500, "root:x:0:0 interne"), (2, 200, "merci")):
            conn.execute(
                t["webhook_attempts"]
                .insert()
                .values(
                    id=attempt_id,
                    delivery_id=1,
                    attempted_at=now,
                    status_code=status,
                    duration_ms=5,
                    response_excerpt=excerpt,
                )
            )


def test_migration_0004_encrypts_clear_secrets_and_downgrade_decrypts(
    database_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.database import make_engine

    url = _scratch_database(database_url, tmp_path)
    secret = wh.new_secret()
    get_settings.cache_clear()
    upgrade(url, "0003")
    engine = make_engine(url)
    try:
        _seed_at_0003(engine, secret)
        upgrade(url, "0004")
        with engine.connect() as conn:
            [token] = conn.execute(text("SELECT secret FROM webhook_secrets")).scalars()
            excerpts = dict(conn.execute(text("SELECT status_code, response_excerpt FROM webhook_attempts")).all())
        assert token != secret and secret.removeprefix("whsec_") not in token and len(token) > 100
        assert fernet(get_settings()).decrypt(token.encode()).decode() == secret  # the server's key reads it
        assert excerpts == {500: None, 200: "merci"}  # what a failing target said is gone

        command.downgrade(alembic_config(url), "0003")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT secret FROM webhook_secrets")).scalar_one() == secret

        upgrade(url, "0004")
        monkeypatch.setenv("REGIEFLOW_SECRET_KEY", OTHER_KEY)  # not the key that encrypted them
        get_settings.cache_clear()
        with pytest.raises(RuntimeError, match="does not decrypt with REGIEFLOW_SECRET_KEY"):
            command.downgrade(alembic_config(url), "0003")
        with engine.connect() as conn:  # refused as a whole: still encrypted, still at 0004
            assert conn.execute(text("SELECT secret FROM webhook_secrets")).scalar_one() != secret
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0004"
    finally:
        engine.dispose()
        get_settings.cache_clear()
