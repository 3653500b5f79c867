"""The root `regieflow` command and what its commands share: the migrated database, errors, time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import NoReturn

import typer
from sqlalchemy.engine import make_url

from app.core.migrate import upgrade
from app.core.settings import get_settings
from app.core.unit_of_work import UnitOfWorkFactory

cli = typer.Typer(
    help="regieflow: the creation workflow of Régies de Quartier.", no_args_is_help=True, add_completion=False
)


def migrate() -> str:
    """Bring REGIEFLOW_DATABASE_URL to the latest schema; returns the URL."""
    url = get_settings().database_url
    upgrade(url)
    return url


def printable(url: str) -> str:
    """The database URL without its password."""
    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def database() -> Iterator[UnitOfWorkFactory]:
    """Units of work on REGIEFLOW_DATABASE_URL for one command; the engine is closed afterwards."""
    uows = UnitOfWorkFactory.connect(get_settings())
    try:
        yield uows
    finally:
        uows.dispose()


def now() -> datetime:
    return datetime.now(UTC)


def fail(exc: Exception) -> NoReturn:
    typer.echo(f"Refused: {getattr(exc, 'message', exc)}", err=True)
    raise typer.Exit(2)
