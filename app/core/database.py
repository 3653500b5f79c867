"""Engine and sessions. SQLite gets WAL, foreign keys, a busy timeout and BEGIN IMMEDIATE for
writing transactions (so two writers queue instead of failing with "database is locked")."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    MetaData,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, busy_timeout_ms: int = 30_000, echo: bool = False) -> Engine:
    if is_sqlite(url):
        engine = create_engine(
            url, echo=echo, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            if make_url(url).database not in (None, "", ":memory:"):
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("regieflow_write", True)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # Every mapped class, before the first flush: SQLAlchemy resolves a table's foreign keys (and orders a
    # flush) over the whole schema, so a command that imports only some concepts (`regieflow demo`) would
    # fail on a key to a table whose model nobody imported (opinion_answers → documents).
    import app.tables  # noqa: F401

    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: pass an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class _Suffixed(ColumnElement[Any]):
    """A column followed by a clause that depends on the database (SUFFIX by dialect name, "" for the
    others): the same element in an index and in an ORDER BY, so that the index serves the sort."""

    inherit_cache = True
    _traverse_internals = [("expr", InternalTraversal.dp_clauseelement)]  # noqa: RUF012 - SQLAlchemy's own
    SUFFIX: ClassVar[dict[str, str]] = {}

    def __init__(self, expr: Any) -> None:
        self.expr = expr
        self.type = expr.type


@compiles(_Suffixed)
def _suffixed(element: _Suffixed, compiler: Any, **kw: Any) -> str:
    suffix = element.SUFFIX.get(compiler.dialect.name, element.SUFFIX.get("", ""))
    return str(compiler.process(element.expr, **kw)) + suffix


class by_bytes(_Suffixed):
    """A text column compared byte by byte on both databases: `col COLLATE "C"` on PostgreSQL (whose
    locale's collation would weigh spaces and punctuation its own way), the column itself on SQLite
    (whose default, BINARY, already is)."""

    inherit_cache = True
    SUFFIX: ClassVar[dict[str, str]] = {"postgresql": ' COLLATE "C"'}


class desc_nulls_last(_Suffixed):
    """`col DESC NULLS LAST`; SQLite (whose indexes take no NULLS clause, and which puts NULLs last in
    descending order already) gets `col DESC`."""

    inherit_cache = True
    SUFFIX: ClassVar[dict[str, str]] = {"postgresql": " DESC NULLS LAST", "": " DESC"}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values: Any) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
