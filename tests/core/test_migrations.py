"""The Alembic migrations build exactly the schema the models declare, and they run both ways."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from app.core.database import Base, make_engine
from app.core.migrate import alembic_config, upgrade


def _diff(conn) -> list:
    ctx = MigrationContext.configure(
        conn,
        opts={"compare_type": True, "compare_server_default": True, "render_as_batch": conn.dialect.name == "sqlite"},
    )
    return compare_metadata(ctx, Base.metadata)


def test_migrated_database_matches_the_models(engine) -> None:
    with engine.connect() as conn:
        assert _diff(conn) == []
        head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
        assert MigrationContext.configure(conn).get_current_revision() == head


def test_downgrade_to_base_then_upgrade_to_head(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'migrations.db'}"
    tables = {t.name for t in Base.metadata.sorted_tables}
    upgrade(url)
    engine = make_engine(url)
    try:
        assert tables <= set(inspect(engine).get_table_names())
        command.downgrade(alembic_config(url), "base")
        engine.dispose()
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() is None
        upgrade(url)
        engine.dispose()
        assert tables <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            assert _diff(conn) == []
    finally:
        engine.dispose()
