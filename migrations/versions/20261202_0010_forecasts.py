"""forecasts: step-duration distributions and forecasts (issue 16)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 03:45:00

Reserved this session so that three pieces of work can land in a fixed order; filled before the session
ends (no database outside this repository's tests has run it while it is empty).
"""
from __future__ import annotations

from collections.abc import Sequence

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
