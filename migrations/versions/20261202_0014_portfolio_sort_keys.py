"""portfolio sort keys: the list's status and sort keys stored and indexed (issue 17)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 12:30:00

At 100,000 projects the portfolio's list took ~210 ms: its status filter and its sorts were computed on
every row from today (a paused project's dates move each day), so every page read and sorted the whole
table. The keys are now stored (app.projects.sort_keys): sort_name (the folded name), sort_region (the
région's rank in French order), and, as of the day in portfolio_keys.as_of, sort_status,
sort_status_desc, shown_step_due_on and shown_horizon_on; one index per sort, each ending with the id,
so that a page of 50 reads 50 index entries; and a trigram index for the search (`q=`) on PostgreSQL.

The timeless keys are filled here. The dated ones stay NULL, and portfolio_keys empty: the list
computes them per row (as before) until the deadline watch's next refresh (`regieflow deadlines scan`,
or the worker's daily round) has stored them for its day.

pg_trgm: created if missing (it ships with PostgreSQL's contrib package); where the role may not create
it, the trigram index is left out and the search reads the table, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLD_FROM = "ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÝŸýÿ’"
FOLD_TO = "abcdefghijklmnopqrstuvwxyzaaaaaaaaaaaacceeeeeeeeiiiiiiiinnoooooooooooouuuuuuuuyyyy'"
FOLD_TABLE = (
    str.maketrans(FOLD_FROM, FOLD_TO)
    | {ord(k): v for k, v in {"Œ": "oe", "œ": "oe", "Æ": "ae", "æ": "ae"}.items()}
    | dict.fromkeys(range(0x300, 0x370))
)
# The official régions in French alphabetical order (app/reference/data, COG 2024), as of this revision.
REGIONS = (
    "Auvergne-Rhône-Alpes",
    "Bourgogne-Franche-Comté",
    "Bretagne",
    "Centre-Val de Loire",
    "Corse",
    "Grand Est",
    "Guadeloupe",
    "Guyane",
    "Hauts-de-France",
    "Île-de-France",
    "La Réunion",
    "Martinique",
    "Mayotte",
    "Normandie",
    "Nouvelle-Aquitaine",
    "Occitanie",
    "Pays de la Loire",
    "Provence-Alpes-Côte d'Azur",
)


def _c(bind: sa.Connection, name: str) -> sa.ColumnElement[str]:
    """A column compared byte by byte (COLLATE "C" on PostgreSQL), as app.core.database.by_bytes."""
    col = sa.column(name)
    return col.collate("C") if bind.dialect.name == "postgresql" else col


FILTERED = ["state", "region", "kind", "sort_status"]


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    with op.batch_alter_table("projects") as batch:  # ALTER TABLE … ADD on both
        batch.add_column(sa.Column("sort_name", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("sort_region", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("sort_status", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("sort_status_desc", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("shown_step_due_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("shown_horizon_on", sa.Date(), nullable=True))
    op.create_table(
        "portfolio_keys",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_portfolio_keys_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio_keys")),
    )

    projects = sa.table(
        "projects",
        sa.column("id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("region", sa.String()),
        sa.column("sort_name", sa.String()),
        sa.column("sort_region", sa.SmallInteger()),
    )
    rank = {name: i for i, name in enumerate(REGIONS)}
    rows = bind.execute(sa.select(projects.c.id, projects.c.name, projects.c.region)).all()
    if rows:
        bind.execute(
            projects.update().where(projects.c.id == sa.bindparam("b_id")),
            [
                {
                    "b_id": pid,
                    "sort_name": (name or "").replace("\n", " ").translate(FOLD_TABLE)[:400],
                    "sort_region": rank.get(region, len(REGIONS)),
                }
                for pid, name, region in rows
            ],
        )

    def desc(name: str) -> sa.TextClause:
        return sa.text(f"{name} DESC NULLS LAST" if pg else f"{name} DESC")

    name = _c(bind, "sort_name")
    # each sort's index carries the filters' columns on PostgreSQL (INCLUDE): a filtered page reads the
    # index alone, in order
    sorts: dict[str, list[sa.ColumnElement[object] | sa.TextClause | str]] = {
        "ix_projects_sort_status": ["sort_status", "shown_step_due_on", name, "id"],
        "ix_projects_sort_status_desc": ["sort_status_desc", desc("shown_step_due_on"), name, "id"],
        "ix_projects_shown_step_due_on": ["shown_step_due_on", "id"],
        "ix_projects_shown_step_due_on_desc": [desc("shown_step_due_on"), "id"],
        "ix_projects_shown_horizon_on": ["shown_horizon_on", "id"],
        "ix_projects_sort_name": [name, "id"],
        "ix_projects_sort_region": ["sort_region", "region", name, "id"],
        "ix_projects_started_on": ["started_on", "id"],
        "ix_projects_created_at": ["created_at", "id"],
        "ix_projects_updated_at_id": ["updated_at", "id"],
    }
    for ix, columns in sorts.items():
        op.create_index(ix, "projects", columns, unique=False, postgresql_include=FILTERED)  # type: ignore[arg-type]
    op.create_index("ix_projects_state_sort_status", "projects", ["state", "sort_status"], unique=False)
    op.create_index("ix_projects_departement", "projects", ["departement"], unique=False)  # q= names one
    op.drop_index("ix_projects_updated_at", table_name="projects")  # ix_projects_updated_at_id serves its sorts
    if pg:
        savepoint = bind.begin_nested()
        try:
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            savepoint.commit()
        except sa.exc.DBAPIError:
            savepoint.rollback()
        if bind.scalar(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")):
            op.create_index(
                "ix_projects_search_text_trgm",
                "projects",
                ["search_text"],
                unique=False,
                postgresql_using="gin",
                postgresql_ops={"search_text": "gin_trgm_ops"},
            )


def downgrade() -> None:
    bind = op.get_bind()
    op.execute(sa.text("DROP INDEX IF EXISTS ix_projects_search_text_trgm"))
    op.create_index("ix_projects_updated_at", "projects", ["updated_at"], unique=False)
    for ix in (
        "ix_projects_departement",
        "ix_projects_state_sort_status",
        "ix_projects_updated_at_id",
        "ix_projects_created_at",
        "ix_projects_started_on",
        "ix_projects_sort_region",
        "ix_projects_sort_name",
        "ix_projects_shown_horizon_on",
        "ix_projects_shown_step_due_on_desc",
        "ix_projects_shown_step_due_on",
        "ix_projects_sort_status_desc",
        "ix_projects_sort_status",
    ):
        op.drop_index(ix, table_name="projects")
    op.drop_table("portfolio_keys")
    del bind
    # ALTER TABLE … DROP COLUMN on both (SQLite ≥ 3.35): a batch would copy the table, and dropping the old
    # one fails on the foreign keys of its children (PRAGMA foreign_keys=ON) once it holds projects
    for column in (
        "shown_horizon_on",
        "shown_step_due_on",
        "sort_status_desc",
        "sort_status",
        "sort_region",
        "sort_name",
    ):
        op.drop_column("projects", column)
