"""Full export and import: export → import into a fresh database → export is byte-identical, the
imported database verifies clean and keeps working, volatile tables stay out, and an import only
goes into an empty database."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

import pytest
from cryptography.fernet import InvalidToken
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from app.core.database import Base, make_engine, make_session_factory
from app.core.keys import fernet
from app.core.unit_of_work import UnitOfWorkFactory
from app.exchange import dump
from app.feed.models import FeedCounter
from app.idempotency.models import IdempotencyRecord
from app.projects.models import Event
from app.transitions.verify import verify
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSecret, WebhookSubscription
from app.webhooks.service import encrypt_secret
from tests.fixtures.database import sibling_database, truncate
from tests.support.accounts import add_user, login
from tests.support.api import API, project_at, satisfy

WEBHOOK_SECRET = "whsec_" + "a" * 44


PLAN = {"groupe_projet": 3, "contours": 5, "faisabilite": 8, "validation": 3, "prefiguration": 12, "expertise": 6}


@pytest.fixture(scope="module")
def _fresh_database(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A second migrated database of the same kind as the suite's, for the module (migrating is slow)."""
    return sibling_database(database_url, "fresh", tmp_path_factory)


@pytest.fixture
def fresh_url(_fresh_database: str) -> str:
    """That database, emptied: as `regieflow db upgrade` leaves a new one."""
    engine = make_engine(_fresh_database)
    try:
        truncate(engine)
    finally:
        engine.dispose()
    return _fresh_database


