"""forecasts: step-duration distributions and forecasts (issue 16)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 03:45:00

Precomputed per-step duration distributions (by step, kind and region, and nationally), the one row
that says when they were computed and up to which transition event, and each open project's forecast
as of that refresh (what the portfolio filters by) (app/forecasts/models.py). Derived
data only: new tables, nothing else changes; they are filled by `regieflow forecast refresh`, the worker
or the first forecast asked for.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STEPS = "step IN ('groupe_projet', 'contours', 'faisabilite', 'validation', 'prefiguration', 'expertise')"


def upgrade() -> None:
    op.create_table('forecast_distributions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('region', sa.String(length=100), nullable=False),
    sa.Column('sample_size', sa.Integer(), nullable=False),
    sa.Column('p50', sa.Float(), nullable=False),
    sa.Column('p80', sa.Float(), nullable=False),
    sa.Column('p90', sa.Float(), nullable=False),
    sa.Column('days', sa.JSON(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('watermark', sa.BigInteger(), nullable=False),
    sa.CheckConstraint(STEPS, name=op.f('ck_forecast_distributions_step')),
    sa.CheckConstraint('sample_size >= 1', name=op.f('ck_forecast_distributions_sample_size_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forecast_distributions')),
    sa.UniqueConstraint('step', 'kind', 'region', name='uq_forecast_distributions_group')
    )
    op.create_table('forecast_refreshes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('watermark', sa.BigInteger(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('projects', sa.Integer(), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forecast_refreshes'))
    )
    op.create_table('project_forecasts',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('basis', sa.String(length=16), nullable=False),
    sa.Column('sample_size', sa.Integer(), nullable=False),
    sa.Column('p50_on', sa.Date(), nullable=True),
    sa.Column('p80_on', sa.Date(), nullable=True),
    sa.Column('p80_after_horizon', sa.Boolean(), nullable=False),
    sa.CheckConstraint("basis IN ('kind_region', 'national', 'plan')", name=op.f('ck_project_forecasts_basis')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_forecasts_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_project_forecasts'))
    )
    with op.batch_alter_table('project_forecasts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_forecasts_p80_on'), ['p80_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_forecasts_p80_after_horizon'), ['p80_after_horizon'], unique=False)


def downgrade() -> None:
    op.drop_table('project_forecasts')
    op.drop_table('forecast_refreshes')
    op.drop_table('forecast_distributions')
