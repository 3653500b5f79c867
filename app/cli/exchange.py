"""`regieflow export`, `import` and `import-projects`: the whole database as JSON, and bulk imports."""

from __future__ import annotations

import sys

import typer

from app.cli.root import UserError, database, errors_line, fail, migrate
from app.core.settings import get_settings


def export_db(
    output: str = typer.Option("-", "--output", "-o", help="File to write; '-' for the standard output."),
) -> None:
    """Export the whole database as JSON (all but sessions, login throttles and idempotency records)."""
    from app.exchange import dump

    with database() as uows:
        body = dump.export_json(uows)
    if output == "-":
        sys.stdout.write(body)
        return
    with open(output, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(body)
    typer.echo(f"Database exported to {output}.", err=True)


def import_db(file: str = typer.Argument(..., help="A file written by `regieflow export`.")) -> None:
    """Load a full export into an EMPTY database (migrated first); refuses a database that holds data.

    An export of an older schema revision is loaded at its revision, then migrated to the latest one
    (the migrations that change data, such as re-keying the event chain, run on it as on any database)."""
    from app.core.migrate import downgrade, revisions
    from app.exchange import dump

    with open(file, "rb") as fh:  # a missing file is said before any database is created
        raw = fh.read()
    try:
        given = dump.parse(raw).get("schema_revision")
    except dump.ImportRefused as exc:
        fail(exc)
    known = revisions()
    head = known[-1]
    if given not in known:
        fail(f"L'export vient du schéma {given!r}, que cette version ne connaît pas (dernier : {head!r}).")
    url = migrate(create=True)
    with database() as uows:
        try:
            if given != head:
                dump.ensure_empty(uows)
        except dump.ImportRefused as exc:
            fail(exc)
    if given != head:
        typer.echo(f"Export of schema {given}: loaded at that revision, then migrated to {head}.", err=True)
        downgrade(url, str(given))
    try:
        with database() as uows:
            try:
                counts = dump.import_json(uows, raw, head=head)
            except dump.ImportRefused as exc:
                fail(exc)
    finally:
        if given != head:
            migrate()
    typer.echo(
        f"Imported {sum(counts.values())} rows into {len(counts)} tables "
        f"({counts.get('projects', 0)} projects, {counts.get('events', 0)} events). "
        "Check it with: regieflow verify"
    )


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
    from app.exchange import bulk_import
    from app.exchange.schemas import ImportRequest

    try:
        with open(file, "rb") as fh:
            request = ImportRequest.model_validate_json(fh.read())
    except ValidationError as exc:
        raise UserError(f"{file} is not a bulk import file: {errors_line(exc)}") from None
    migrate()
    settings = get_settings()
    with database() as uows:
        report = bulk_import.import_projects(
            uows,
            [p.model_dump(exclude_unset=True) for p in request.projects],
            default_plan=settings.default_plan,
            actor=bulk_import.IMPORT_ACTOR,
            clock=Clock(settings.tz),
            dry_run=dry_run,
        )
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
