"""deadline index: « Mes échéances » reads its projects in due-date order (issue 13)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 07:30:00

« Mes échéances » lists the open projects whose step due date or horizon falls within the next 60
days (or is passed), the soonest first, and counts them. At 10,000 projects both statements read the
whole table (a sequential scan, then a sort of ~7,000 rows for 50). This index on (step_due_on,
horizon_on) gives the step-due-date branch of the list in order (ix_projects_horizon_on already gives
the horizon's), and the count from the index alone. Closed projects have no step due date: they sort
first in neither. An index only: nothing is rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_projects_step_due_on_horizon_on", "projects", ["step_due_on", "horizon_on"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_projects_step_due_on_horizon_on", table_name="projects")
