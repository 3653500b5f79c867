"""`regieflow db`: the database schema."""

from __future__ import annotations

import typer

from app.cli.root import migrate, printable

db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every Alembic migration to REGIEFLOW_DATABASE_URL (a new SQLite file is created)."""
    url = migrate(create=True)
    typer.echo(f"Database is up to date: {printable(url)}")
