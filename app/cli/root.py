"""The root `regieflow` command and what its commands share: the database they announce and open, the
one place where a person's mistake becomes one line on stderr and exit code 2, and the time."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from sqlalchemy.engine import make_url
from typer.core import TyperGroup

from app.core.migrate import upgrade
from app.core.settings import get_settings
from app.core.unit_of_work import UnitOfWorkFactory

USER_ERROR = 2  # exit code of every mistake of the person at the keyboard (click uses 2 for usage errors)


class UserError(Exception):
    """A mistake the command line reports in one line (exit 2): a missing file, a port in use..."""


class RegieflowGroup(TyperGroup):
    """The root group: runs a command and turns what a person got wrong (an option, a file, the database,
    a refusal of the service) into ONE line on stderr and exit code 2, never a stack trace. Anything else
    is a bug in regieflow and keeps its traceback."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(
                args, prog_name, complete_var, standalone_mode=False, windows_expand_args=windows_expand_args, **extra
            )
        except Exception as exc:
            code = report(exc)
        if not isinstance(code, int):
            code = 0
        if standalone_mode:
            sys.exit(code)
        return code


def report(exc: Exception) -> int:
    """Print a person's mistake as one line on stderr and return the exit code; re-raise anything else."""
    from typer._click.exceptions import ClickException, NoArgsIsHelpError

    if isinstance(exc, NoArgsIsHelpError):  # `regieflow`, `regieflow users`: the help (rich printed it already)
        if message := exc.format_message().strip():
            typer.echo(message, err=True)
        return exc.exit_code
    if isinstance(exc, typer.Abort):  # Ctrl-D at a prompt
        typer.echo("Aborted.", err=True)
        return 1
    line = describe(exc)
    if line is None:
        raise exc
    typer.echo(line, err=True)
    return exc.exit_code if isinstance(exc, ClickException) else USER_ERROR


def describe(exc: Exception) -> str | None:
    """The one line for a person's mistake, or None for a bug."""
    import json
    import re
    from zoneinfo import ZoneInfoNotFoundError

    from alembic.util.exc import CommandError
    from pydantic import ValidationError
    from pydantic_settings import SettingsError
    from sqlalchemy.exc import ArgumentError, InterfaceError, NoSuchModuleError, OperationalError, ProgrammingError
    from typer._click.exceptions import ClickException, UsageError

    from app.core.errors import Refusal
    from app.core.keys import KeyUnavailable

    if isinstance(exc, UsageError):
        where = f" (see: {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        return f"Error: {_one_line(exc.format_message().replace('Value error, ', ''))}{where}"
    if isinstance(exc, ClickException):
        return f"Error: {_one_line(exc.format_message())}"
    if isinstance(exc, UserError):
        return f"Error: {_one_line(str(exc))}"
    if isinstance(exc, KeyUnavailable):  # the server key (webhook secrets, the event chain, checkpoints)
        return f"Error: {_one_line(str(exc))}"
    if isinstance(exc, Refusal):
        return f"Refused: {_one_line(getattr(exc, 'message', str(exc)))}"
    if isinstance(exc, OSError):
        what = f"{exc.filename}: " if exc.filename else ""
        return f"Error: {what}{exc.strerror or exc}"
    if isinstance(exc, UnicodeDecodeError):
        return f"Error: the file is not UTF-8 text ({exc.reason} at byte {exc.start})."
    if isinstance(exc, json.JSONDecodeError):
        return f"Error: not valid JSON: {exc}."
    if isinstance(exc, ValidationError):
        return f"Error: {validation_line(exc)}"
    if isinstance(exc, SettingsError):  # a complex setting (a JSON list or object) that does not parse
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"REGIEFLOW_{field.group(1).upper()}" if field else "a REGIEFLOW_ variable"
        return f"Error: invalid configuration: {name}: not valid JSON"
    if isinstance(exc, ZoneInfoNotFoundError):  # the settings' time zone check lets it through as it is
        return f"Error: invalid configuration: REGIEFLOW_TIMEZONE: {_one_line(str(exc))}"
    if isinstance(exc, (OperationalError, InterfaceError, ProgrammingError)):
        hint = " (run `regieflow db upgrade`)" if "no such table" in str(exc.orig) else ""
        return f"Error: cannot use the database {_database()}: {_one_line(str(exc.orig))}{hint}"
    if isinstance(exc, (ArgumentError, NoSuchModuleError)):
        return f"Error: REGIEFLOW_DATABASE_URL is not a database URL regieflow can use: {_one_line(str(exc))}"
    if isinstance(exc, CommandError):
        return f"Error: the database {_database()} cannot be migrated: {_one_line(str(exc))}"
    return None


