"""Cold start (issue 17): `upgrade()` to the head leaves Alembic unloaded on a database already there and
runs it otherwise; the head read from the revision files is Alembic's own; start-up's collector pause
leaves the collector as it found it."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from app.core import migrate
from app.core.database import make_engine
from app.core.migrate import alembic_config, at_head, downgrade, revisions, script_heads, upgrade
from app.core.startup import loading

ROOT = Path(__file__).resolve().parents[2]


def _held(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()


def _upgrade_loads_alembic(url: str) -> bool:
    """Run `upgrade(url)` in a fresh interpreter; whether Alembic got imported."""
    code = (
        "import sys\nfrom app.core.migrate import upgrade\n"
        f"upgrade({url!r})\nprint(any(m == 'alembic' or m.startswith('alembic.') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1] == "True"


def test_the_heads_read_from_the_files_are_alembics() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script_heads() == frozenset(script.get_heads()) == {revisions()[-1]}


def test_the_test_database_is_at_the_head(database_url: str) -> None:
    assert at_head(database_url)  # SQLite, or PostgreSQL with REGIEFLOW_TEST_DATABASE_URL


def test_at_the_head_alembic_is_not_loaded_and_behind_it_migrates(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cold.db'}"
    assert _upgrade_loads_alembic(url)  # no file yet: Alembic creates the schema
    assert _held(url) == [revisions()[-1]] and at_head(url)
    assert not _upgrade_loads_alembic(url)  # at the head: nothing loaded, nothing changed
    assert _held(url) == [revisions()[-1]]

    downgrade(url, revisions()[-2])  # one revision behind: the start migrates it
    assert not at_head(url)
    assert _upgrade_loads_alembic(url)
    assert _held(url) == [revisions()[-1]] and at_head(url)
    engine = make_engine(url)
    try:
        assert "projects" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_not_at_the_head_when_there_is_nothing_to_read(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    assert not at_head(f"sqlite:///{missing}")
    assert not missing.exists()  # the check creates no file: Alembic does, when it migrates
    assert not at_head("sqlite://")
    empty = tmp_path / "empty.db"
    engine = make_engine(f"sqlite:///{empty}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE other (id INTEGER)"))
    engine.dispose()
    assert not at_head(f"sqlite:///{empty}")  # no alembic_version table
    upgrade(f"sqlite:///{empty}")
    assert at_head(f"sqlite:///{empty}")


def _revision_file(directory: Path, name: str, revision: str, down: str) -> None:
    (directory / name).write_text(
        f'"""{name}"""\n\nrevision: str = {revision}\ndown_revision: str | None = {down}\n\n\n'
        "def upgrade() -> None:\n    pass\n",
        encoding="utf-8",
    )


def test_heads_of_branches_and_merges_and_unsure_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(migrate, "VERSIONS", tmp_path)
    _revision_file(tmp_path, "a.py", "'a'", "None")
    _revision_file(tmp_path, "b.py", '"b"', "'a'")
    _revision_file(tmp_path, "c.py", "'c'", "'a'")
    (tmp_path / "__init__.py").write_text("", encoding="utf-8")  # not a revision, as for Alembic
    assert script_heads() == {"b", "c"}  # two branches: two heads
    _revision_file(tmp_path, "d.py", "'d'", "('b', 'c')")
    assert script_heads() == {"d"}  # merged
    _revision_file(tmp_path, "e.py", "make_id()", "'d'")
    assert script_heads() is None  # a revision id that is no literal: only Alembic knows
    (tmp_path / "e.py").unlink()
    (tmp_path / "f.py").write_text("def upgrade() -> None:\n    pass\n", encoding="utf-8")
    assert script_heads() is None  # no revision line at all


def test_loading_pauses_the_collector_and_restores_it() -> None:
    assert gc.isenabled()
    with loading():
        assert not gc.isenabled()
        with loading():
            assert not gc.isenabled()
        assert not gc.isenabled()
        made = [[i] for i in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() == 0  # moved to the oldest generation, not frozen
    assert all(gc.is_tracked(x) for x in made[:10])
    gc.disable()
    try:
        with loading():
            pass
        assert not gc.isenabled()  # a collector switched off stays off
    finally:
        gc.enable()
