"""Migration 0006 on a database written before the territory data shipped: communes whose code is known
get their official name; a project whose région is not a real one (or whose département is unknown or
elsewhere, or with an unknown commune) is reported by the migration and by verify, never changed."""

from __future__ import annotations

import logging
import os
import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session

from app.core.database import make_engine
from app.core.migrate import alembic_config, upgrade
from app.reference.verify import commune_name_agrees, verify_territory


def _scratch_database(database_url: str, tmp_path) -> str:
    from app.core.database import is_sqlite
    from tests.fixtures.database import postgres_database

    if is_sqlite(database_url):
        return f"sqlite:///{tmp_path / 'migration-0006.db'}"
    return postgres_database(database_url, f"ref0006_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")


def _seed_at_0005(engine: sa.Engine) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """Three projects as an older regieflow stored them: one in a région typed freely, with communes whose
    names were typed (one code is no commune); one with a département of another région; one clean (with
    a commune outside its département: accepted, flagged on the pages, nothing to report)."""
    meta = sa.MetaData()
    projects = sa.Table("projects", meta, sa.Column("id", sa.Uuid, primary_key=True), autoload_with=engine)
    communes = sa.Table("communes", meta, sa.Column("project_id", sa.Uuid), autoload_with=engine)
    now, day = datetime(2026, 11, 30, 12, 0, tzinfo=UTC), date(2026, 1, 5)
    fake, misplaced, clean = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        for pid, name, region, departement in (
            (fake, "Régie du Nord-Est", "Nord-Est", "29"),
            (misplaced, "Régie de Brest", "Bretagne", "59"),
            (clean, "Régie de l'Alma", "Hauts-de-France", "59"),
        ):
            conn.execute(
                projects.insert().values(
                    id=pid,
                    name=name,
                    kind="regie_de_quartier",
                    region=region,
                    departement=departement,
                    conventionnement="aucun",
                    state="contours",
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
            communes.insert(),
            [
                {"id": 1, "project_id": fake, "insee_code": "59512", "name": "roubaix centre"},
                {"id": 2, "project_id": fake, "insee_code": "59999", "name": "Commune imaginaire"},
                {"id": 3, "project_id": clean, "insee_code": "59350", "name": "Lille"},
                {"id": 4, "project_id": clean, "insee_code": "2A004", "name": "AJACCIO"},
            ],
        )
    return fake, misplaced, clean


def test_migration_0006_names_communes_officially_and_reports_what_it_cannot_know(
    database_url: str, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    url = _scratch_database(database_url, tmp_path)
    upgrade(url, "0005")
    engine = make_engine(url)
    try:
        fake, misplaced, _clean = _seed_at_0005(engine)
        with caplog.at_level(logging.INFO, logger="regieflow.migrations"):
            upgrade(url, "0006")
        reported = {r.getMessage() for r in caplog.records if r.levelno == logging.WARNING}
        assert reported == {
            f"0006: project {fake} (Régie du Nord-Est): region 'Nord-Est' is not one of the 18 régions of the "
            "official geographic code",
            f"0006: project {fake} (Régie du Nord-Est): commune '59999' is not a commune of the official "
            "geographic code",
            f"0006: project {misplaced} (Régie de Brest): departement 59 (Nord) is in Hauts-de-France, not in Bretagne",
        }
        assert any("2 commune(s) now carry their official name" in r.getMessage() for r in caplog.records)
        with engine.connect() as conn:
            names = dict(conn.execute(sa.text("SELECT id, name FROM communes")).all())
            regions = {n: (r, d) for n, r, d in conn.execute(sa.text("SELECT name, region, departement FROM projects"))}
        assert names == {1: "Roubaix", 2: "Commune imaginaire", 3: "Lille", 4: "Ajaccio"}
        assert regions == {  # reported, not changed: someone has to say what was meant
            "Régie du Nord-Est": ("Nord-Est", "29"),
            "Régie de Brest": ("Bretagne", "59"),
            "Régie de l'Alma": ("Hauts-de-France", "59"),
        }
        # verify reports the same, until someone fixes it
        with Session(engine) as session:
            assert verify_territory(session) == {
                fake: [
                    "region 'Nord-Est' is not one of the 18 régions of the official geographic code",
                    "commune '59999' is not a commune of the official geographic code",
                ],
                misplaced: ["departement 59 (Nord) is in Hauts-de-France, not in Bretagne"],
            }
        # going down and up again changes nothing more
        command.downgrade(alembic_config(url), "0005")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="regieflow.migrations"):
            upgrade(url, "0006")
        assert len(caplog.records) == 3
    finally:
        engine.dispose()


def test_a_commune_name_agrees_with_its_events_when_it_is_the_official_one() -> None:
    assert commune_name_agrees("59512", "Roubaix", "roubaix centre")  # what 0006 wrote
    assert commune_name_agrees("59999", "Ailleurs", "Ailleurs")
    assert not commune_name_agrees("59512", "Roubaix bis", "roubaix centre")
    assert not commune_name_agrees("59999", "Ailleurs", "Autre")


def test_verify_accepts_the_official_name_migration_0006_wrote() -> None:
    from app.evidence.models import Commune
    from app.evidence.registry import KINDS

    agrees = KINDS["communes"].agrees
    assert agrees is not None
    assert agrees(Commune(insee_code="59512", name="Roubaix"), "name", "roubaix centre")
    assert not agrees(Commune(insee_code="59512", name="Roubaix bis"), "name", "roubaix centre")
    assert not agrees(Commune(insee_code="59512", name="Roubaix"), "insee_code", "59513")


def test_regieflow_verify_reports_a_region_that_is_not_a_real_one(client, session_factory) -> None:
    from app.core.unit_of_work import UnitOfWorkFactory
    from app.transitions.verify import verify
    from tests.support.api import create_project

    pid = uuid.UUID(create_project(client, name="Régie du Nord-Est")["id"])
    clean = create_project(client, name="Régie de l'Alma")["id"]
    assert verify(UnitOfWorkFactory(session_factory), checkpoints=False) == (2, [])
    with session_factory() as session:  # as a database from before the data shipped may hold it
        session.execute(sa.text("UPDATE projects SET region = 'Nord-Est' WHERE name = 'Régie du Nord-Est'"))
        session.commit()
    checked, findings = verify(UnitOfWorkFactory(session_factory), checkpoints=False)
    assert checked == 2 and [f.project_id for f in findings] == [pid] and str(pid) != clean
    assert "region 'Nord-Est' is not one of the 18 régions of the official geographic code" in findings[0].problems
