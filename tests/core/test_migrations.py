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
    diff = compare_metadata(ctx, Base.metadata)
    # Autogenerate cannot compare an index column with a collation or a NULLS clause (the portfolio's sort
    # indexes, migration 0014): it reports each as removed and added again. Those are compared below by
    # name and by their columns' order, as the database reads them back.
    if conn.dialect.name == "postgresql":
        moved = {d[1].name for d in diff if d[0] in ("add_index", "remove_index") and d[1].name in EXPRESSION_INDEXES}
        diff = [d for d in diff if not (d[0] in ("add_index", "remove_index") and d[1].name in moved)]
    return diff


EXPRESSION_INDEXES = {
    "ix_projects_sort_name",
    "ix_projects_sort_region",
    "ix_projects_sort_status",
    "ix_projects_sort_status_desc",
    "ix_projects_shown_step_due_on_desc",
}


def test_the_sort_indexes_have_their_columns_in_order(engine) -> None:
    """The indexes autogenerate cannot compare (see _diff): each exists with the model's columns, in order."""
    found = {ix["name"]: ix for ix in inspect(engine).get_indexes("projects")}
    table = Base.metadata.tables["projects"]
    for index in table.indexes:
        if index.name in EXPRESSION_INDEXES:
            wanted = [getattr(e, "expr", e).name for e in index.expressions]
            assert found[index.name]["column_names"] == wanted, index.name


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
