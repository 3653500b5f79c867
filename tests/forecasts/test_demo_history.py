"""`serve --demo` tells the generated history in a background thread (app/demo/history.py): the service
answers first; an interrupted generation resumes where it stopped, whole projects only; the pages say the
history is being generated meanwhile."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from app.core.database import make_engine, make_session_factory
from app.core.settings import Settings
from app.core.unit_of_work import UnitOfWorkFactory
from app.demo.history import in_background, load_history, pending, plan_lives, told
from app.demo.service import load_demo
from app.forecasts.repository import ForecastRepository
from app.forecasts.service import HISTORY_GENERATING
from app.transitions.verify import verify
from tests.fixtures.application import MAX_BODY_BYTES
from tests.fixtures.database import sibling_database
from tests.support.accounts import add_user, fast_passwords, login
from tests.support.clock import TODAY

__all__ = ["fast_passwords"]

COUNT = 12


def test_background_generation_resumes_after_an_interruption(database_url, tmp_path_factory) -> None:
    url = sibling_database(database_url, "background", tmp_path_factory)
    settings = Settings(database_url=url, max_body_bytes=MAX_BODY_BYTES)
    engine = make_engine(url)
    uows = UnitOfWorkFactory(make_session_factory(engine), settings)
    try:
        assert not pending(uows, count=COUNT)  # no demo portfolio: nothing to generate
        demo = load_demo(uows, settings, only_if_empty=True, today=TODAY)
        assert pending(uows, count=COUNT)

        # A server stopped after the fifth project: its `stop` is set, nothing more is told, no refresh.
        stop = threading.Event()
        first = load_history(uows, settings, today=TODAY, count=5)
        stop.set()
        assert load_history(uows, settings, today=TODAY, count=COUNT, resume=True, stop=stop) == []
        assert len(told(uows)) == 5
        with uows(write=False) as uow:
            assert ForecastRepository(uow.session).refresh_row() is not None  # from the first five

        # The next `serve --demo` resumes in the background and stops at COUNT projects in all.
        with in_background(settings, today=TODAY, count=COUNT) as thread:
            assert thread is not None
            thread.join()
        assert not HISTORY_GENERATING.is_set()
        names = {life.name for life in plan_lives(TODAY, count=COUNT)}
        assert told(uows) == names and {life.name for life in first} < names
        assert not pending(uows, count=COUNT)
        with in_background(settings, today=TODAY, count=COUNT) as again:
            assert again is None  # complete: nothing started

        with uows(write=False) as uow:
            refreshed = ForecastRepository(uow.session).refresh_row()
            assert refreshed is not None and refreshed.projects == len(demo) + COUNT
        checked, findings = verify(uows, checkpoints=False)
        assert checked == len(demo) + COUNT and findings == []
    finally:
        engine.dispose()


@pytest.fixture
def generating():
    HISTORY_GENERATING.set()
    yield
    HISTORY_GENERATING.clear()


def test_pages_say_the_history_is_being_generated(history, generating) -> None:
    add_user(history, "claire@example.org", [("consultant", None, None)])
    with TestClient(history, raise_server_exceptions=False) as browser:
        login(browser, "claire@example.org")
        page = browser.get("/analyse")
        assert page.status_code == 200, page.text
        assert 'id="historique-en-cours"' in page.text and "Historique en cours de génération" in page.text
    HISTORY_GENERATING.clear()
    with TestClient(history, raise_server_exceptions=False) as browser:
        login(browser, "claire@example.org")
        assert 'id="historique-en-cours"' not in browser.get("/analyse").text
