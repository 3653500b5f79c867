"""success-conditions grid and reservations

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 00:45:00

The label's success conditions (DOMAIN.md): the project group's self-assessment, the expertise's
assessment of each condition, and the reservations of an expertise. New tables only: existing rows
are untouched (a hire's commune of residence is a new, optional column), and projects whose history no longer satisfies the new guards keep their state.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONDITIONS = "condition IN ('ancrage_territorial', 'services_nouveaux', 'perennite_economique', 'cooperation_autonomie', 'implication_habitants')"


def upgrade() -> None:
    with op.batch_alter_table('hires', schema=None) as batch_op:
        batch_op.add_column(sa.Column('home_insee_code', sa.String(length=5), nullable=True))

    op.create_table('self_assessments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('condition', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('assessed_on', sa.Date(), nullable=False),
    sa.CheckConstraint(CONDITIONS, name=op.f('ck_self_assessments_condition')),
    sa.CheckConstraint("level IN ('atteint', 'en_cours', 'non_atteint')", name=op.f('ck_self_assessments_level')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_self_assessments_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_self_assessments'))
    )
    with op.batch_alter_table('self_assessments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_self_assessments_project_id'), ['project_id'], unique=False)

    op.create_table('expertise_assessments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('expertise_id', sa.Integer(), nullable=False),
    sa.Column('condition', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.CheckConstraint(CONDITIONS, name=op.f('ck_expertise_assessments_condition')),
    sa.CheckConstraint("level IN ('atteint', 'partiel', 'non_atteint')", name=op.f('ck_expertise_assessments_level')),
    sa.ForeignKeyConstraint(['expertise_id'], ['expertises.id'], name=op.f('fk_expertise_assessments_expertise_id_expertises'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_expertise_assessments_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expertise_assessments')),
    sa.UniqueConstraint('expertise_id', 'condition', name='uq_expertise_assessments_expertise_condition')
    )
    with op.batch_alter_table('expertise_assessments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_expertise_assessments_expertise_id'), ['expertise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_expertise_assessments_project_id'), ['project_id'], unique=False)

    op.create_table('reservations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('expertise_id', sa.Integer(), nullable=False),
    sa.Column('condition', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('recorded_on', sa.Date(), nullable=False),
    sa.Column('response', sa.Text(), nullable=True),
    sa.Column('responded_on', sa.Date(), nullable=True),
    sa.Column('lifted_on', sa.Date(), nullable=True),
    sa.Column('lifted_how', sa.Text(), nullable=True),
    sa.Column('lifted_by', sa.String(length=200), nullable=True),
    sa.CheckConstraint(CONDITIONS, name=op.f('ck_reservations_condition')),
    sa.CheckConstraint('(lifted_on IS NULL) = (lifted_how IS NULL)', name=op.f('ck_reservations_lifted_with_how')),
    sa.ForeignKeyConstraint(['expertise_id'], ['expertises.id'], name=op.f('fk_reservations_expertise_id_expertises'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_reservations_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservations'))
    )
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reservations_expertise_id'), ['expertise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reservations_project_id'), ['project_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reservations_project_id'))
        batch_op.drop_index(batch_op.f('ix_reservations_expertise_id'))
    op.drop_table('reservations')
    with op.batch_alter_table('expertise_assessments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_expertise_assessments_project_id'))
        batch_op.drop_index(batch_op.f('ix_expertise_assessments_expertise_id'))
    op.drop_table('expertise_assessments')
    with op.batch_alter_table('self_assessments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_self_assessments_project_id'))
    op.drop_table('self_assessments')
    with op.batch_alter_table('hires', schema=None) as batch_op:
        batch_op.drop_column('home_insee_code')
