"""`regieflow demo`: the demo portfolio."""

from __future__ import annotations

import typer

from app.cli.root import database, fail, migrate
from app.core.settings import get_settings


def load_demo_portfolio(*, only_if_empty: bool, history: bool = True) -> bool:
    """Load the demo (only into an empty database if `only_if_empty`); False if it was not loaded.
    `history`: with the generated history of past projects (app/demo/history.py), else without it."""
    from app.demo.service import load_demo

    with database() as uows:
        created = load_demo(uows, get_settings(), only_if_empty=only_if_empty, history=history)
    if not created:
        return False
    typer.echo(f"Demo portfolio loaded: {len(created)} projects.")
    show_demo_logins()
    return True


def show_demo_logins() -> None:
    from app.demo.service import DEMO_ACCOUNTS, DEMO_PASSWORD

    typer.echo(f"Demo logins (password: {DEMO_PASSWORD}):")
    for email, _name, role, _scope in DEMO_ACCOUNTS:
        typer.echo(f"  {email:<34} {role}")


def demo(force: bool = typer.Option(False, "--force", help="Add the demo projects even if others exist.")) -> None:
    """Migrate, then load a realistic demo portfolio (a dozen projects with backdated histories); refuses
    a database that already holds projects unless --force."""
    migrate(create=True)
    if not load_demo_portfolio(only_if_empty=not force):
        fail("the database already holds projects: demo not loaded (--force adds the demo projects anyway).")
