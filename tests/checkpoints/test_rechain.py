"""Keys change: verify accepts events chained with a previous server key, `regieflow rechain` re-keys
the chain (after verifying it) and refuses a database that does not verify; migration 0005 re-keys a
database written with the unkeyed chain and refuses a broken one."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from pydantic import SecretStr
from sqlalchemy import text, update

from app.checkpoints import service as ck
from app.checkpoints.rechain import rechain
from app.cli import cli
from app.core.database import make_engine
from app.core.keys import derived_key
from app.core.migrate import upgrade
from app.core.security import CHAIN_PURPOSE, event_hash
from app.core.settings import Settings, get_settings
from app.core.unit_of_work import UnitOfWorkFactory
from app.projects.models import Event
from app.transitions.verify import verify
from tests.checkpoints.tampering import History, checkpoint, keyed, unkeyed, uows, verify_all, write_history

NEW_KEY = "the-new-server-key-0123456789abcdefghijklmnop"


@pytest.fixture
def history(client) -> History:
    return write_history(client)


def _rotated(settings: Settings, *previous: SecretStr | None) -> Settings:
    return settings.model_copy(
        update={"secret_key": SecretStr(NEW_KEY), "previous_secret_keys": [k for k in previous if k is not None]}
    )


def test_a_rotated_key_verifies_old_events_then_rechain_moves_them_to_the_new_key(
    db, session_factory, settings, clock, history
) -> None:
    checkpoint(session_factory, settings, clock)
    events = db.connection.execute(text("SELECT count(*) FROM events")).scalar_one()
    rotated = _rotated(settings, settings.secret_key)
    report, problems = verify_all(session_factory, rotated)
    assert problems == {} and report.previous_key_events == events  # the old key still vouches for them
    # Without the old key among the previous ones, every project's chain is refused.
    _, problems = verify_all(session_factory, _rotated(settings))
    assert set(problems) == {history.rich, history.plain, history.last, "database"}, problems

    done = rechain(uows(session_factory, rotated), rotated, clock.now())
    assert done.refused == [] and done.events == events and done.projects == 3
    assert done.checkpoint is not None and done.checkpoint.written is not None and done.checkpoint.written.rechained
    report, problems = verify_all(session_factory, _rotated(settings))  # the new key alone now
    assert problems == {} and report.previous_key_events == 0
    path = done.checkpoint.path
    assert report.checkpoint is not None and f"{path} line 1," in report.checkpoint  # a new file…
    [archived] = path.parent.glob(f"{path.stem}.before-rechain-*.jsonl")  # …the old one kept beside it
    assert len(archived.read_text(encoding="utf-8").splitlines()) == 1
    new = derived_key(_rotated(settings), CHAIN_PURPOSE)
    for row in db.connection.execute(sa.select(Event.__table__)).mappings():
        fields = {n: row[n] for n in ("type", "trigger", "from_state", "to_state", "effective_on")}
        assert row["hash"] == keyed(new)(_fields(row), row["prev_hash"]), fields
    # New events are chained with the new key too.
    clock.advance(seconds=1)
    again = rechain(uows(session_factory, rotated), rotated, clock.now())
    assert again.refused == [] and again.events == 0


def _fields(row) -> dict:
    from types import SimpleNamespace

    from app.core.security import event_fields

    return event_fields(SimpleNamespace(**row))


def test_rechain_refuses_a_database_that_does_not_verify(db, session_factory, settings, clock, history) -> None:
    with db.begin() as conn:
        conn.execute(
            update(Event.__table__)
            .where(Event.__table__.c.project_id == uuid.UUID(history.plain), Event.__table__.c.seq == 2)
            .values(actor="user:personne@example.fr")
        )
        before = conn.execute(text("SELECT id, hash FROM events ORDER BY id")).all()
    rotated = _rotated(settings, settings.secret_key)
    done = rechain(uows(session_factory, rotated), rotated, clock.now())
    assert [str(f.project_id) for f in done.refused] == [history.plain] and done.events == 0
    assert db.connection.execute(text("SELECT id, hash FROM events ORDER BY id")).all() == before
    assert not ck.path_for(settings, settings.database_url).exists()


def test_verify_and_rechain_commands_after_a_rotation(client, cli_env, monkeypatch) -> None:
    write_history(client)
    old = get_settings().secret_key
    assert old is not None
    monkeypatch.setenv("REGIEFLOW_SECRET_KEY", NEW_KEY)
    monkeypatch.setenv("REGIEFLOW_PREVIOUS_SECRET_KEYS", old.get_secret_value())
    get_settings.cache_clear()
    r = cli_env.invoke(cli, ["verify"])
    assert r.exit_code == 0, r.output
    assert "event(s) chained with a previous server key: run `regieflow rechain`" in r.output
    r = cli_env.invoke(cli, ["rechain"])
    assert r.exit_code == 0, r.output
    assert "event hash(es) re-keyed in 3 project(s)." in r.output and "Checkpoint written to " in r.output
    monkeypatch.delenv("REGIEFLOW_PREVIOUS_SECRET_KEYS")
    get_settings.cache_clear()
    r = cli_env.invoke(cli, ["verify"])
    assert r.exit_code == 0 and "previous server key" not in r.output, r.output
    assert "Compared with the checkpoint " in r.output and "3 project(s) checked, 0 with discrepancies." in r.output


# --- migration 0005 ----------------------------------------------------------------------------------
def _scratch(database_url: str, tmp_path) -> str:
    from app.core.database import is_sqlite
    from tests.fixtures.database import postgres_database

    if is_sqlite(database_url):
        return f"sqlite:///{tmp_path / 'migration-0005.db'}"
    return postgres_database(database_url, f"chain0005_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")


def _seed_at_0004(engine: sa.Engine, *, broken: bool = False) -> list[tuple[uuid.UUID, int]]:
    """Two projects with events chained by the unkeyed rule of revision 0002 (as an older regieflow
    wrote them); `broken`: the second event of the second project edited afterwards."""
    meta = sa.MetaData()
    projects = sa.Table("projects", meta, sa.Column("id", sa.Uuid, primary_key=True), autoload_with=engine)
    events = sa.Table("events", meta, sa.Column("project_id", sa.Uuid), autoload_with=engine)
    now, day = datetime(2026, 11, 30, 12, 0, tzinfo=UTC), date(2026, 1, 5)
    rows = []
    position = 0
    with engine.begin() as conn:
        for name in ("Régie de l'Alma", "Régie du Mirail"):
            pid = uuid.uuid4()
            conn.execute(
                projects.insert().values(
                    id=pid, name=name, kind="regie_de_quartier", region="Hauts-de-France", departement="59",
                    conventionnement="aucun", state="groupe_projet", started_on=day, state_entered_on=day,
                    last_transition_on=day, step_months={}, horizon_months=36, horizon_on=date(2029, 1, 5),
                    version=3, created_at=now, updated_at=now,
                )
            )  # fmt: skip
            prev = None
            for seq, (type_, data) in enumerate(
                [
                    ("project.created", {"name": name, "started_on": day.isoformat()}),
                    ("evidence.created", {"kind": "needs", "id": seq_id(name), "values": {"label": "Mobilité"}}),
                    ("project.updated", {"changes": {"description": [None, "Quartier prioritaire"]}}),
                ],
                start=1,
            ):
                position += 1
                fields = {
                    "project_id": str(pid), "seq": seq, "type": type_, "trigger": None, "from_state": None,
                    "to_state": "groupe_projet" if seq == 1 else None, "effective_on": day if seq == 1 else None,
                    "recorded_at": now, "actor": "key:rf_0000", "reason": None, "data": data,
                }  # fmt: skip
                digest = unkeyed(fields, prev)
                conn.execute(
                    events.insert().values({**fields, "project_id": pid, "prev_hash": prev, "hash": digest,
                                            "feed_seq": position})
                )  # fmt: skip
                prev = digest
                rows.append((pid, seq))
        conn.execute(text("UPDATE feed_counter SET value = :v"), {"v": position})
        if broken:
            conn.execute(
                events.update()
                .where(events.c.project_id == rows[-1][0], events.c.seq == 2)
                .values(actor="user:quelquun@example.fr")
            )
    return rows


def seq_id(name: str) -> int:
    return 1 if "Alma" in name else 2


def _revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_migration_0005_rekeys_the_unkeyed_chain(database_url: str, tmp_path) -> None:
    url = _scratch(database_url, tmp_path)
    upgrade(url, "0004")
    engine = make_engine(url)
    try:
        rows = _seed_at_0004(engine)
        upgrade(url, "0005")
        key = derived_key(get_settings(), CHAIN_PURPOSE)
        table = Event.__table__
        with engine.connect() as conn:
            stored = conn.execute(sa.select(table).order_by(table.c.project_id, table.c.seq)).mappings().all()
        assert [(r["project_id"], r["seq"]) for r in stored] == sorted(rows)
        prev: dict[uuid.UUID, str | None] = {}
        for r in stored:
            assert r["prev_hash"] == prev.get(r["project_id"])
            assert r["hash"] == event_hash(_fields(r), r["prev_hash"], key)
            assert r["hash"] != unkeyed(_fields(r), r["prev_hash"])
            prev[r["project_id"]] = r["hash"]
        # verify's chain check agrees (the projects were written by hand: only their chains are compared).
        upgrade(url)
        from app.core.database import make_session_factory

        _, findings = verify(UnitOfWorkFactory(make_session_factory(engine)), checkpoints=False)
        assert not [p for f in findings for p in f.problems if "hash" in p], findings
    finally:
        engine.dispose()


def test_migration_0005_refuses_a_broken_unkeyed_chain(database_url: str, tmp_path) -> None:
    url = _scratch(database_url, tmp_path)
    upgrade(url, "0004")
    engine = make_engine(url)
    try:
        rows = _seed_at_0004(engine, broken=True)
        with pytest.raises(RuntimeError) as refused:
            upgrade(url, "0005")
        assert str(refused.value).startswith(
            f"Migration 0005 refusée : la chaîne d'événements du projet {rows[-1][0]} est rompue à l'événement 2 "
        )
        assert _revision(engine) == "0004"  # nothing changed
        with engine.connect() as conn:
            hashes = conn.execute(text("SELECT hash, prev_hash FROM events ORDER BY id")).all()
        assert hashes[1][1] == hashes[0][0]  # still the unkeyed chain, untouched
    finally:
        engine.dispose()
