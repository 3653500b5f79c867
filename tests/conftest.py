"""Fixtures. The schema is built by Alembic once per run; each test starts from empty tables.

The suite runs on a temporary SQLite file by default and on PostgreSQL when
REGIEFLOW_TEST_DATABASE_URL is set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from app.core.database import Base, is_sqlite, make_engine, make_session_factory
from app.core.migrate import upgrade
from app.core.settings import Settings
from app.http.application import create_app
from tests.support import SettableClock

TODAY = date(2026, 11, 26)


def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("REGIEFLOW_TEST_DATABASE_URL")
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'regieflow-test.db'}"
    else:
        _reset_postgres(url)
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def _truncate(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if is_sqlite(str(engine.url)):
            for name in tables:
                conn.execute(text(f'DELETE FROM "{name}"'))
        else:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in tables) + " RESTART IDENTITY CASCADE"))
        conn.execute(text("INSERT INTO feed_counter (id, value) VALUES (1, 0)"))


@pytest.fixture
def db(engine: Engine) -> Iterator[Engine]:
    """Empty tables before the test (committed data from the previous test is removed)."""
    _truncate(engine)
    yield engine


@pytest.fixture
def clock() -> SettableClock:
    c = SettableClock(tz=ZoneInfo("Europe/Paris"))
    c.set(TODAY)
    return c


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, max_body_bytes=64 * 1024)


@pytest.fixture(scope="session")
def _one_app(database_url: str):
    application = create_app(
        Settings(database_url=database_url, max_body_bytes=64 * 1024), clock=SettableClock(tz=ZoneInfo("Europe/Paris"))
    )
    yield application
    application.state.engine.dispose()


@pytest.fixture
def app(_one_app, db: Engine, settings: Settings, clock: SettableClock):
    """One application for the whole run, given each test's empty tables, settings and clock.

    FastAPI builds each route's handling lazily, per application, on its first request (~0.3 s for
    this app); a new application per test would pay that again and again."""
    _one_app.state.settings = settings
    _one_app.state.clock = clock
    return _one_app


@pytest.fixture
def fresh_app(db: Engine, settings: Settings, clock: SettableClock):
    """A new application, for a test that changes the app itself (adds a route, say)."""
    application = create_app(settings, clock=clock)
    yield application
    application.state.engine.dispose()


def make_key(
    app, *, scopes=("read", "write"), consultant=True, regions=None, project_ids=None, name="Test key", expires_at=None
):
    """Create an API key directly through the accounts service; returns (key string, row)."""
    from app.accounts import service as accounts
    from app.core.unit_of_work import UnitOfWork

    with UnitOfWork(app.state.session_factory) as uow:
        new = accounts.create_api_key(
            uow,
            name=name,
            scopes=list(scopes),
            consultant=consultant,
            regions=regions,
            project_ids=project_ids,
            expires_at=expires_at,
            created_by="tests",
            now=app.state.clock.now(),
        )
        return new.key, new.row


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    """A client authenticated with an unrestricted consultant key (read, write, label)."""
    key, _ = make_key(app, name="Mouvement des Régies – tests")
    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


@pytest.fixture
def anon_client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
