"""The `regieflow` command."""

from __future__ import annotations

import sys
from datetime import UTC

import typer

from app.core.errors import Refusal
from app.core.settings import get_settings

cli = typer.Typer(
    help="regieflow: the creation workflow of Régies de Quartier.", no_args_is_help=True, add_completion=False
)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
users_cli = typer.Typer(help="People who log in.", no_args_is_help=True)
keys_cli = typer.Typer(help="Partner API keys.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(users_cli, name="users")
cli.add_typer(keys_cli, name="keys")


def _upgrade() -> str:
    from app.core.migrate import upgrade

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

    from app.http.application import create_app

    settings = get_settings()
    _upgrade()
    if demo:
        _load_demo(only_if_empty=True)
    app = create_app(settings)
    if settings.worker_in_serve:  # REGIEFLOW_WORKER_IN_SERVE: deliver webhooks from this process too
        from app.webhooks.worker import run_in_thread

        run_in_thread(app.state.session_factory, settings, app.state.clock)
    host = host or settings.host
    port = port or settings.port
    typer.echo(f"regieflow is listening on http://{host}:{port}/  (API documentation: http://{host}:{port}/docs)")
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level, proxy_headers=True)


def _load_demo(*, only_if_empty: bool) -> None:
    from app.core.database import make_engine, make_session_factory
    from app.demo.service import load_demo

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
    from app.demo.service import DEMO_ACCOUNTS, DEMO_PASSWORD

    typer.echo(f"Demo logins (password: {DEMO_PASSWORD}):")
    for email, _name, role, _scope in DEMO_ACCOUNTS:
        typer.echo(f"  {email:<34} {role}")


@cli.command()
def demo(force: bool = typer.Option(False, "--force", help="Add the demo projects even if others exist.")) -> None:
    """Migrate, then load a realistic demo portfolio (a dozen projects with backdated histories)."""
    _upgrade()
    _load_demo(only_if_empty=not force)


@cli.command()
def verify() -> None:
    """Replay every project's events; report projects whose stored state, version or dates differ."""
    from app.core.database import make_engine, make_session_factory
    from app.transitions.verify import verify as run

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


def _session():
    from app.core.database import make_engine, make_session_factory

    settings = get_settings()
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    return make_session_factory(engine)()


def _now():
    from datetime import datetime

    return datetime.now(UTC)


def _fail(exc: Exception) -> None:
    typer.echo(f"Refused: {getattr(exc, 'message', exc)}", err=True)
    raise typer.Exit(2)


@users_cli.command("create")
def users_create(
    email: str = typer.Option(..., help="Login e-mail."),
    name: str = typer.Option(..., help="Display name."),
    role: str = typer.Option("admin", help="admin | consultant | observateur | porteur"),
    region: list[str] = typer.Option([], help="Region covered (consultant, observateur); repeatable."),
    project: list[str] = typer.Option([], help="Project id (porteur, observateur); repeatable."),
    password: str = typer.Option(
        None,
        help="Prompted (hidden) when not given; REGIEFLOW_NEW_PASSWORD also works.",
        envvar="REGIEFLOW_NEW_PASSWORD",
    ),
) -> None:
    """Create a user (e.g. the first admin) with one role, on regions or projects if given."""
    import uuid

    from app.accounts import service as accounts

    _upgrade()
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    grants: list[tuple[str, uuid.UUID | None, str | None]] = []
    try:
        scopes = [(None, r) for r in region] + [(uuid.UUID(p), None) for p in project] or [(None, None)]
    except ValueError:
        _fail(ValueError("--project takes a project id (UUID)"))
    grants = [(role, pid, reg) for pid, reg in scopes]
    with _session() as session:
        try:
            user = accounts.create_user(session, email=email, name=name, password=password, grants=grants, now=_now())
        except Refusal as exc:
            _fail(exc)
        typer.echo(f"User {user.email} created (id {user.id}, role {role}).")


@keys_cli.command("create")
def keys_create(
    name: str = typer.Option(..., help="Who the key is for, e.g. 'Vilogia – suivi des projets'."),
    scope: list[str] = typer.Option(["read"], help="read and/or write; repeatable."),
    region: list[str] = typer.Option([], help="Restrict to a region; repeatable."),
    project: list[str] = typer.Option([], help="Restrict to a project id; repeatable."),
    expires_in_days: int = typer.Option(None, min=1, max=3650, help="Expiry, in days from now."),
    consultant: bool = typer.Option(False, help="For the Mouvement's own systems: label and expertise."),
) -> None:
    """Create a partner API key; the key is printed once and never stored."""
    import uuid
    from datetime import timedelta

    from app.accounts import service as accounts

    _upgrade()
    now = _now()
    with _session() as session:
        try:
            new = accounts.create_api_key(
                session,
                name=name,
                scopes=scope,
                regions=region or None,
                project_ids=[uuid.UUID(p) for p in project] or None,
                expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
                consultant=consultant,
                created_by="cli",
                now=now,
            )
        except (*Refusal, ValueError) as exc:
            _fail(exc)
        typer.echo(f"Key {new.row.prefix} created for {new.row.name}. Copy it now, it will not be shown again:")
        typer.echo(new.key)


@keys_cli.command("list")
def keys_list() -> None:
    """List keys (prefix, name, scopes, restrictions, expiry, revocation, last use)."""
    from app.accounts import service as accounts

    with _session() as session:
        for k in accounts.list_api_keys(session):
            state = "revoked" if k.revoked_at else ("expires " + k.expires_at.isoformat() if k.expires_at else "active")
            typer.echo(
                f"{k.prefix}  {k.name}  scopes={','.join(k.scopes)}{' consultant' if k.consultant else ''}  "
                f"regions={k.regions or '*'}  projects={k.project_ids or '*'}  {state}  "
                f"last used {k.last_used_at.isoformat() if k.last_used_at else 'never'}"
            )


