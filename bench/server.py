"""The regieflow app, plus one bench-only route: the baseline for the throughput benchmark.

    PYTHONPATH=. .venv/bin/python -m bench.server --database-url sqlite:///bench.db --port 8100

`POST /bench/baseline/{project_id}` performs the database writes of a transition without the
workflow: the same authentication (API key lookup), then in one transaction (BEGIN IMMEDIATE on
SQLite, like the app) `UPDATE projects SET version = version + 1, updated_at = now … RETURNING version`
and `INSERT INTO events (…)` with `seq` = the new version. No guards, no evidence loading, no
hash chain, no outbox, no change-feed position, no deadline index: the issue's definition ("update
one row, insert one event"). `POST /bench/baseline-full/{project_id}` writes every row a transition
writes (also the outbox message and the change-feed counter and position), still without the
workflow: the ratio against it isolates what the workflow itself costs. `GET /bench/baseline/projects`
is the list's read without the app's layers (bench/portfolio.py's `list-baseline`). They live here,
not in app/, so that production never serves them.

The server is uvicorn with one process, like `regieflow serve` (which runs `uvicorn.run(app)`),
except that the access log is off unless --access-log is given (the log costs the same on both
routes, so it does not change the ratio, but it lowers both figures).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import uuid

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import insert, update

from app.accounts.authentication import authenticate
from app.core.settings import Settings
from app.core.unit_of_work import UnitOfWork
from app.feed.models import FeedCounter
from app.http.application import create_app
from app.projects.models import Event, OutboxMessage, Project

BASELINE_PATH = "/bench/baseline/{project_id}"
BASELINE_FULL_PATH = "/bench/baseline-full/{project_id}"
BASELINE_LIST_PATH = "/bench/baseline/projects"


def add_baseline(app: FastAPI) -> None:
    engine = app.state.engine
    projects, events = Project.__table__, Event.__table__
    outbox, counter = OutboxMessage.__table__, FeedCounter.__table__

    def write(project_id: uuid.UUID, request: Request, *, full: bool) -> JSONResponse:
        """The same API-key authentication as the app, then one transaction (BEGIN IMMEDIATE on SQLite,
        like the app): the project's version and its event; with `full`, also the change-feed counter
        and position and the outbox message."""
        principal = authenticate(request)
        if not principal.authenticated:
            return JSONResponse({"status": 401}, status_code=401)
        now = dt.datetime.now(dt.UTC)
        with engine.begin() as conn:
            version = conn.execute(
                update(projects)
                .where(projects.c.id == project_id)
                .values(version=projects.c.version + 1, updated_at=now)
                .returning(projects.c.version)
            ).scalar_one_or_none()
            if version is None:
                return JSONResponse({"status": 404}, status_code=404)
            row = {
                "project_id": project_id,
                "seq": version,
                "type": "bench.baseline",
                "recorded_at": now,
                "actor": principal.label,
                "data": {},
            }
            if not full:
                conn.execute(insert(events).values(**row))
            else:
                row["feed_seq"] = conn.execute(
                    update(counter)
                    .where(counter.c.id == 1)
                    .values(value=counter.c.value + 1)
                    .returning(counter.c.value)
                ).scalar_one()
                event_id = conn.execute(insert(events).values(**row).returning(events.c.id)).scalar_one()
                conn.execute(
                    insert(outbox).values(
                        event_id=event_id,
                        topic="bench.baseline",
                        created_at=now,
                        payload={"project_id": str(project_id), "seq": version},
                    )
                )
        return JSONResponse({"id": str(project_id), "version": version}, headers={"ETag": f'"{version}"'})

    @app.get(BASELINE_LIST_PATH, include_in_schema=False)
    def baseline_list(
        request: Request,
        page: int = 1,
        page_size: int = 50,
        sort: str = "status",
        state: list[str] = Query([]),
        status: list[str] = Query([]),
        region: list[str] = Query([]),
        kind: str | None = None,
        q: str | None = None,
    ) -> JSONResponse:
        """The list's read without the app's layers: the same API-key authentication and the same
        repository query (filters, status sort, count), then the rows' stored columns as JSON: no
        access rule, no deadline presentation, no response model."""
        principal = authenticate(request)
        if not principal.authenticated:
            return JSONResponse({"status": 401}, status_code=401)
        today = dt.date.today()
        with UnitOfWork(app.state.session_factory, write=False) as uow:
            rows, total = uow.projects.search(
                today=today,
                state=state,
                status=status,
                region=region,
                kind=kind,
                q=q,
                sort=sort,
                offset=(page - 1) * page_size,
                limit=page_size,
            )
            items = [
                {
                    "id": str(p.id),
                    "name": p.name,
                    "state": p.state,
                    "region": p.region,
                    "horizon_on": p.horizon_on.isoformat(),
                    "step_due_on": p.step_due_on.isoformat() if p.step_due_on else None,
                    "version": p.version,
                }
                for p in rows
            ]
        return JSONResponse({"items": items, "total": total, "page": page, "page_size": page_size})

    @app.post(BASELINE_PATH, include_in_schema=False)
    def baseline(project_id: uuid.UUID, request: Request) -> JSONResponse:  # sync, like the app's routes
        return write(project_id, request, full=False)

    @app.post(BASELINE_FULL_PATH, include_in_schema=False)
    def baseline_full(project_id: uuid.UUID, request: Request) -> JSONResponse:
        """Every row a transition writes, without the workflow: no guards, no evidence, no authorisation
        rule, no hash chain, no deadline index, no response model."""
        return write(project_id, request, full=True)


def build_app(database_url: str) -> FastAPI:
    app = create_app(Settings(database_url=database_url))
    add_baseline(app)
    return app


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8100)
    ap.add_argument("--access-log", action="store_true")
    ap.add_argument("--processes", type=int, default=1, help="server processes (uvicorn workers; PostgreSQL)")
    ap.add_argument("--http", default="auto", choices=("auto", "h11", "httptools"), help="uvicorn's HTTP parser")
    args = ap.parse_args()
    common = {"host": args.host, "port": args.port, "log_level": "warning", "access_log": args.access_log}
    if args.processes > 1:
        # as `regieflow serve --workers N`: each process builds the app; metrics summed in a shared directory
        import tempfile

        os.environ["BENCH_DATABASE_URL"] = args.database_url
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="regieflow-bench-metrics-"))
        uvicorn.run(
            "bench.server:app_from_environment",
            factory=True,
            workers=args.processes,
            http=args.http,
            timeout_worker_healthcheck=60,  # as app/cli/server.py: a slow start on a busy machine is no hang
            **common,
        )
        return
    uvicorn.run(build_app(args.database_url), http=args.http, **common)


def app_from_environment() -> FastAPI:
    return build_app(os.environ["BENCH_DATABASE_URL"])


if __name__ == "__main__":
    main()
