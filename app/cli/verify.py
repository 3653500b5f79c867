"""`regieflow verify`: replay every project's history and report what disagrees."""

from __future__ import annotations

import typer

from app.cli.root import database


def verify() -> None:
    """Check the event chains, replay every project's events against its rows, the change feed, and the
    last signed checkpoint; report every difference (exit code 1 if any)."""
    from app.transitions.verify import run

    with database() as uows:
        report = run(uows)
    for f in report.findings:
        typer.echo(f"✗ {f.project_id} {f.name}" if f.project_id is not None else f"✗ {f.name}")
        for problem in f.problems:
            typer.echo(f"    - {problem}")
    if report.previous_key_events:
        typer.echo(
            f"{report.previous_key_events} event(s) chained with a previous server key: "
            "run `regieflow rechain` to re-key them."
        )
    if report.checkpoint is not None:
        typer.echo(f"Compared with the checkpoint {report.checkpoint}.")
    else:
        typer.echo("No checkpoint of this database yet (`regieflow checkpoint`, or the worker, writes them).")
    projects = sum(1 for f in report.findings if f.project_id is not None)
    typer.echo(f"{report.checked} project(s) checked, {projects} with discrepancies.")
    raise typer.Exit(1 if report.findings else 0)
