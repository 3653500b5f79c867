"""webhook secrets encrypted at rest

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 00:45:00

`webhook_secrets.secret` widens from 100 to 500 characters and every secret stored in clear becomes a
Fernet token (app.core.keys.fernet: a key derived from REGIEFLOW_SECRET_KEY). This migration reads the
server key through app.core.settings, so it must run with THE SAME KEY AS THE SERVER (the same
REGIEFLOW_SECRET_KEY, or in development the same key file): secrets encrypted under another key do not
decrypt, and their deliveries fail until they are renewed. With no secret stored, no key is read.
Downgrade decrypts them again (it needs a key that decrypts them: the current one or one of
REGIEFLOW_PREVIOUS_SECRET_KEYS).

Response excerpts of attempts that did not succeed are dropped too: what a failing or refused target
answered is never kept (issue 11, §2).
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import InvalidToken, MultiFernet

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SECRETS = sa.table("webhook_secrets", sa.column("id", sa.Integer), sa.column("secret", sa.String))


def _cipher() -> MultiFernet:
    from app.core.keys import fernet
    from app.core.settings import get_settings

    return fernet(get_settings())


def upgrade() -> None:
    with op.batch_alter_table("webhook_secrets", schema=None) as batch_op:
        batch_op.alter_column(
            "secret", existing_type=sa.String(length=100), type_=sa.String(length=500), existing_nullable=False
        )
    conn = op.get_bind()
    rows = conn.execute(sa.select(SECRETS.c.id, SECRETS.c.secret).order_by(SECRETS.c.id)).all()
    if rows:
        cipher = _cipher()
        for row_id, secret in rows:
            token = cipher.encrypt(secret.encode("ascii")).decode("ascii")
            conn.execute(sa.update(SECRETS).where(SECRETS.c.id == row_id).values(secret=token))
    conn.execute(
        sa.text(
            "UPDATE webhook_attempts SET response_excerpt = NULL "
            "WHERE status_code IS NULL OR status_code < 200 OR status_code > 299"
        )
    )


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(SECRETS.c.id, SECRETS.c.secret).order_by(SECRETS.c.id)).all()
    if rows:
        cipher = _cipher()
        for row_id, token in rows:
            try:
                secret = cipher.decrypt(token.encode("ascii")).decode("ascii")
            except InvalidToken:
                raise RuntimeError(
                    f"webhook secret {row_id} does not decrypt with REGIEFLOW_SECRET_KEY nor "
                    "REGIEFLOW_PREVIOUS_SECRET_KEYS: downgrade with the key that encrypted it"
                ) from None
            conn.execute(sa.update(SECRETS).where(SECRETS.c.id == row_id).values(secret=secret))
    with op.batch_alter_table("webhook_secrets", schema=None) as batch_op:
        batch_op.alter_column(
            "secret", existing_type=sa.String(length=500), type_=sa.String(length=100), existing_nullable=False
        )
