"""The default database does not depend on the current directory: a person who runs the command line
from elsewhere reaches the database the server uses, and never a new empty one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.cli import error_line, invoke_cli


def test_the_default_is_in_the_users_data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.core.settings import Settings

    monkeypatch.delenv("REGIEFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    urls = set()
    for where in (tmp_path, tmp_path / "home", Path("/")):
        where.mkdir(exist_ok=True)
        monkeypatch.chdir(where)
        urls.add(Settings().database_url)
    assert urls == {f"sqlite:///{tmp_path / 'home' / '.local' / 'share' / 'regieflow' / 'regieflow.db'}"}
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert Settings().database_url == f"sqlite:///{tmp_path / 'data' / 'regieflow' / 'regieflow.db'}"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/data")  # the XDG specification: ignored
    assert Settings().database_url.startswith(f"sqlite:///{tmp_path / 'home' / '.local' / 'share'}")


def _run(args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIEFLOW_") and k != "XDG_DATA_HOME"}
    env |= {"HOME": str(home), "REGIEFLOW_NEW_PASSWORD": "un mot de passe assez long"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_command_line_finds_the_same_database_from_any_directory(tmp_path: Path) -> None:
    home, one, other = tmp_path / "home", tmp_path / "one", tmp_path / "other"
    for d in (home, one, other):
        d.mkdir()
    database = home / ".local" / "share" / "regieflow" / "regieflow.db"
    # Nothing there yet: a command that is not meant to create the database says so and creates nothing.
    missing = _run(["keys", "list"], cwd=one, home=home)
    assert missing.returncode == 2 and f"no database at {database}" in missing.stderr
    assert "Traceback" not in missing.stderr and not database.exists()
    created = _run(["db", "upgrade"], cwd=one, home=home)
    assert created.returncode == 0, created.stderr
    assert database.exists() and f"Database: sqlite:///{database}" in created.stderr
    user = _run(["users", "create", "--email", "a@example.fr", "--name", "A", "--role", "admin"], cwd=other, home=home)
    assert user.returncode == 0, user.stderr
    assert f"Database: sqlite:///{database}" in user.stderr
    key = _run(["keys", "create", "--name", "partenaire"], cwd=tmp_path, home=home)
    assert key.returncode == 0, key.stderr
    listed = _run(["keys", "list"], cwd=one, home=home)
    assert "partenaire" in listed.stdout
    assert not list(tmp_path.glob("*/regieflow.db")) and not (tmp_path / "regieflow.db").exists()


def test_a_relative_url_shows_where_it_lands_and_is_not_created_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke_cli(["verify"], env={"REGIEFLOW_DATABASE_URL": "sqlite:///regieflow.db"})
    assert result.stderr.splitlines()[0] == f"Database: sqlite:///regieflow.db ({tmp_path / 'regieflow.db'})"
    assert "no database at" in error_line(result)
    assert not (tmp_path / "regieflow.db").exists()


def test_the_demo_command_loads_in_a_fresh_interpreter(tmp_path: Path) -> None:
    """`regieflow demo` imports only what it uses: the ORM still knows every table before its first flush
    (an opinion answer's key to documents failed when nothing else had imported the documents' model)."""
    home = tmp_path / "home"
    home.mkdir()
    assert _run(["db", "upgrade"], cwd=tmp_path, home=home).returncode == 0
    env_demo = _run(["demo"], cwd=tmp_path, home=home)
    assert env_demo.returncode == 0, env_demo.stderr[-2000:]
    assert "Traceback" not in env_demo.stderr
    verified = _run(["verify"], cwd=tmp_path, home=home)
    assert verified.returncode == 0 and "0 with discrepancies" in verified.stdout, verified.stdout + verified.stderr