@keys_cli.command("revoke")
def keys_revoke(prefix: str = typer.Argument(..., help="The key's visible prefix, e.g. rf_1a2b3c4d.")) -> None:
    """Revoke a key at once."""
    from app.accounts import service as accounts

    with _session() as session:
        try:
            row = accounts.revoke_api_key(session, prefix=prefix, now=_now())
        except Refusal as exc:
            _fail(exc)
        typer.echo(f"Key {row.prefix} revoked.")


# --- partner systems, part B: full export and import, bulk import of projects ---------------------
def _engine():
    from app.core.database import make_engine

    settings = get_settings()
    return make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)


@cli.command("export")
def export_db(
    output: str = typer.Option("-", "--output", "-o", help="File to write; '-' for the standard output."),
) -> None:
    """Export the whole database as JSON (all but sessions, login throttles and idempotency records)."""
    from app.exchange import dump

    engine = _engine()
    try:
        body = dump.export_json(engine)
    finally:
        engine.dispose()
    if output == "-":
        sys.stdout.write(body)
        return
    with open(output, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(body)
    typer.echo(f"Database exported to {output}.", err=True)


@cli.command("import")
def import_db(file: str = typer.Argument(..., help="A file written by `regieflow export`.")) -> None:
    """Load a full export into an EMPTY database (migrated first); refuses a database that holds data."""
    from app.exchange import dump

    _upgrade()
    with open(file, "rb") as fh:
        raw = fh.read()
    engine = _engine()
    try:
        counts = dump.import_json(engine, raw)
    except dump.ImportRefused as exc:
        _fail(exc)
    finally:
        engine.dispose()
    typer.echo(
        f"Imported {sum(counts.values())} rows into {len(counts)} tables "
        f"({counts.get('projects', 0)} projects, {counts.get('events', 0)} events). "
        "Check it with: regieflow verify"
    )


@cli.command("import-projects")
def import_projects_cmd(
    file: str = typer.Argument(..., help='JSON file: {"projects": [...]} (see README, "Bulk import").'),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and replay everything, then roll back."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import projects with their evidence and transitions, replayed through the workflow (each project
    all or nothing). Exit 1 if any project was refused."""
    import json

    from pydantic import ValidationError

    from app.core.clock import Clock
    from app.core.database import make_session_factory
    from app.exchange import bulk_import

    _upgrade()
    settings = get_settings()
    try:
        with open(file, "rb") as fh:
            request = bulk_import.ImportRequest.model_validate_json(fh.read())
    except ValidationError as exc:
        typer.echo(f"Refused: {file} is not a bulk import file:\n{exc}", err=True)
        raise typer.Exit(2) from None
    engine = _engine()
    try:
        report = bulk_import.import_projects(
            make_session_factory(engine),
            [p.model_dump(exclude_unset=True) for p in request.projects],
            default_plan=settings.default_plan,
            actor=bulk_import.IMPORT_ACTOR,
            clock=Clock(settings.tz),
            dry_run=dry_run,
        )
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        for o in report.projects:
            who = o.ref or o.name or f"#{o.index}"
            if o.status == "imported":
                typer.echo(
                    f"✓ {who}: {'would be imported' if dry_run else 'imported'} "
                    f"({o.project_id or '-'}, {o.state}, version {o.version})"
                )
                continue
            typer.echo(f"✗ {who}: refused at {o.at or '-'} [{o.code}] {o.detail}")
            for u in o.unmet:
                typer.echo(f"    - {u.code}: {u.message}")
            for e in o.errors:
                typer.echo(f"    - {e.field}: {e.message}")
        typer.echo(
            f"{report.imported} imported, {report.refused} refused{' (dry run: nothing kept)' if dry_run else ''}."
        )
    raise typer.Exit(1 if report.refused else 0)


# --- partner systems, part A: delivery worker and deadline watch --------------------------------
deadlines_cli = typer.Typer(help="Deadline watch.", no_args_is_help=True)
cli.add_typer(deadlines_cli, name="deadlines")


@cli.command()
def worker(
    once: bool = typer.Option(
        False, "--once", help="Do what is due now (scan, fan-out, deliveries, purges), then exit."
    ),
) -> None:
    """Deliver webhooks: fan the outbox out to subscriptions, send due deliveries with retries, scan the
    deadlines once a day, purge expired idempotency records. Several workers may run at once."""
    import signal
    import threading

    from app.core.clock import Clock
    from app.core.database import make_session_factory
    from app.webhooks.worker import Worker

    _upgrade()
    settings = get_settings()
    engine = _engine()
    try:
        with Worker(make_session_factory(engine), settings, clock=Clock(settings.tz)) as w:
            if once:
                typer.echo(str(w.run_once()))
                return
            stop = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            typer.echo(f"regieflow worker running (every {settings.worker_poll_seconds:g} s; Ctrl-C to stop)")
            w.run_forever(stop)
    finally:
        engine.dispose()


@deadlines_cli.command("scan")
def deadlines_scan() -> None:
    """Announce (event deadline.status_changed) each project whose deadline status moved since the last scan."""
    from app.core.clock import Clock
    from app.core.database import make_session_factory
    from app.deadline_watch.service import scan

    _upgrade()
    settings = get_settings()
    engine = _engine()
    try:
        report = scan(make_session_factory(engine), Clock(settings.tz))
    finally:
        engine.dispose()
    for project_id, old, new in report.announced:
        typer.echo(f"{project_id}: {old or '-'} → {new}")
    typer.echo(f"{report.checked} project(s) with a changed status, {len(report.announced)} announced.")


def main() -> None:
    cli(prog_name="regieflow")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
