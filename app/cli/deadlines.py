"""`regieflow deadlines`: the deadline watch."""

from __future__ import annotations

import typer

from app.cli.root import database, migrate
from app.core.settings import get_settings

deadlines_cli = typer.Typer(help="Deadline watch.", no_args_is_help=True)


@deadlines_cli.command("scan")
def deadlines_scan() -> None:
    """Announce (event deadline.status_changed) each project whose deadline status moved since the last scan."""
    from app.core.clock import Clock
    from app.deadline_watch.service import scan

    migrate()
    settings = get_settings()
    with database() as uows:
        report = scan(uows, Clock(settings.tz))
    for project_id, old, new in report.announced:
        typer.echo(f"{project_id}: {old or '-'} → {new}")
    typer.echo(f"{report.checked} project(s) with a changed status, {len(report.announced)} announced.")


@deadlines_cli.command("keys")
def deadlines_keys() -> None:
    """Recompute the portfolio's stored sort and status keys for today (the scan does it first too)."""
    from app.core.clock import Clock
    from app.projects.sort_keys import refresh

    migrate()
    settings = get_settings()
    with database() as uows:
        changed = refresh(uows, Clock(settings.tz).today())
    typer.echo(f"{changed} project(s) with moved keys.")
