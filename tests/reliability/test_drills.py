"""The reliability drills of bench/, run small: a concurrency soak, a kill -9 in the middle of it,
and a backup taken under load then restored. Each starts its own server process (uvicorn) on its own
database: a temporary SQLite file, or `<test database>_drill` on PostgreSQL when
REGIEFLOW_TEST_DATABASE_URL points to one. Only outcomes are asserted, never timings; the full-size
runs and their figures are in docs/RELIABILITY.md.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import make_url

from bench import backup, crash, soak

pytestmark = pytest.mark.slow  # each drill runs a server and its clients for several seconds


@pytest.fixture
def drill_url(tmp_path) -> str:
    url = os.environ.get("REGIEFLOW_TEST_DATABASE_URL")
    if not url or make_url(url).get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / 'drill.db'}"
    if not shutil.which("createdb"):
        raise RuntimeError("createdb is needed for the drill database (PostgreSQL client tools)")
    u = make_url(url)
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # with pytest -n, one drill database per process
    name = f"{u.database}_drill" + (f"_{worker}" if worker else "")
    return u.set(database=name).render_as_string(hide_password=False)


def _explain(report: dict) -> str:
    return "\n".join(report["problems"]) + f"\nstatuses: {report['statuses']}\nunexpected: {report['unexpected']}"


def _in_thread(fn, *args, **kwargs):
    """Run a drill in its own thread: it drives asyncio itself, and the main thread may already have a
    running loop (Playwright's sync API keeps one while the e2e browser is open)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def test_soak_small(drill_url: str) -> None:
    clients = 8 if drill_url.startswith("sqlite") else 16
    report = _in_thread(soak.soak, drill_url, clients=clients, projects=12, duration=8, seed=3, quiet=True)
    assert report["ok"], _explain(report)
    assert report["transitions_accepted"] > 0 and report["evidence_accepted"] > 0
    assert report["database_is_locked"] == 0


def test_kill_minus_nine_in_the_middle_leaves_nothing_half_written(drill_url: str) -> None:
    """Every write carries an Idempotency-Key; those the kill cut are retried with it after the restart,
    and the counts must match exactly: one effect per accepted write, none for the others."""
    report = _in_thread(
        crash.crash,
        drill_url,
        clients=6,
        projects=8,
        duration=10,
        kills=1,
        quiet=True,
        idempotency=True,
        stale_seconds=2,
    )
    assert report["ok"], _explain(report)
    assert report["verify"]["findings"] == []
    assert report["events"] == report["outbox"] == report["sum_of_versions"]
    assert report["writes_without_answer"] == 0  # every cut write was retried and settled
    assert all(r["retry_status"] != 409 or r["retry_code"] != "idempotence_en_cours" for r in report["retried"])


def test_backup_under_load_restores_a_clean_database(drill_url: str) -> None:
    if not drill_url.startswith("sqlite") and not shutil.which("pg_dump"):
        raise RuntimeError("pg_dump is needed for the PostgreSQL backup drill (PostgreSQL client tools)")
    report = backup.drill(drill_url, projects=3, quiet=True)
    assert report["verify_restored"]["exit"] == 0, report
    assert report["ok"], report