def _rich_database(app, client: TestClient) -> None:
    """Every kind of row the dump must carry, through the API where there is one."""
    labelled = project_at(client, "labellisee", start=date(2023, 2, 1), name="Régie « labellisée »")
    busy = project_at(
        client,
        "faisabilite",
        start=date(2025, 3, 3),
        name="Régie suspendue puis reprise",
        region="Bretagne",
        lead_name="Zoé",
        description='Texte\nsur deux lignes, avec des ; et des "',
    )
    pid = busy["id"]
    assert (
        client.post(
            f"{API}/projects/{pid}/transitions/suspendre", json={"reason": "Élections", "effective_on": "2026-03-02"}
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"{API}/projects/{pid}/transitions/reprendre", json={"reason": "Reprise", "effective_on": "2026-05-04"}
        ).status_code
        == 200
    )
    r = client.put(f"{API}/projects/{pid}/plan", json={"step_months": PLAN, "horizon_months": 40, "reason": "Retard"})
    assert r.status_code == 200, r.text
    satisfy(client, pid, "faisabilite", date(2026, 6, 1))
    project_at(client, "groupe_projet", start=date(2026, 11, 2), name="Régie naissante")
    user_id, _ = add_user(
        app, "porteuse@example.fr", [("porteur", uuid.UUID(pid), None), ("observateur", None, "Occitanie")]
    )
    add_user(app, "admin@example.fr", [("admin", None, None)])
    with TestClient(app, raise_server_exceptions=False) as c:  # a session and a throttle row: volatile
        assert (
            c.post(f"{API}/auth/login", json={"email": "x@example.fr", "password": "faux mot de passe"}).status_code
            == 401
        )
        login(c, "porteuse@example.fr")
        assert c.post(f"{API}/calendars", json={"project_id": pid}).status_code == 201
    assert client.post(f"{API}/calendars", json={}).status_code == 201
    revoked = client.post(f"{API}/calendars", json={"project_id": labelled["id"]}).json()
    assert client.delete(f"{API}/calendars/{revoked['id']}").status_code == 204
    now = app.state.clock.now()
    with app.state.session_factory() as session:
        event_id = session.scalar(select(func.min(Event.id)))
        sub = WebhookSubscription(
            owner="user:porteuse@example.fr",
            user_id=user_id,
            url="https://example.org/hook",
            event_types=["project.transitioned"],
            description="Suivi",
            created_at=now,
            updated_at=now,
            enabled=True,
            consecutive_failures=0,
            secrets=[
                WebhookSecret(
                    secret=encrypt_secret(fernet(app.state.settings), WEBHOOK_SECRET),
                    created_at=now,
                    expires_at=now + timedelta(days=1),
                )
            ],
        )
        session.add(sub)
        session.flush()
        delivery = WebhookDelivery(
            subscription_id=sub.id,
            event_id=event_id,
            message_id="msg_1",
            status="failed",
            attempts=1,
            created_at=now,
            last_attempt_at=now,
            last_status_code=500,
        )
        session.add(delivery)
        session.flush()
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                attempted_at=now,
                status_code=500,
                duration_ms=12,
                error="HTTP 500",
                response_excerpt="oops",
            )
        )
        session.add(
            IdempotencyRecord(
                caller="key:rf_x",
                key="k1",
                method="POST",
                path="/api/v1/projects",
                body_hash="0" * 64,
                state="done",
                response_status=201,
                created_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
        session.commit()


def test_export_import_export_is_byte_identical_and_verifies(app, client: TestClient, fresh_url: str) -> None:
    _rich_database(app, client)
    first = dump.export_json(UnitOfWorkFactory(app.state.session_factory))
    doc = json.loads(first)
    tables = {t["name"]: t for t in doc["tables"]}
    assert doc["format"] == "regieflow-dump" and doc["schema_revision"]
    assert set(doc["excluded"]) == {"web_sessions", "login_throttles", "idempotency_keys", "worker_heartbeats"}
    assert not set(tables) & dump.EXCLUDED
    assert set(tables) == {t.name for t in Base.metadata.sorted_tables} - dump.EXCLUDED
    for name in (
        "projects",
        "events",
        "outbox",
        "suspensions",
        "replans",
        "users",
        "role_grants",
        "api_keys",
        "calendar_tokens",
        "webhook_subscriptions",
        "webhook_secrets",
        "webhook_deliveries",
        "webhook_attempts",
        "feed_counter",
        "stakeholders",
        "approvals",
        "expertises",
    ):
        assert tables[name]["rows"], f"the test database should hold {name}"
    events = [dict(zip(tables["events"]["columns"], r, strict=True)) for r in tables["events"]["rows"]]
    assert all(e["hash"] and e["feed_seq"] for e in events)
    users = [dict(zip(tables["users"]["columns"], r, strict=True)) for r in tables["users"]["rows"]]
    assert all(u["password_hash"].startswith("$argon2id$") for u in users)
    keys = [dict(zip(tables["api_keys"]["columns"], r, strict=True)) for r in tables["api_keys"]["rows"]]
    assert all(len(k["secret_hash"]) == 64 for k in keys)
    assert "\n" in first and first.endswith("\n") and first.count("\n") > len(events)  # one row per line
    # Webhook secrets travel encrypted, as the database keeps them: readable with the server's key only.
    secrets = [
        dict(zip(tables["webhook_secrets"]["columns"], r, strict=True)) for r in tables["webhook_secrets"]["rows"]
    ]
    assert WEBHOOK_SECRET not in first and WEBHOOK_SECRET.removeprefix("whsec_") not in first
    assert [fernet(app.state.settings).decrypt(s["secret"].encode()).decode() for s in secrets] == [WEBHOOK_SECRET]
    stranger = app.state.settings.model_copy(update={"secret_key": SecretStr("z" * 40), "previous_secret_keys": []})
    with pytest.raises(InvalidToken):  # another server's key reads nothing
        fernet(stranger).decrypt(secrets[0]["secret"].encode())

    fresh = make_engine(fresh_url)
    try:
        counts = dump.import_json(UnitOfWorkFactory(make_session_factory(fresh)), first.encode())
        assert counts["events"] == len(events)
        second = dump.export_json(UnitOfWorkFactory(make_session_factory(fresh)))
        assert second == first
        checked, findings = verify(UnitOfWorkFactory(make_session_factory(fresh)))
        assert checked == len(tables["projects"]["rows"]) and findings == []
        _keeps_working(fresh)
        # An import only goes into an empty database.
        with pytest.raises(dump.ImportRefused, match="pas vide"):
            dump.import_json(UnitOfWorkFactory(make_session_factory(fresh)), first)
    finally:
        fresh.dispose()


def _keeps_working(engine: Engine) -> None:
    """New rows after an import take fresh ids (PostgreSQL sequences moved past the imported ones)."""
    from zoneinfo import ZoneInfo

    from app.accounts import service as accounts
    from app.core.clock import SYSTEM, Clock
    from app.core.unit_of_work import UnitOfWork
    from app.evidence.registry import KINDS
    from app.evidence.schemas import NeedIn
    from app.evidence.service import add_evidence
    from app.projects.schemas import ProjectCreate
    from app.projects.service import create_project
    from workflow.deadlines import Plan

    factory = make_session_factory(engine)
    clock = Clock(ZoneInfo("Europe/Paris"))
    with UnitOfWork(factory) as uow:
        p = create_project(
            uow,
            ProjectCreate(name="Après l'import", kind="regie_de_quartier", region="Normandie"),
            plan=Plan(dict(PLAN), 36),
            actor=SYSTEM,
            clock=clock,
        )
    with UnitOfWork(factory) as uow:
        add_evidence(
            uow, p.id, KINDS["needs"], NeedIn(label="Un besoin"), expected_version=None, actor=SYSTEM, clock=clock
        )
    with UnitOfWork(factory) as uow:
        accounts.create_api_key(uow, name="Nouvelle clé", scopes=["read"], created_by="tests", now=clock.now())
        session = uow.session
        assert session.scalar(select(func.count()).select_from(Event).where(Event.project_id == p.id)) == 2
        feed = session.scalar(select(Event.feed_seq).where(Event.project_id == p.id, Event.seq == 2))
        assert feed == session.scalar(select(FeedCounter.value))


def test_admin_route_and_cli_give_the_same_bytes(
    app, client: TestClient, fresh_url: str, cli_env: CliRunner, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command line reads the suite's database on its own connections: cli_env commits for real."""
    from app.cli import cli
    from app.core.settings import get_settings

    project_at(client, "contours", start=date(2026, 1, 5))
    add_user(app, "admin@example.fr", [("admin", None, None)])
    with TestClient(app, raise_server_exceptions=False) as c:
        login(c, "admin@example.fr")
        r = c.get(f"{API}/admin/export")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        assert "attachment" in r.headers["content-disposition"]
    assert client.get(f"{API}/admin/export").status_code == 403  # a consultant key is not an admin
    assert r.text == dump.export_json(UnitOfWorkFactory(app.state.session_factory))

    runner = cli_env
    out = tmp_path / "export.json"
    res = runner.invoke(cli, ["export", "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text(encoding="utf-8") == r.text
    monkeypatch.setenv("REGIEFLOW_DATABASE_URL", fresh_url)
    get_settings.cache_clear()
    res = runner.invoke(cli, ["import", str(out)])
    assert res.exit_code == 0, res.output
    assert "Imported" in res.output
    res = runner.invoke(cli, ["verify"])
    assert res.exit_code == 0 and "0 with discrepancies" in res.output, res.output
    again = tmp_path / "again.json"
    assert runner.invoke(cli, ["export", "-o", str(again)]).exit_code == 0
    assert again.read_bytes() == out.read_bytes()
    res = runner.invoke(cli, ["import", str(out)])  # not empty any more
    assert res.exit_code == 2 and "pas vide" in res.output


def test_import_refuses_what_is_not_a_dump_of_this_schema(app, client: TestClient, fresh_url: str) -> None:
    good = json.loads(dump.export_json(UnitOfWorkFactory(app.state.session_factory)))
    fresh = make_engine(fresh_url)
    try:
        for raw, message in (
            ("pas du json", "JSON"),
            (json.dumps({"format": "autre"}), "regieflow-dump"),
            (json.dumps(good | {"format_version": 99}), "Version de format"),
            (json.dumps(good | {"schema_revision": "0001"}), "schéma"),
            (json.dumps(good | {"tables": good["tables"][1:]}), "manquantes"),
        ):
            with pytest.raises(dump.ImportRefused, match=message):
                dump.import_json(UnitOfWorkFactory(make_session_factory(fresh)), raw)
        broken = json.loads(json.dumps(good))
        users = next(t for t in broken["tables"] if t["name"] == "projects")
        users["columns"] = users["columns"][:-1]
        with pytest.raises(dump.ImportRefused, match="Colonnes"):
            dump.import_json(UnitOfWorkFactory(make_session_factory(fresh)), json.dumps(broken))
        with fresh.connect() as conn:  # nothing was written by the refused imports
            assert dump._is_empty(conn) == []
    finally:
        fresh.dispose()
