"""Data recorded before issue 12 stays readable (DOMAIN.md: guards judge transitions when they are
fired, not history): a database written by the code before the change upgrades to the current schema,
every project keeps its state, `verify` is clean, and every view of every project answers."""

from __future__ import annotations

import gzip
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.assessments.service import grid_of
from app.core.database import make_engine, make_session_factory
from app.core.migrate import upgrade
from app.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.projects.models import Project
from app.projects.service import project_read
from app.transitions.service import schedule_of, transitions_view
from app.transitions.verify import verify
from tests.support.clock import TODAY

FIXTURE = Path(__file__).resolve().parent / "data" / "before_issue12.db.gz"


def _states(path: Path) -> Counter[str]:
    with sqlite3.connect(path) as conn:
        return Counter(state for (state,) in conn.execute("SELECT state FROM projects"))


def test_a_database_from_before_issue_12_upgrades_keeps_its_states_and_verifies(tmp_path: Path) -> None:
    db = tmp_path / "before.db"
    db.write_bytes(gzip.decompress(FIXTURE.read_bytes()))
    before = _states(db)
    assert sum(before.values()) == 15 and before["labellisee"] == 1  # labelled without any grid
    url = f"sqlite:///{db}"
    upgrade(url)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        checked, findings = verify(UnitOfWorkFactory(factory), checkpoints=False)
        assert (checked, findings) == (15, [])
        assert _states(db) == before
        with UnitOfWork(factory) as uow:
            seen: dict[str, Any] = {}
            for p in uow.session.scalars(select(Project)).all():
                full = uow.projects.get(p.id, with_evidence=True)
                assert full is not None
                # every view answers, judged by today's rules, without changing anything
                seen[full.name] = (
                    transitions_view(full, TODAY).state,
                    schedule_of(uow, full, TODAY).status,
                    grid_of(full).complete,
                    project_read(full, TODAY).state,
                )
            labelled = next(v for v in seen.values() if v[0] == "labellisee")
            assert labelled[2] is False  # labelled before the grid existed: it stays labelled
    finally:
        engine.dispose()
