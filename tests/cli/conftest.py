"""app/cli: the command line for people — a mistake is one line and exit 2, the database is always the
same one and always named, `demo` and `serve` refuse what they cannot do.

Most tests run the CLI in-process (`invoke_cli`, tests/fixtures/cli.py) on a SQLite file of their own
(`sqlite_url`, not created until a command creates it); `serve` and the default database location are
checked in subprocesses, as a person would run them."""

from __future__ import annotations

import pytest

from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords"]


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A SQLite file in the test's own directory, not created yet."""
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def upgraded_url(sqlite_url: str) -> str:
    """That file, created and migrated by `regieflow db upgrade`."""
    from tests.fixtures.cli import invoke_cli

    result = invoke_cli(["db", "upgrade"], env={"REGIEFLOW_DATABASE_URL": sqlite_url})
    assert result.exit_code == 0, result.output
    return sqlite_url