def validation_line(exc: Any) -> str:
    """A pydantic ValidationError in one line: the settings name their environment variable."""
    if exc.title == "Settings":
        return f"invalid configuration: {errors_line(exc, prefix='REGIEFLOW_')}"
    return f"invalid {exc.title}: {errors_line(exc)}"


def errors_line(exc: Any, *, prefix: str = "") -> str:
    """The first three errors of a pydantic ValidationError, `where: what`, on one line."""
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"])
        loc = f"{prefix}{loc.upper()}" if prefix and loc else loc
        parts.append(_one_line(f"{loc}: {err['msg']}" if loc else err["msg"]))
    more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return "; ".join(parts) + more


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _database() -> str:
    try:
        return printable(get_settings().database_url)
    except Exception:  # pragma: no cover - the settings themselves are wrong: said elsewhere
        return "REGIEFLOW_DATABASE_URL"


cli = typer.Typer(
    help="regieflow: the creation workflow of Régies de Quartier.",
    no_args_is_help=True,
    add_completion=False,
    cls=RegieflowGroup,
    pretty_exceptions_enable=False,
)


def printable(url: str) -> str:
    """The database URL without its password; a relative SQLite path also shows where it lands."""
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    path = _sqlite_file(url)
    if path is not None and not path.is_absolute():
        shown += f" ({path.resolve()})"
    return shown


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None: another database, or SQLite in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if parsed.database.startswith("file:"):  # a URI filename: SQLite's business
        return None
    return Path(parsed.database)


def announce() -> str:
    """Say on stderr which database this command uses (once per command); return its URL."""
    url = get_settings().database_url
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    meta: dict[str, Any] = ctx.meta if ctx is not None else {}
    if not meta.get("regieflow.announced"):
        typer.echo(f"Database: {printable(url)}", err=True)
        meta["regieflow.announced"] = True
    return url


def _require_existing(url: str) -> None:
    """A SQLite file must exist: only `db upgrade`, `serve`, `demo` and `import` create a database."""
    path = _sqlite_file(url)
    if path is not None and not path.exists():
        raise UserError(
            f"no database at {path.resolve()}: create it with `regieflow db upgrade` (or `regieflow serve`), "
            "or point REGIEFLOW_DATABASE_URL at the existing one."
        )


def migrate(*, create: bool = False) -> str:
    """Bring REGIEFLOW_DATABASE_URL to the latest schema; returns the URL. A missing SQLite file is
    created (with its directory) only when `create` is set."""
    url = announce()
    path = _sqlite_file(url)
    if create and path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if not create:
        _require_existing(url)
    upgrade(url)
    return url


@contextmanager
def database() -> Iterator[UnitOfWorkFactory]:
    """Units of work on REGIEFLOW_DATABASE_URL for one command; the engine is closed afterwards."""
    _require_existing(announce())
    uows = UnitOfWorkFactory.connect(get_settings())
    try:
        yield uows
    finally:
        uows.dispose()


def now() -> datetime:
    return datetime.now(UTC)


def fail(exc: Exception | str) -> NoReturn:
    """Refuse: one line on stderr, exit code 2."""
    typer.echo(f"Refused: {_one_line(str(getattr(exc, 'message', exc)))}", err=True)
    raise typer.Exit(USER_ERROR)
