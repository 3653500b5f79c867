"""reference data: official territory (communes, départements, régions)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 00:45:00

No table changes: régions, départements and communes live in the data file shipped with the package
(app/reference/data/cog.json.gz); projects keep their `region` (the official name) and `departement`
(the code), communes their `insee_code` and `name`. What this revision does to the data:

- communes whose code is in the official geographic code get its official name;
- projects whose région is not one of the 18 official names, whose département is not one of the
  101, or lies in another région, and communes whose code is unknown, are REPORTED (warnings of the
  `regieflow.migrations` logger, on standard error by default), never changed: someone has to decide
  what was meant. `regieflow verify` reports them too (app/reference/verify.py) until they are fixed.

Downgrade: nothing to undo (the former names were free text; the official ones stay valid).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("regieflow.migrations")

projects = sa.table(
    "projects",
    sa.column("id", sa.Uuid),
    sa.column("name", sa.String),
    sa.column("region", sa.String),
    sa.column("departement", sa.String),
)
communes = sa.table(
    "communes",
    sa.column("id", sa.Integer),
    sa.column("project_id", sa.Uuid),
    sa.column("insee_code", sa.String),
    sa.column("name", sa.String),
)


def upgrade() -> None:
    from app.reference.verify import territory_findings  # the same checks as `regieflow verify`

    bind = op.get_bind()
    renamed = 0
    for row in bind.execute(sa.select(communes.c.id, communes.c.insee_code, communes.c.name)).all():
        official = _official_name(row.insee_code)
        if official is not None and official != row.name:
            bind.execute(sa.update(communes).where(communes.c.id == row.id).values(name=official))
            renamed += 1
    if renamed:
        log.info("0006: %d commune(s) now carry their official name", renamed)
    project_rows = bind.execute(
        sa.select(projects.c.id, projects.c.name, projects.c.region, projects.c.departement)
    ).all()
    commune_rows = bind.execute(sa.select(communes.c.project_id, communes.c.insee_code)).all()
    for finding in territory_findings(
        [(str(p.id), p.name, p.region, p.departement) for p in project_rows],
        [(str(c.project_id), c.insee_code) for c in commune_rows],
    ):
        log.warning("0006: %s", finding)


def _official_name(code: str) -> str | None:
    from app.reference.cog import cog

    commune = cog().commune(code)
    return commune.name if commune is not None else None


def downgrade() -> None:
    pass
