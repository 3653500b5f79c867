"""app/demo: the demo portfolio, through the services and through `regieflow demo`."""

import pytest

from tests.support.accounts import fast_passwords

__all__ = ["cli_database_url", "fast_passwords"]


@pytest.fixture
def cli_database_url(tmp_path) -> str:
    """`regieflow demo` on a new SQLite file: the command migrates it first (tests/fixtures/cli.py)."""
    return f"sqlite:///{tmp_path / 'demo-cli.db'}"
