"""Full JSON export of the database, and its import into an empty database.

`export` → `import` into a fresh database → `export` gives byte-identical JSON: tables come in
foreign-key order, rows in primary-key order, columns in table order, every value in one canonical
form (UUIDs as strings, dates `YYYY-MM-DD`, timestamps `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC, JSON
values with sorted keys), one row per line. Rows are copied as they are, ids included, so event
hashes, feed positions and every reference survive and `regieflow verify` stays clean.

Every table is exported except the volatile ones (EXCLUDED): login sessions, login throttling
counters, idempotency records and worker heartbeats, which only make sense for a few hours on the
server that made them. A table added later is exported by default. Secrets stay in the form the database keeps them:
password hashes (argon2id), API key and calendar token hashes (SHA-256) — never a usable key — and
webhook signing secrets ENCRYPTED (Fernet tokens under a key derived from REGIEFLOW_SECRET_KEY, which
is in neither the database nor the file): only a server with the same key (or with it among
REGIEFLOW_PREVIOUS_SECRET_KEYS) can sign with them after an import; under another key their deliveries
fail with a French reason until their owners renew them (docs/RELIABILITY.md, "Webhook secrets at
rest"). Treat the file as sensitive all the same.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Column, Connection, Date, MetaData, PrimaryKeyConstraint, Table, Uuid, func, select, text, true
from sqlalchemy.exc import IntegrityError

from app.core.database import UTCDateTime
from app.core.errors import AppError
from app.core.unit_of_work import UnitOfWorkFactory
from app.tables import metadata

FORMAT = "regieflow-dump"


FORMAT_VERSION = 1


EXCLUDED = frozenset({"web_sessions", "login_throttles", "idempotency_keys", "worker_heartbeats"})


def _kept(table: Table) -> Any:
    """The rows of a table the dump carries: all, except the forgotten-password requests waiting in the
    mail outbox (the address someone typed, whether or not it is an account's, until the worker turns it
    into the reset mail or deletes it: app/accounts/password_reset.py)."""
    if table.name == "mail_outbox":
        from app.accounts.password_reset import RESET_REQUEST

        return table.c.kind != RESET_REQUEST
    return true()


# --- documents (app/documents, issue 14) ----------------------------------------------------------------
# Their metadata is exported like any table: titles, kinds, versions, storage keys, sizes and SHA-256.
# The files are not in the dump: they travel beside it (copy REGIEFLOW_DOCUMENTS_DIR, or the S3 bucket,
# with the export; docs/RELIABILITY.md §8), and `regieflow verify` after the import checks that every
# file a version names is there and unchanged.
FILES_TRAVEL_BESIDE = frozenset({"documents", "document_versions"})


BATCH = 1000


class ImportRefused(AppError):
    code = "import_refuse"


def tables() -> list[Table]:
    """The exported tables, parents before children."""
    return [t for t in metadata.sorted_tables if t.name not in EXCLUDED]


# --- values -----------------------------------------------------------------------------------------
def _out(column: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, UTCDateTime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):  # pragma: no cover - every timestamp column is UTCDateTime
        raise TypeError(f"{column}: naive timestamp column")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _in(column: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, UTCDateTime):
        return datetime.fromisoformat(value).astimezone(UTC)
    if isinstance(column.type, Uuid):
        return uuid.UUID(value)
    if isinstance(column.type, Date):
        return date.fromisoformat(value)
    return value


def _line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _pk_key(table: Table, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c.name] for c in table.primary_key.columns)


# --- export -----------------------------------------------------------------------------------------
def schema_revision(conn: Connection) -> str | None:
    try:
        revision: str | None = conn.scalar(text("SELECT version_num FROM alembic_version"))
        return revision
    except Exception:
        return None


def export_lines(conn: Connection) -> Iterable[str]:
    """The dump, line by line (each ends with a newline)."""
    revision = schema_revision(conn)
    yield "{" + f'"format":{_line(FORMAT)},"format_version":{FORMAT_VERSION},"schema_revision":{_line(revision)},'
    yield f'"excluded":{_line(sorted(EXCLUDED))},"tables":[' + "\n"
    first_table = True
    for table in tables():
        columns = list(table.columns)
        rows = [dict(r._mapping) for r in conn.execute(select(table).where(_kept(table)))]
        rows.sort(key=lambda r: _pk_key(table, r))
        head = "" if first_table else ",\n"
        first_table = False
        yield f'{head}{{"name":{_line(table.name)},"columns":{_line([c.name for c in columns])},"rows":['
        for i, row in enumerate(rows):
            yield ("\n" if i == 0 else ",\n") + _line([_out(c, row[c.name]) for c in columns])
        yield ("\n" if rows else "") + "]}"
    yield "\n]}\n"


def export_json(uows: UnitOfWorkFactory) -> str:
    """The whole dump as one string, read in one consistent snapshot (REPEATABLE READ on PostgreSQL)."""
    with uows(write=False, snapshot=True) as uow:
        return "".join(export_lines(uow.session.connection()))


# --- import -----------------------------------------------------------------------------------------
def _is_empty(conn: Connection, layout: list[Table] | None = None) -> list[str]:
    """The tables that hold data (a fresh database's feed counter at 0 counts as empty)."""
    busy = []
    for table in layout if layout is not None else metadata.sorted_tables:
        if table.name == "feed_counter":
            if conn.scalar(select(func.count()).select_from(table).where(table.c.value != 0)):
                busy.append(table.name)
        elif conn.scalar(select(func.count()).select_from(table)):
            busy.append(table.name)
    return busy


def _reset_sequences(conn: Connection, layout: list[Table]) -> None:
    """PostgreSQL: move each serial counter past the imported ids (SQLite takes max(id) + 1 itself)."""
    if conn.dialect.name != "postgresql":
        return
    for table in layout:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not pk[0].autoincrement or isinstance(pk[0].type, Uuid) or pk[0].name != "id":
            continue
        seq = conn.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name})
        if seq:
            conn.execute(
                text(f'SELECT setval(:s, COALESCE((SELECT MAX(id) FROM "{table.name}"), 0) + 1, false)'), {"s": seq}
            )


