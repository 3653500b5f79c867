"""`regieflow serve` and `regieflow worker`: the processes that run the service."""

from __future__ import annotations

import socket
from contextlib import ExitStack
from typing import Any

import typer

from app.cli.demo import load_demo_portfolio
from app.cli.root import UserError, database, migrate
from app.core.database import is_sqlite
from app.core.settings import get_settings


def check_port_free(host: str, port: int) -> None:
    """Bind (host, port) once and let it go, as uvicorn will bind it: a port in use or an address this
    machine does not have is said now, in one line, before anything claims to be started."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UserError(f"cannot listen on {host}:{port}: unknown address ({exc.strerror}).") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is no obstacle
        try:
            probe.bind(address)
        except OSError as exc:
            raise UserError(
                f"cannot listen on {host}:{port}: {exc.strerror} (another server? choose one with --port)."
            ) from None


def serve(
    host: str = typer.Option(None, help="Default: REGIEFLOW_HOST (127.0.0.1)."),
    port: int = typer.Option(None, min=1, max=65535, help="Default: REGIEFLOW_PORT (8000)."),
    demo: bool = typer.Option(False, "--demo", help="Load the demo portfolio first if the database is empty."),
    workers: int = typer.Option(
        1, "--workers", min=1, max=64, help="Server processes (PostgreSQL only: SQLite has one writer at a time)."
    ),
) -> None:
    """Migrate the database, then serve the API and the pages."""
    from app.core.startup import loading, settle

    with loading():  # the application's import: no collector passes over it (app/core/startup.py)
        import uvicorn

        from app.http.application import create_app
        from app.observability.logs import configure_logging
    # The modules, classes and routes just imported live as long as the server: the collector never scans
    # them again (before the demo data or any request allocates what it may have to free).
    settle()

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    if workers > 1 and is_sqlite(settings.database_url):
        raise UserError(
            "--workers needs PostgreSQL: SQLite lets one process write at a time "
            "(set REGIEFLOW_DATABASE_URL, or serve with one process)."
        )
    check_port_free(host, port)
    migrate(create=True)
    # With one process, the generated history (issue 16: 200 past projects) is told in a background thread
    # while the service already answers (app/demo/history.py); with several, before serving.
    if demo and not load_demo_portfolio(only_if_empty=True, history=workers > 1):
        typer.echo("Demo portfolio not loaded: the database already holds projects.")
    app = create_app(settings)
    configure_logging(settings)  # from here on: one line per request (app.observability), the worker's records
    with ExitStack() as stack:
        if demo and workers == 1:
            from app.core.clock import Clock
            from app.demo.history import in_background

            today = Clock(settings.tz).today()
            generating = in_background(
                settings, today=today, count=settings.demo_history_projects, listening=(host, port)
            )
            if stack.enter_context(generating) is not None:
                typer.echo("Demo history: past projects being generated in the background (forecasts refine then).")
        if settings.worker_in_serve:  # REGIEFLOW_WORKER_IN_SERVE: deliver webhooks from this process too
            from app.webhooks.worker import run_in_thread

            uows = stack.enter_context(database())  # the worker's own connections, closed when serving ends
            stack.callback(run_in_thread(uows, settings, app.state.clock).set)  # stops it first
        typer.echo(f"regieflow is listening on http://{host}:{port}/  (API documentation: http://{host}:{port}/docs)")
        if not settings.smtp_host:  # app/mail: e-mail stays queued in the outbox, sent nowhere
            typer.echo("E-mail: REGIEFLOW_SMTP_HOST is not set, nothing is sent (README: E-mail and notifications).")
        else:
            typer.echo(f"E-mail: sent by the worker through {settings.smtp_host}:{settings.smtp_port}.")
        # uvicorn rewrites the client address from X-Forwarded-For only for these peers (none by default):
        # the same rule as app.accounts.login.client_ip, so a forged header never reaches the login limits.
        common: dict[str, Any] = {"log_config": None, "access_log": False}  # app.observability logs requests
        if workers > 1:
            # Each process builds its own app from the same settings (environment); their metrics are
            # summed through PROMETHEUS_MULTIPROC_DIR (app.observability.metrics).
            # A process that is not ready within uvicorn's health-check timeout (5 s by default) is
            # killed and started again: on a busy machine the app's import alone can take longer, and
            # the processes would be replaced forever without serving. One minute is ample.
            common.update(workers=workers, factory=True, timeout_worker_healthcheck=60)
            _multiprocess_metrics(stack)
        uvicorn.run(
            "app.http.application:create_app" if workers > 1 else app,
            **common,
            host=host,
            port=port,
            log_level=settings.log_level,
            proxy_headers=True,
            forwarded_allow_ips=[str(p) for p in settings.trusted_proxies],
            # h11, whose header limit is explicit: a request head over REGIEFLOW_MAX_HEADER_BYTES gets 400
            # before the app sees it (httptools, picked by default when installed, has no such option).
            http="h11",
            h11_max_incomplete_event_size=settings.max_header_bytes,
            timeout_keep_alive=settings.keep_alive_seconds,
        )


def _multiprocess_metrics(stack: ExitStack) -> None:
    """A fresh directory for the server processes' metric files (prometheus-client's multiprocess mode),
    removed when serving ends; an operator's PROMETHEUS_MULTIPROC_DIR is used as it is."""
    import os
    import tempfile

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="regieflow-metrics-"))
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory


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
    from app.observability.logs import configure_logging
    from app.webhooks.worker import Worker

    migrate()
    settings = get_settings()
    with database() as uows, Worker(uows, settings, clock=Clock(settings.tz)) as w:
        if once:  # a one-off command: what it did is printed, the process's logging is left as it is
            typer.echo(str(w.run_once()))
            return
        configure_logging(settings)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        typer.echo(f"regieflow worker running (every {settings.worker_poll_seconds:g} s; Ctrl-C to stop)")
        w.run_forever(stop)
