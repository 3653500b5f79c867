"""The `regieflow` command."""

from __future__ import annotations

import sys

import typer

from app.settings import get_settings

cli = typer.Typer(help="regieflow: the creation workflow of Régies de Quartier.", no_args_is_help=True,
                  add_completion=False)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")


def _upgrade() -> str:
    from app.migrate import upgrade

    url = get_settings().database_url
    upgrade(url)
    return url


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every Alembic migration to REGIEFLOW_DATABASE_URL."""
    url = _upgrade()
    typer.echo(f"Database is up to date: {_safe(url)}")


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@cli.command()
def serve(
    host: str = typer.Option(None, help="Default: REGIEFLOW_HOST (127.0.0.1)."),
    port: int = typer.Option(None, help="Default: REGIEFLOW_PORT (8000)."),
    demo: bool = typer.Option(False, "--demo", help="Load the demo portfolio first if the database is empty."),
) -> None:
    """Migrate the database, then serve the API and the pages."""
    import uvicorn

    from app.main import create_app

    settings = get_settings()
    _upgrade()
    if demo:
        _load_demo(only_if_empty=True)
    app = create_app(settings)
    host = host or settings.host
    port = port or settings.port
    typer.echo(f"regieflow is listening on http://{host}:{port}/  (API documentation: http://{host}:{port}/docs)")
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level, proxy_headers=True)


def _load_demo(*, only_if_empty: bool) -> None:
    from app.demo import load_demo
    from app.db import make_engine, make_session_factory

    settings = get_settings()
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        created = load_demo(make_session_factory(engine), settings, only_if_empty=only_if_empty)
    finally:
        engine.dispose()
    if created:
        typer.echo(f"Demo portfolio loaded: {len(created)} projects.")
    else:
        typer.echo("Demo portfolio not loaded: the database already holds projects.")


@cli.command()
def demo(force: bool = typer.Option(False, "--force", help="Add the demo projects even if others exist.")) -> None:
    """Migrate, then load a realistic demo portfolio (a dozen projects with backdated histories)."""
    _upgrade()
    _load_demo(only_if_empty=not force)


@cli.command()
def verify() -> None:
    """Replay every project's events; report projects whose stored state, version or dates differ."""
    from app.db import make_engine, make_session_factory
    from app.verify import verify as run

    settings = get_settings()
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        checked, findings = run(make_session_factory(engine))
    finally:
        engine.dispose()
    for f in findings:
        typer.echo(f"✗ {f.project_id} {f.name}")
        for problem in f.problems:
            typer.echo(f"    - {problem}")
    typer.echo(f"{checked} project(s) checked, {len(findings)} with discrepancies.")
    raise typer.Exit(1 if findings else 0)


def main() -> None:
    cli(prog_name="regieflow")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
