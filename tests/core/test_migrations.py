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
        # PostgreSQL's own: the trigram index of q= (pg_trgm, migration 0014), not among the models
        diff = [d for d in diff if not (d[0] == "remove_index" and d[1].name == "ix_projects_search_text_trgm")]
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


def test_downgrade_and_upgrade_keep_the_projects_and_their_children(tmp_path) -> None:
    """0014 drops its columns in place: with projects and their children there, the downgrade neither
    fails on their foreign keys nor loses a row (SQLite)."""
    import uuid
    from datetime import date

    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'children.db'}"
    upgrade(url)
    engine = make_engine(url)
    pid = uuid.uuid4().hex
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO projects (id, name, kind, region, conventionnement, state, started_on, "
                    "state_entered_on, last_transition_on, step_months, horizon_months, horizon_on, version, "
                    "created_at, updated_at, sort_name) VALUES (:id, 'Régie', 'regie_de_quartier', 'Bretagne', "
                    "'aucun', 'groupe_projet', :d, :d, :d, '{}', 36, :d, 1, :t, :t, 'regie')"
                ),
                {"id": pid, "d": date(2026, 1, 5), "t": "2026-01-05 10:00:00"},
            )
            conn.execute(
                text("INSERT INTO suspensions (project_id, started_on, reason) VALUES (:id, :d, 'pause')"),
                {"id": pid, "d": date(2026, 2, 1)},
            )
        command.downgrade(alembic_config(url), "0013")
        engine.dispose()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM projects")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM suspensions")).scalar() == 1
        upgrade(url)
        engine.dispose()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT sort_name FROM projects")).scalar() == "regie"
            assert _diff(conn) == []
    finally:
        engine.dispose()
