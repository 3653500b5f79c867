"""The suite's root: what every folder shares, and no web framework.

Layout. One folder per package of app/ (tests/projects for app/projects, tests/http for app/http…),
plus tests/unit (the domain, workflow/: no database), tests/reliability (the bench drills and hostile
inputs) and tests/e2e (a served app and a browser). The services are also tested over a fake unit of
work (tests/projects/test_project_service.py, tests/transitions/test_transition_service.py): no
database, no web framework.
Each folder's conftest.py holds the fixtures only that folder needs, and opts into the shared ones it
wants that apply by themselves (`fast_passwords`). Helpers are plain modules in tests/support/.

Shared fixtures. The database and application fixtures serve every folder that reaches a database, and
some are session-scoped (one Alembic upgrade, one application per run): they must be defined once, for
the whole tree, or pytest would build them again in each folder that defines them. So they live in
plugin modules registered here, and only here (pytest accepts `pytest_plugins` in the root conftest
alone): tests/fixtures/database.py (the database, one rolled-back transaction per test; see there),
tests/fixtures/application.py (the app, its clock and settings, clients) and tests/fixtures/cli.py (the
command line). Those modules import SQLAlchemy, FastAPI and the application inside the fixtures, so
that `pytest tests/unit` imports none of it and collects in about a second.

Markers (pyproject.toml): `slow` for the drills and the browser journey (`pytest -m "not slow"` is the
fast set); `committed` is added here to every test that commits for real (`committed_db`).
"""

from __future__ import annotations

import os

import pytest

# A fixed server key for the whole run (app/core/keys.py): no test writes a key file into the home
# directory, and subprocesses (CLI, served app) inherit it. Tests of the key's absence unset it.
os.environ.setdefault("REGIEFLOW_SECRET_KEY", "test-key-0123456789abcdefghijklmnopqrstuvwxyz")
# `regieflow demo` and `serve --demo` generate 12 past projects, not 200 (REGIEFLOW_DEMO_HISTORY_PROJECTS):
# the same code path at a twentieth of the cost. The full generated history, whose distributions the
# forecast tests check, is loaded by tests/forecasts/conftest.py with its own count.
os.environ.setdefault("REGIEFLOW_DEMO_HISTORY_PROJECTS", "12")

pytest_plugins = ("tests.fixtures.database", "tests.fixtures.application", "tests.fixtures.cli")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "committed_db" in getattr(item, "fixturenames", ()):
            item.add_marker("committed")


# --- checkpoints (app/checkpoints) -------------------------------------------------------------------
_checkpoint_dirs = iter(range(1, 1 << 62))


@pytest.fixture(autouse=True)
def _checkpoint_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own REGIEFLOW_CHECKPOINT_DIR (created only if something writes there): a checkpoint
    that a worker wrote in one test must not be compared with the next test's database (the same URL),
    and none lands in the home directory."""
    import sys

    path = tmp_path_factory.getbasetemp() / "checkpoints" / str(next(_checkpoint_dirs))
    monkeypatch.setenv("REGIEFLOW_CHECKPOINT_DIR", str(path))
    settings = sys.modules.get("app.core.settings")
    if settings is not None:
        settings.get_settings.cache_clear()


# --- documents (app/documents) ------------------------------------------------------------------------
_documents_dirs = iter(range(1, 1 << 62))


@pytest.fixture(autouse=True)
def _documents_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own REGIEFLOW_DOCUMENTS_DIR: an upload made by any test (the route walk's, say) never
    lands in the home directory."""
    path = tmp_path_factory.getbasetemp() / "documents" / str(next(_documents_dirs))
    monkeypatch.setenv("REGIEFLOW_DOCUMENTS_DIR", str(path))
