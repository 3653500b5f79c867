"""keyed event chain

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 00:45:00

Every event's hash becomes HMAC-SHA256 with a key derived from the server key (REGIEFLOW_SECRET_KEY,
never stored in the database), over the same canonical content and the previous hash. The existing
unkeyed chain (SHA-256, revision 0002) is verified first: a broken chain is refused, never re-keyed,
since re-keying it would bless whatever broke it. Downgrade does the reverse (verifies the keyed chain
with the current key, then writes the unkeyed SHA-256 chain back).
"""
from __future__ import annotations

from collections.abc import Sequence

import hashlib
import hmac
import json
from datetime import date, datetime, timezone

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the hash rule at this revision (app.core.security.event_hash and app.core.keys' HKDF),
# so that this migration keeps giving the same hashes whatever later code does. Only the master key is
# read from the application's settings: it is configuration, not code.
_FIELDS = ("project_id", "seq", "type", "trigger", "from_state", "to_state", "effective_on", "recorded_at",
           "actor", "reason", "data")
_PURPOSE = "event-chain"


def _canonical(value):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _content(fields, prev_hash):
    content = {k: _canonical(v) for k, v in fields.items()}
    content["prev_hash"] = prev_hash or ""
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def _unkeyed(fields, prev_hash):
    return hashlib.sha256(_content(fields, prev_hash)).hexdigest()


def _chain_key():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from app.core.keys import master_key
    from app.core.settings import get_settings

    master = master_key(get_settings())
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"regieflow:{_PURPOSE}".encode())
    return hkdf.derive(master.encode())


def _events():
    return sa.table(
        "events", sa.column("id", sa.Integer), sa.column("project_id", sa.Uuid), sa.column("seq", sa.Integer),
        sa.column("type", sa.String), sa.column("trigger", sa.String), sa.column("from_state", sa.String),
        sa.column("to_state", sa.String), sa.column("effective_on", sa.Date),
        sa.column("recorded_at", sa.DateTime(timezone=True)), sa.column("actor", sa.String),
        sa.column("reason", sa.Text), sa.column("data", sa.JSON), sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
    )


def _rechain(old_rule, new_rule, what):
    """Check every project's chain with `old_rule` (refuse a broken one), then write it with `new_rule`."""
    events = _events()
    conn = op.get_bind()
    rows = conn.execute(sa.select(events).order_by(events.c.project_id, events.c.seq)).mappings().all()
    if not rows:
        return
    old, new = old_rule(), new_rule()
    checked = {}  # project id -> (last seq, last old hash)
    updates = []
    new_prev = {}
    for row in rows:
        fields = {n: row[n] for n in _FIELDS}
        fields["project_id"] = pid = str(row["project_id"])
        seq, prev = checked.get(pid, (0, None))
        if row["seq"] != seq + 1 or row["prev_hash"] != prev or row["hash"] != old(fields, prev):
            raise RuntimeError(
                f"Migration 0005 refusée : la chaîne d'événements du projet {pid} est rompue à l'événement "
                f"{row['seq']} ({what} : numéro, lien ou contenu). Elle n'est pas recalculée, ce qui "
                "effacerait la trace de la modification : restaurez une sauvegarde saine, ou examinez la base "
                "avec `regieflow verify` dans la version précédente, puis relancez `regieflow db upgrade`."
            )
        checked[pid] = (row["seq"], row["hash"])
        digest = new(fields, new_prev.get(pid))
        updates.append({"row_id": row["id"], "p": new_prev.get(pid), "h": digest})
        new_prev[pid] = digest
    stmt = events.update().where(events.c.id == sa.bindparam("row_id")).values(
        prev_hash=sa.bindparam("p"), hash=sa.bindparam("h")
    )
    for start in range(0, len(updates), 1000):
        conn.execute(stmt, updates[start:start + 1000])


def _keyed_rule():
    key = _chain_key()
    return lambda fields, prev: hmac.new(key, _content(fields, prev), hashlib.sha256).hexdigest()


def upgrade() -> None:
    _rechain(lambda: _unkeyed, _keyed_rule, "chaîne SHA-256 non clé")


def downgrade() -> None:
    _rechain(_keyed_rule, lambda: _unkeyed, "chaîne HMAC avec la clé du serveur")
