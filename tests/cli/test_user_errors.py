"""A person's mistake — an option, a file, the database, the configuration — is one line on stderr and
exit code 2, never a stack trace; the service's refusals keep their French words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.cli import error_line, invoke_cli

ROLES = ("admin", "consultant", "observateur", "porteur")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # app.core.schemas.Email, which the CLI uses
UNREACHABLE = "postgresql+psycopg://nobody:secret@127.0.0.1:1/x"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "import-projects.json"
PASSWORD = "un mot de passe assez long"
# Each example is one in-process run (no database is reached): a few dozen per property is plenty.
FEW = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _user(email: str, role: str | None, *extra: str) -> list[str]:
    args = ["users", "create", f"--email={email}", "--name", "Quelqu'un", *extra]
    return args + ([f"--role={role}"] if role is not None else [])


def _db_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


# --- options ----------------------------------------------------------------------------------------
def test_users_create_requires_a_role(sqlite_url: str) -> None:
    line = error_line(invoke_cli(_user("a@example.fr", None), env={"REGIEFLOW_DATABASE_URL": sqlite_url}))
    assert "Missing option '--role'" in line and "admin, consultant, observateur, porteur" in line
    assert not _db_file(sqlite_url).exists()


@FEW
@given(role=st.text(min_size=1, max_size=20).filter(lambda r: r.casefold() not in ROLES and r.lower() not in ROLES))
def test_a_bad_role_is_one_line(sqlite_url: str, role: str) -> None:
    result = invoke_cli(_user("a@example.fr", role), env={"REGIEFLOW_DATABASE_URL": sqlite_url})
    line = error_line(result)
    assert line.startswith("Error: Invalid value for '--role'"), line
    assert not _db_file(sqlite_url).exists()


@FEW
@given(
    email=st.one_of(
        st.sampled_from(["bad", "a@b", "@example.fr", "a@.", "a b@example.fr", "a@@example.fr", "", " "]),
        st.text(max_size=40).filter(lambda e: not EMAIL.fullmatch(e.strip())),
        st.just("a" * 250 + "@example.fr"),  # longer than 254
    )
)
def test_a_bad_email_is_one_line(sqlite_url: str, email: str) -> None:
    result = invoke_cli(_user(email, "admin"), env={"REGIEFLOW_DATABASE_URL": sqlite_url})
    line = error_line(result)
    assert line.startswith("Error: Invalid value for '--email'"), line
    assert not _db_file(sqlite_url).exists()


@pytest.mark.parametrize(
    "args",
    [
        ["keys", "create", "--name", "x", "--scope", "admin"],
        ["keys", "create", "--name", "x", "--project", "12"],
        ["keys", "create", "--name", "x", "--expires-in-days", "0"],
        ["users", "create", "--email", "a@example.fr", "--name", "x", "--role", "porteur", "--project", "nope"],
        ["serve", "--port", "0"],
        ["serve", "--port", "70000"],
        ["verify", "--no-such-option"],
        ["no-such-command"],
    ],
)
def test_bad_options_are_one_line(sqlite_url: str, args: list[str]) -> None:
    line = error_line(invoke_cli(args, env={"REGIEFLOW_DATABASE_URL": sqlite_url}))
    assert line.startswith("Error: ") and "--help" in line, line
    assert not _db_file(sqlite_url).exists()


# --- files ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["import", "import-projects"])
def test_a_missing_file_is_one_line(sqlite_url: str, tmp_path: Path, command: str) -> None:
    missing = tmp_path / "nowhere.json"
    line = error_line(invoke_cli([command, str(missing)], env={"REGIEFLOW_DATABASE_URL": sqlite_url}))
    assert line == f"Error: {missing}: No such file or directory"
    line = error_line(invoke_cli([command, str(tmp_path)], env={"REGIEFLOW_DATABASE_URL": sqlite_url}))
    assert line == f"Error: {tmp_path}: Is a directory"
    assert not _db_file(sqlite_url).exists()  # said before any database is created


@FEW
@given(raw=st.one_of(st.binary(max_size=200), st.sampled_from([b"{bad", b"", b"[]", b"null", b'{"projets": []}'])))
def test_an_invalid_bulk_import_file_is_one_line(sqlite_url: str, tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "projects.json"
    path.write_bytes(raw)
    line = error_line(invoke_cli(["import-projects", str(path)], env={"REGIEFLOW_DATABASE_URL": sqlite_url}))
    assert line.startswith(f"Error: {path} is not a bulk import file: "), line


@FEW
@given(raw=st.one_of(st.binary(max_size=200), st.sampled_from([b"{bad", b"", b"[]", b'{"format": "x"}'])))
def test_an_invalid_export_file_is_refused_in_one_line(upgraded_url: str, tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(raw)
    line = error_line(invoke_cli(["import", str(path)], env={"REGIEFLOW_DATABASE_URL": upgraded_url}))
    assert line.startswith("Refused: Ce fichier n'est pas"), line  # the service's French refusal


def test_export_to_a_directory_that_does_not_exist(upgraded_url: str, tmp_path: Path) -> None:
    target = tmp_path / "no" / "dir.json"
    line = error_line(invoke_cli(["export", "-o", str(target)], env={"REGIEFLOW_DATABASE_URL": upgraded_url}))
    assert line == f"Error: {target}: No such file or directory"


# --- the database and the configuration ------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["verify"],
        ["export"],
        ["db", "upgrade"],
        ["demo"],
        ["keys", "list"],
        ["keys", "revoke", "rf_00000000"],
        ["keys", "create", "--name", "x"],
        ["deadlines", "scan"],
        ["worker", "--once"],
        _user("a@example.fr", "admin"),
    ],
)
def test_an_unreachable_database_is_one_line_without_its_password(args: list[str]) -> None:
    result = invoke_cli(args, env={"REGIEFLOW_DATABASE_URL": UNREACHABLE, "REGIEFLOW_NEW_PASSWORD": PASSWORD})
    line = error_line(result)
    assert line.startswith("Error: cannot use the database postgresql+psycopg://nobody:***@127.0.0.1:1/x: "), line
    assert "Connection refused" in line or "connection" in line.lower()
    assert "secret" not in result.output
    assert result.stderr.startswith("Database: postgresql+psycopg://nobody:***@127.0.0.1:1/x\n")


@pytest.mark.parametrize("url", ["foo", "nosuchdialect://x/y", "postgresql+nosuchdriver://u@h/d"])
def test_a_database_url_regieflow_cannot_use_is_one_line(url: str) -> None:
    line = error_line(invoke_cli(["verify"], env={"REGIEFLOW_DATABASE_URL": url}))
    assert line.startswith("Error: REGIEFLOW_DATABASE_URL is not a database URL regieflow can use"), line


@pytest.mark.parametrize(
    ("name", "value"),
    [("REGIEFLOW_PORT", "abc"), ("REGIEFLOW_TIMEZONE", "Mars/Olympus"), ("REGIEFLOW_STEP_MONTHS", "{")],
)
def test_invalid_configuration_is_one_line_naming_the_variable(sqlite_url: str, name: str, value: str) -> None:
    line = error_line(invoke_cli(["verify"], env={"REGIEFLOW_DATABASE_URL": sqlite_url, name: value}))
    assert line.startswith("Error: invalid configuration") and name in line, line


@pytest.mark.parametrize(
    "args",
    [
        ["verify"],
        ["export"],
        ["keys", "list"],
        ["keys", "create", "--name", "x"],
        ["keys", "revoke", "rf_00000000"],
        ["deadlines", "scan"],
        ["worker", "--once"],
        ["import-projects", str(EXAMPLE)],
        _user("a@example.fr", "admin"),
    ],
)
def test_only_upgrade_serve_demo_and_import_create_a_database(sqlite_url: str, args: list[str]) -> None:
    """Elsewhere a missing SQLite file is a mistake (a wrong directory, a wrong URL), not a new database."""
    result = invoke_cli(args, env={"REGIEFLOW_DATABASE_URL": sqlite_url, "REGIEFLOW_NEW_PASSWORD": PASSWORD})
    line = error_line(result)
    path = _db_file(sqlite_url)
    assert line.startswith(f"Error: no database at {path}: create it with `regieflow db upgrade`"), line
    assert not path.exists()


def test_a_database_without_tables_says_to_upgrade(sqlite_url: str) -> None:
    _db_file(sqlite_url).touch()
    line = error_line(invoke_cli(["verify"], env={"REGIEFLOW_DATABASE_URL": sqlite_url}))
    assert "no such table" in line and line.endswith("(run `regieflow db upgrade`)"), line


# --- refusals of the service stay in French ----------------------------------------------------------
def test_refusals_keep_their_french_words(upgraded_url: str) -> None:
    env = {"REGIEFLOW_DATABASE_URL": upgraded_url, "REGIEFLOW_NEW_PASSWORD": PASSWORD}
    assert error_line(invoke_cli(["keys", "revoke", "rf_00000000"], env=env)) == "Refused: Clé d'API introuvable."
    line = error_line(invoke_cli(_user("p@example.fr", "porteur"), env=env))
    assert line == "Refused: Un porteur l'est d'un projet : indiquez project_id."
    short = {**env, "REGIEFLOW_NEW_PASSWORD": "court"}
    assert error_line(invoke_cli(_user("c@example.fr", "admin"), env=short)).startswith("Refused: ")


def test_a_valid_user_is_created_with_the_role_given(upgraded_url: str) -> None:
    env = {"REGIEFLOW_DATABASE_URL": upgraded_url, "REGIEFLOW_NEW_PASSWORD": PASSWORD}
    result = invoke_cli(_user("  Claire.Martin@Example.FR ", "Consultant", "--region", "Occitanie"), env=env)
    assert result.exit_code == 0, result.output
    assert "User claire.martin@example.fr created" in result.stdout and "role consultant" in result.stdout
    again = invoke_cli(_user("claire.martin@example.fr", "admin"), env=env)
    assert error_line(again).startswith("Refused: Un utilisateur existe déjà")


def test_ctrl_d_at_the_password_prompt_aborts(upgraded_url: str) -> None:
    result = invoke_cli(_user("a@example.fr", "admin"), env={"REGIEFLOW_DATABASE_URL": upgraded_url}, input="")
    assert result.exit_code == 1 and "Aborted." in result.stderr and "Traceback" not in result.output


# --- which database -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [["db", "upgrade"], ["verify"], ["export"], ["keys", "list"], ["deadlines", "scan"], ["worker", "--once"]],
)
def test_every_command_says_which_database_it_uses(upgraded_url: str, args: list[str]) -> None:
    result = invoke_cli(args, env={"REGIEFLOW_DATABASE_URL": upgraded_url})
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == f"Database: {upgraded_url}"
    assert "Database: " not in result.stdout  # stdout stays for the data (export, keys)
