"""`regieflow verify`: replay every project's history and report what disagrees."""

from __future__ import annotations

import typer

from app.cli.root import database


def verify() -> None:
    """Replay every project's events; report projects whose stored state, version or dates differ."""
    from app.transitions.verify import verify as run

    with database() as uows:
        checked, findings = run(uows)
    for f in findings:
        typer.echo(f"✗ {f.project_id} {f.name}")
        for problem in f.problems:
            typer.echo(f"    - {problem}")
    typer.echo(f"{checked} project(s) checked, {len(findings)} with discrepancies.")
    raise typer.Exit(1 if findings else 0)
