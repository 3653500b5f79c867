"""`regieflow mail`: the notification scan, the e-mail outbox (send, read what is queued or sent)."""

from __future__ import annotations

import typer

from app.cli.root import database, migrate
from app.core.settings import get_settings

mail_cli = typer.Typer(help="Notifications and e-mail (the worker does both on its rounds).", no_args_is_help=True)


@mail_cli.command("scan")
def mail_scan() -> None:
    """Produce the notifications of the new events and today's reminders (once per occurrence), and the digests."""
    from app.core.clock import Clock
    from app.notifications.service import scan

    migrate()
    settings = get_settings()
    with database() as uows:
        typer.echo(str(scan(uows, settings, Clock(settings.tz))))


@mail_cli.command("send")
def mail_send() -> None:
    """Send the e-mail due now through REGIEFLOW_SMTP_HOST (nothing without it)."""
    from app.core.clock import Clock
    from app.mail.service import send_due

    migrate()
    settings = get_settings()
    if not settings.smtp_host:
        typer.echo("REGIEFLOW_SMTP_HOST is not set: nothing is sent, e-mail stays queued.")
        raise typer.Exit(0)
    with database() as uows:
        r = send_due(uows, settings, Clock(settings.tz))
    typer.echo(f"attempted {r.attempted}, sent {r.sent}, to retry {r.retried}, failed for good {r.failed}")


@mail_cli.command("outbox")
def mail_outbox(
    status: str = typer.Option("", "--status", help="pending, sending, sent or failed (default: all)."),
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
) -> None:
    """The latest e-mails of the outbox: when, to whom, subject, status."""
    from app.mail.service import outbox

    migrate()
    with database() as uows, uows(write=False) as uow:
        for row in outbox(uow, status=status or None, limit=limit):
            when = row.created_at.isoformat(timespec="seconds")
            typer.echo(f"{row.id}\t{when}\t{row.status}\t{row.to_address}\t{row.subject}")
