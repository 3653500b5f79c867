"""pages: search keys and page support (issue 13)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:45:00

The portfolio's search ignores case and accents on both databases: each project stores `search_text`,
its name, région, département code, lead, communes and QPV (names and codes), one per line, folded by a
plain character mapping (every letter to lower case without its accent, Œ/œ → oe, Æ/æ → ae, ’ → '), so
that both databases hold the same text whatever their locale. The write path keeps it current
(app/projects/repository.py); this revision adds the column and fills it for the projects already
there. The mapping is written out here, not imported: a landed revision never changes with the code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLD_FROM = "ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÝŸýÿ’"
FOLD_TO = "abcdefghijklmnopqrstuvwxyzaaaaaaaaaaaacceeeeeeeeiiiiiiiinnoooooooooooouuuuuuuuyyyy'"
FOLD_TABLE = (
    str.maketrans(FOLD_FROM, FOLD_TO)
    | {ord(k): v for k, v in {"Œ": "oe", "œ": "oe", "Æ": "ae", "æ": "ae"}.items()}
    | dict.fromkeys(range(0x300, 0x370))  # combining accents: "I" + U+0302 folds like "Î"
)


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=True))  # an ALTER TABLE … ADD on both
    bind = op.get_bind()
    projects = sa.table(
        "projects",
        sa.column("id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("region", sa.String()),
        sa.column("departement", sa.String()),
        sa.column("lead_name", sa.String()),
        sa.column("search_text", sa.Text()),
    )
    communes = sa.table(
        "communes", sa.column("project_id", sa.Uuid()), sa.column("name", sa.String()), sa.column("id", sa.Integer())
    )
    qpvs = sa.table(
        "qpvs",
        sa.column("project_id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("code", sa.String()),
        sa.column("id", sa.Integer()),
    )
    extra: dict[object, list[str]] = defaultdict(list)
    for pid, name in bind.execute(sa.select(communes.c.project_id, communes.c.name).order_by(communes.c.id)):
        extra[pid].append(name)
    for pid, name, code in bind.execute(sa.select(qpvs.c.project_id, qpvs.c.name, qpvs.c.code).order_by(qpvs.c.id)):
        extra[pid] += [name, code]
    rows = bind.execute(
        sa.select(projects.c.id, projects.c.name, projects.c.region, projects.c.departement, projects.c.lead_name)
    ).all()
    for pid, name, region, departement, lead in rows:
        parts = [name, region, departement or "", lead or "", *extra.get(pid, [])]
        text = "\n".join(v.replace("\n", " ") for v in parts if v).translate(FOLD_TABLE)
        bind.execute(projects.update().where(projects.c.id == pid).values(search_text=text))


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("search_text")
