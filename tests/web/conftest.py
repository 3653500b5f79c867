"""The pages (app/web's kit and every concept's pages.py), over the demo portfolio or a test's own data.

The demo portfolio takes seconds to load: it is loaded once per run, committed, into a database of its
own (a sibling of the suite's: tests/fixtures/database.py, sibling_database), and each test that reads
it (`demo`) runs inside a transaction of that database rolled back at its end, like `db`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.fixtures.application import MAX_BODY_BYTES, serving
from tests.fixtures.database import rolled_back, sibling_database
from tests.support.accounts import FAST_HASHER, fast_passwords
from tests.support.clock import TODAY

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy import Engine

__all__ = ["demo", "demo_database", "demo_ids", "fast_passwords"]


@pytest.fixture(scope="session")
def demo_database(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict]]:
    """The demo portfolio in its own database, for the whole run: (its engine, project name → id)."""
    from app.core import security
    from app.core.database import make_engine, make_session_factory
    from app.core.settings import Settings
    from app.core.unit_of_work import UnitOfWorkFactory
    from app.demo.service import load_demo

    url = sibling_database(database_url, "demo", tmp_path_factory)
    engine = make_engine(url)
    settings = Settings(database_url=url, max_body_bytes=MAX_BODY_BYTES)
    with pytest.MonkeyPatch.context() as mp:  # cheap argon2 for the demo logins
        mp.setattr(security, "_hasher", FAST_HASHER)
        created = load_demo(UnitOfWorkFactory(make_session_factory(engine)), settings, only_if_empty=False, today=TODAY)
    yield engine, {p.name: p.id for p in created}
    engine.dispose()


@pytest.fixture
def demo_ids(demo_database: tuple[Engine, dict]) -> dict[str, uuid.UUID]:
    """The demo projects' ids, by name."""
    return dict(demo_database[1])


@pytest.fixture
def demo(_one_app: FastAPI, demo_database: tuple[Engine, dict], settings, clock) -> Iterator[FastAPI]:
    """The application over the demo portfolio; what the test writes is rolled back."""
    engine, _ = demo_database
    with rolled_back(engine, str(engine.url)) as demo_db, serving(_one_app, demo_db, settings, clock):
        yield _one_app