def parse(raw: str | bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ImportRefused(f"Ce fichier n'est pas du JSON lisible : {exc}.") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ImportRefused("Ce fichier n'est pas un export complet de regieflow (format regieflow-dump).")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ImportRefused(
            f"Version de format {doc.get('format_version')!r} non prise en charge (attendue : {FORMAT_VERSION})."
        )
    return doc


def tables_at(conn: Connection) -> list[Table]:
    """The exported tables as the connected database has them (an older schema revision), parents first;
    each column typed as the current models type it, so that values convert exactly as they do at head."""
    reflected = MetaData()
    reflected.reflect(bind=conn)
    layout = []
    for table in reflected.sorted_tables:
        if table.name in EXCLUDED or table.name == "alembic_version":
            continue
        model = metadata.tables.get(table.name)
        columns = [
            Column(c.name, model.c[c.name].type if model is not None and c.name in model.c else c.type)
            for c in table.columns
        ]
        layout.append(Table(table.name, MetaData(), *columns, PrimaryKeyConstraint(*table.primary_key.columns.keys())))
    return layout


def ensure_empty(uows: UnitOfWorkFactory) -> None:
    """Refuse (ImportRefused) a database that holds data."""
    with uows(write=False) as uow:
        busy = _is_empty(uow.session.connection())
    if busy:
        raise ImportRefused(
            "La base n'est pas vide (" + ", ".join(busy) + ") : l'import ne se fait que dans une base neuve."
        )


def import_json(uows: UnitOfWorkFactory, raw: str | bytes, *, head: str | None = None) -> dict[str, int]:
    """Load a dump into an empty database at the same schema revision, in one transaction.

    `head`: the latest schema revision; a database at an older one (`regieflow import` of an older
    export brings an empty database down to the export's revision, loads it, then upgrades it) is read
    as it is (`tables_at`). Returns the number of rows per table. Refuses (ImportRefused) a database
    that holds data, a dump of another schema revision, or a dump whose tables or columns differ."""
    doc = parse(raw)
    with uows(write=False) as uow:
        conn = uow.session.connection()
        layout = tables() if head is None or schema_revision(conn) == head else tables_at(conn)
    known = {t.name: t for t in layout}
    given = doc.get("tables")
    if not isinstance(given, list) or not all(isinstance(t, dict) for t in given):
        raise ImportRefused("Export illisible : « tables » doit être une liste.")
    names = [t.get("name") for t in given]
    if sorted(map(str, names)) != sorted(known):
        missing, extra = sorted(set(known) - set(names)), sorted(set(map(str, names)) - set(known))
        raise ImportRefused(
            f"Les tables de l'export ne sont pas celles de cette version (manquantes : "
            f"{missing or 'aucune'} ; inconnues : {extra or 'aucune'})."
        )
    counts: dict[str, int] = {}
    with uows() as uow:
        conn = uow.session.connection()
        revision = schema_revision(conn)
        if revision != doc.get("schema_revision"):
            raise ImportRefused(
                f"L'export vient du schéma {doc.get('schema_revision')!r}, la base est au schéma "
                f"{revision!r} : mettez les deux à la même version (regieflow db upgrade)."
            )
        busy = _is_empty(conn, layout)
        if busy:
            raise ImportRefused(
                "La base n'est pas vide (" + ", ".join(busy) + ") : l'import ne se fait que dans une base neuve."
            )
        by_name = {t["name"]: t for t in given}
        for table in layout:  # parents first, whatever the file's order
            entry = by_name[table.name]
            columns = [table.c[name] for name in entry.get("columns", []) if name in table.c]
            names = [str(n) for n in entry.get("columns", [])]
            if sorted(names) != sorted(c.name for c in table.columns) or len(columns) != len(names):  # any order
                raise ImportRefused(f"Colonnes de « {table.name} » différentes de celles de cette version.")
            try:
                rows = [{c.name: _in(c, v) for c, v in zip(columns, row, strict=True)} for row in entry.get("rows", [])]
            except (TypeError, ValueError) as exc:
                raise ImportRefused(f"Ligne illisible dans « {table.name} » : {exc}.") from None
            if table.name == "feed_counter":
                conn.execute(table.delete())
            try:
                for start in range(0, len(rows), BATCH):
                    conn.execute(table.insert(), rows[start : start + BATCH])
            except IntegrityError as exc:
                raise ImportRefused(f"Données incohérentes dans « {table.name} » : {exc.orig}.") from None
            counts[table.name] = len(rows)
        _reset_sequences(conn, layout)
        uow.commit()
    return counts
