"""`regieflow checkpoint` and `regieflow rechain`: the tamper evidence kept outside the database."""

from __future__ import annotations

import typer

from app.cli.root import database, now


def checkpoint() -> None:
    """Append a signed checkpoint (every project's chain head, the feed head) to the checkpoint file."""
    from app.checkpoints.service import write
    from app.core.settings import get_settings

    with database() as uows:
        outcome = write(uows, get_settings(), now())
    if outcome.written is None:
        typer.echo(f"✗ No checkpoint written to {outcome.path}: the database went back since the last one.")
        for problem in outcome.problems:
            typer.echo(f"    - {problem.message}")
        raise typer.Exit(1)
    ck = outcome.written
    typer.echo(f"Checkpoint written to {outcome.path}: {ck.project_count} project(s), change feed at {ck.feed_head}.")


def rechain() -> None:
    """Re-key the event chain with the current server key, after verifying it with the accepted keys."""
    from app.checkpoints.rechain import rechain as run
    from app.core.settings import get_settings

    with database() as uows:
        done = run(uows, get_settings(), now())
    if done.refused:
        typer.echo("✗ Not re-keyed: the database does not verify (run `regieflow verify`).")
        for f in done.refused:
            typer.echo(f"  {f.project_id or ''} {f.name}".rstrip())
            for problem in f.problems:
                typer.echo(f"    - {problem}")
        raise typer.Exit(1)
    typer.echo(f"{done.events} event hash(es) re-keyed in {done.projects} project(s).")
    if done.checkpoint is not None and done.checkpoint.written is not None:
        typer.echo(f"Checkpoint written to {done.checkpoint.path}.")
