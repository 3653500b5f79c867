"""pages: search keys and page support (issue 13)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:45:00

The portfolio's search ignores case and accents on both databases (app/projects/repository.py,
search_condition): one SQL function, rf_fold(text), a plain character mapping (every letter to lower case
without its accent, Œ/œ → oe, Æ/æ → ae, ’ → '), so that it answers the same whatever the database's locale.
PostgreSQL gets it here, IMMUTABLE (an expression index may use it); SQLite gets the same mapping as a
Python function registered on each connection. The mapping is written out here, not imported: a landed
revision never changes with the code.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLD_FROM = "ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÝŸýÿ’"
FOLD_TO = "abcdefghijklmnopqrstuvwxyzaaaaaaaaaaaacceeeeeeeeiiiiiiiinnoooooooooooouuuuuuuuyyyy'"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: registered on each connection by app.projects.repository
    assert len(FOLD_FROM) == len(FOLD_TO)
    body = f"translate($1, '{FOLD_FROM.replace(chr(39), chr(39) * 2)}', '{FOLD_TO.replace(chr(39), chr(39) * 2)}')"
    for src, dst in (("Œ", "oe"), ("œ", "oe"), ("Æ", "ae"), ("æ", "ae")):
        body = f"replace({body}, '{src}', '{dst}')"
    op.execute(
        "CREATE OR REPLACE FUNCTION rf_fold(text) RETURNS text "
        f"LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT {body} $$"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS rf_fold(text)")
