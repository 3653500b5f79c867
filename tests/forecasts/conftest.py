"""The generated history (app/demo/history.py) in a database of its own, loaded once per run through the
services, like the demo portfolio in tests/web/conftest.py; each test that reads it runs in a transaction
rolled back at its end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.fixtures.application import MAX_BODY_BYTES, serving
from tests.fixtures.database import rolled_back, sibling_database
from tests.support.clock import TODAY

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy import Engine


@pytest.fixture(scope="session")
def history_database(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Any]]:
    """(engine, the lives told) of the default generated history, as of TODAY."""
    from app.core.database import make_engine, make_session_factory
    from app.core.settings import Settings
    from app.core.unit_of_work import UnitOfWorkFactory
    from app.demo.history import load_history

    url = sibling_database(database_url, "history", tmp_path_factory)
    engine = make_engine(url)
    settings = Settings(database_url=url, max_body_bytes=MAX_BODY_BYTES)
    lives = load_history(UnitOfWorkFactory(make_session_factory(engine), settings), settings, today=TODAY)
    yield engine, lives
    engine.dispose()


@pytest.fixture
def history(_one_app: FastAPI, history_database: tuple[Engine, Any], settings, clock) -> Iterator[FastAPI]:
    """The application over the generated history; what the test writes is rolled back."""
    engine, _ = history_database
    with rolled_back(engine, str(engine.url)) as db, serving(_one_app, db, settings, clock):
        yield _one_app
