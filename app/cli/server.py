"""`regieflow serve` and `regieflow worker`: the processes that run the service."""

from __future__ import annotations

from contextlib import ExitStack

import typer

from app.cli.demo import load_demo_portfolio
from app.cli.root import database, migrate
from app.core.settings import get_settings


def serve(
    host: str = typer.Option(None, help="Default: REGIEFLOW_HOST (127.0.0.1)."),
    port: int = typer.Option(None, help="Default: REGIEFLOW_PORT (8000)."),
    demo: bool = typer.Option(False, "--demo", help="Load the demo portfolio first if the database is empty."),
) -> None:
    """Migrate the database, then serve the API and the pages."""
    import uvicorn

    from app.http.application import create_app

    settings = get_settings()
    migrate()
    if demo:
        load_demo_portfolio(only_if_empty=True)
    app = create_app(settings)
    host = host or settings.host
    port = port or settings.port
    with ExitStack() as stack:
        if settings.worker_in_serve:  # REGIEFLOW_WORKER_IN_SERVE: deliver webhooks from this process too
            from app.webhooks.worker import run_in_thread

            uows = stack.enter_context(database())  # the worker's own connections, closed when serving ends
            stack.callback(run_in_thread(uows, settings, app.state.clock).set)  # stops it first
        typer.echo(f"regieflow is listening on http://{host}:{port}/  (API documentation: http://{host}:{port}/docs)")
        uvicorn.run(app, host=host, port=port, log_level=settings.log_level, proxy_headers=True)


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
    from app.webhooks.worker import Worker

    migrate()
    settings = get_settings()
    with database() as uows, Worker(uows, settings, clock=Clock(settings.tz)) as w:
        if once:
            typer.echo(str(w.run_once()))
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        typer.echo(f"regieflow worker running (every {settings.worker_poll_seconds:g} s; Ctrl-C to stop)")
        w.run_forever(stop)
