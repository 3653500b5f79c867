"""What the service writes verifies clean, checkpoint included: the demo portfolio (every kind of
history the demo tells), and its full export imported into a new database."""

from __future__ import annotations

import pytest

from app.checkpoints import service as ck
from app.core.database import make_engine, make_session_factory
from app.core.unit_of_work import UnitOfWorkFactory
from app.demo.service import load_demo
from app.exchange import dump
from app.transitions.verify import run
from tests.checkpoints.tampering import checkpoint, uows, verify_all
from tests.fixtures.database import sibling_database, truncate
from tests.support.clock import TODAY


@pytest.fixture(scope="module")
def _copy_database(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return sibling_database(database_url, "checkpoint_copy", tmp_path_factory)


def test_the_demo_and_its_import_verify_clean_with_their_checkpoints(
    db, session_factory, settings, clock, _copy_database
) -> None:
    created = load_demo(uows(session_factory, settings), settings, only_if_empty=False, today=TODAY)
    assert len(created) >= 10
    first = checkpoint(session_factory, settings, clock)
    assert first.written is not None and first.written.project_count == len(created)
    report, problems = verify_all(session_factory, settings)
    assert problems == {} and report.checked == len(created) and report.checkpoint is not None

    exported = dump.export_json(uows(session_factory, settings))
    engine = make_engine(_copy_database)
    try:
        truncate(engine)
        copy = UnitOfWorkFactory(make_session_factory(engine), settings)
        dump.import_json(copy, exported)
        report = run(copy, settings=settings)
        assert report.findings == [] and report.checked == len(created)
        assert report.checkpoint is None  # another database: its own checkpoint file, none yet
        written = ck.write(copy, settings, clock.now())
        assert written.written is not None and written.path != first.path
        assert written.written.projects == first.written.projects  # the same chains, the same heads
        report = run(copy, settings=settings)
        assert report.findings == [] and report.checkpoint is not None
    finally:
        truncate(engine)
        engine.dispose()
