"""operations: worker heartbeats (issue 17)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 04:10:00

Each worker process records when it last finished a round; /metrics reports it. Operational data: not
exported (app.exchange.dump.EXCLUDED). A new table only.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('worker_heartbeats',
    sa.Column('worker_id', sa.String(length=200), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_round_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rounds', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('worker_id', name=op.f('pk_worker_heartbeats'))
    )


def downgrade() -> None:
    op.drop_table('worker_heartbeats')
