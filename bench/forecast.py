"""Forecasts and analytics at national scale (issue 16), on PostgreSQL, over HTTP, one request at a time.

    U=postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench16   # generate creates the database
    PYTHONPATH=. .venv/bin/python -m bench.forecast generate --database-url $U --projects 200 --history 550 \
        --workers 2 --reset
    PYTHONPATH=. .venv/bin/python -m bench.forecast multiply --database-url $U --factor 15
    PYTHONPATH=. .venv/bin/python -m bench.forecast measure --database-url $U --requests 200 --refreshes 2

(docs/FORECAST.md, "Performance": 750 projects told through the services, copied in SQL to 11,250
projects and about 300,000 events.)

`generate` builds the portfolio of bench/generate.py (its `one_project`: every project told through the
services, one transaction per call, started 0-42 months ago), with the demo sites whose budget is
balanced only (the others stop at soumettre_validation since the budget_equilibre guard), then adds
`--history` past projects of app/demo/history.py (told through the services too, started up to twenty
years ago, about half labelled: what the distributions learn from), and refreshes the forecasts.

`multiply` copies them in SQL up to the national scale (see its docstring: what the copies lack).

`measure` times one refresh in-process (`app.forecasts.service.refresh`: every history read, the
distributions and every open project's forecast written), then serves the app (bench/server.py, pinned
to CPU 0; this client on CPU 1) and sends, after 20 warm-up requests each, --requests of:

* forecast: `GET /api/v1/projects/{id}/forecast` on random open projects told through the services (an
  API key);
* analytics-api: `GET /api/v1/analytics` (a consultant's key: every project);
* analytics-page: `/analyse` (a consultant's session cookie).

Prints one JSON line per kind (p50, p95, p99, max in ms; statuses; the server's CPU per request from
/proc, warm-ups included) and the machine's load average.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import time
from typing import Any

from sqlalchemy import func, select

from bench.common import (
    cpu_seconds,
    create_key,
    ensure_pg_database,
    loadavg,
    print_facts,
    reset_database,
    session_factory,
    start_server,
)
from bench.portfolio import measure, probe, session_cookie

TARGETS_MS = {"forecast": 30, "analytics-api": 300, "analytics-page": 300}


# --- generate ------------------------------------------------------------------------------------------
def _worker(url: str, indexes: list[int], events: int, today: dt.date, wid: int, every: int) -> tuple[int, int]:
    from app.core.settings import Settings
    from bench.common import BenchDemo, demo_sites
    from bench.generate import one_project

    demo = BenchDemo(session_factory(url), Settings(database_url=url), today)
    sites = [s for s in demo_sites() if s.budget[1] + s.budget[2] >= s.budget[0]]  # balanced budgets only
    total, t0 = 0, time.perf_counter()
    for n, i in enumerate(indexes, 1):
        total += one_project(demo, sites, i, events, today)
        if n % every == 0:
            el = time.perf_counter() - t0
            eta = el / n * (len(indexes) - n) / 60
            print(f"[worker {wid}] {n}/{len(indexes)} projects, {total} events, ETA {eta:.1f} min", flush=True)
    return len(indexes), total


def generate(args: argparse.Namespace) -> None:
    from app.core.settings import Settings

    print_facts(args.database_url)
    ensure_pg_database(args.database_url)
    if args.reset:
        reset_database(args.database_url)
    settings = Settings(database_url=args.database_url)
    today = dt.datetime.now(settings.tz).date()
    t0 = time.perf_counter()
    if args.projects:
        indexes = list(range(args.first, args.first + args.projects))
        shares = [indexes[w :: args.workers] for w in range(args.workers)]
        jobs = [
            (args.database_url, sh, args.events_per_project, today, w, args.progress_every)
            for w, sh in enumerate(shares)
        ]
        if args.workers == 1:
            results = [_worker(*jobs[0])]
        else:
            with mp.get_context("spawn").Pool(args.workers) as pool:
                results = pool.starmap(_worker, jobs)
        print(
            f"portfolio: {sum(r[0] for r in results)} projects, {sum(r[1] for r in results)} events "
            f"in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    if args.history:
        from app.core.unit_of_work import UnitOfWorkFactory
        from app.demo.history import load_history

        t1 = time.perf_counter()
        uows = UnitOfWorkFactory(session_factory(args.database_url), settings)
        lives = load_history(uows, settings, today=today, count=args.history, seed=args.seed)
        uows.dispose()
        print(f"history: {len(lives)} past projects in {time.perf_counter() - t1:.0f} s", flush=True)


# --- multiply ------------------------------------------------------------------------------------------
def multiply(args: argparse.Namespace) -> None:
    """Copy every project told by `generate` (its row and its events, new ids, names suffixed « [copie k] »)
    `--factor` - 1 times, in SQL: the national scale when telling 10,000 projects through the services
    takes hours on a shared machine. The copies have no evidence, pauses or outbox, their events no feed
    position, and their hash chains are not valid (the project id is in the hash): `regieflow verify` is
    not meaningful on them; what the forecasts and the analytics read (projects, transition events) is
    there at scale. The forecast requests go to the told projects only (their evidence exists)."""
    from sqlalchemy import text

    factory = session_factory(args.database_url)
    with factory() as s:
        cols = {
            t: list(
                s.scalars(
                    text(
                        "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                        "ORDER BY ordinal_position"
                    ),
                    {"t": t},
                )
            )
            for t in ("projects", "events")
        }
        s.execute(text("CREATE TEMP TABLE told AS SELECT id FROM projects WHERE name NOT LIKE '%[copie %'"))
        for k in range(2, args.factor + 1):
            t0 = time.perf_counter()
            s.execute(text("CREATE TEMP TABLE m AS SELECT id AS old, gen_random_uuid() AS new FROM told"))
            p_cols = ", ".join(cols["projects"])
            p_vals = ", ".join(
                "m.new" if c == "id" else f"p.name || ' [copie {k}]'" if c == "name" else f"p.{c}"
                for c in cols["projects"]
            )
            s.execute(text(f"INSERT INTO projects ({p_cols}) SELECT {p_vals} FROM projects p JOIN m ON p.id = m.old"))
            e_cols = ", ".join(cols["events"])
            e_vals = ", ".join(
                "top.id + row_number() OVER (ORDER BY e.id)"
                if c == "id"
                else "m.new"
                if c == "project_id"
                else "NULL"
                if c == "feed_seq"
                else f"e.{c}"
                for c in cols["events"]
            )
            s.execute(
                text(
                    f"INSERT INTO events ({e_cols}) SELECT {e_vals} FROM events e JOIN m ON e.project_id = m.old, "
                    "(SELECT max(id) AS id FROM events) top"
                )
            )
            s.execute(text("DROP TABLE m"))
            s.commit()
            n = s.scalar(text("SELECT count(*) FROM projects"))
            print(f"copy {k}: {n} projects in all ({time.perf_counter() - t0:.1f} s)", flush=True)
        s.execute(text("ANALYZE projects"))
        s.execute(text("ANALYZE events"))
        s.commit()
        n_p = s.scalar(text("SELECT count(*) FROM projects"))
        n_e = s.scalar(text("SELECT count(*) FROM events"))
    factory.kw["bind"].dispose()
    print(f"multiplied: {n_p} projects, {n_e} events", flush=True)


# --- measure -------------------------------------------------------------------------------------------
def facts_of(url: str) -> dict[str, Any]:
    import app.tables  # noqa: F401  (every model: Project's relationships resolve)
    from app.projects.models import Event, Project
    from workflow.vocabulary import STEPS

    factory = session_factory(url)
    with factory() as s:
        told = Project.name.not_like("%[copie %")
        open_ids = [
            str(x) for x in s.scalars(select(Project.id).where(Project.state.in_([x.value for x in STEPS]), told))
        ]
        projects = s.scalar(select(func.count()).select_from(Project))
        events = s.scalar(select(func.count()).select_from(Event))
        labelled = s.scalar(select(func.count()).select_from(Project).where(Project.state == "labellisee"))
    factory.kw["bind"].dispose()
    return {"open_ids": open_ids, "projects": projects, "events": events, "labelled": labelled}


def time_refresh(url: str, times: int) -> list[float]:
    """Seconds of `times` full refreshes (what the worker does when a transition was recorded)."""
    from app.core.clock import Clock
    from app.core.settings import Settings
    from app.core.unit_of_work import UnitOfWorkFactory
    from app.forecasts.service import refresh

    settings = Settings(database_url=url)
    uows = UnitOfWorkFactory(session_factory(url), settings)
    out = []
    for _ in range(times):
        t0 = time.perf_counter()
        state = refresh(uows, Clock(settings.tz))
        out.append(round(time.perf_counter() - t0, 2))
        print(f"refresh: {out[-1]} s ({state.projects} projects, {state.samples} completed steps)", flush=True)
    uows.dispose()
    return out


def measure_all(args: argparse.Namespace) -> None:
    facts = print_facts(args.database_url)
    os.sched_setaffinity(0, {1})
    info = facts_of(args.database_url)
    print(
        f"portfolio: {info['projects']} projects ({len(info['open_ids'])} open, {info['labelled']} labelled), "
        f"{info['events']} events, loadavg {loadavg()}",
        flush=True,
    )
    results: dict[str, Any] = {"facts": facts, **{k: v for k, v in info.items() if k != "open_ids"}, "kinds": {}}
    results["refresh_s"] = time_refresh(args.database_url, args.refreshes)
    r = random.Random(args.seed)
    headers = {"Authorization": f"Bearer {create_key(args.database_url, 'bench-forecast')}"}
    server = start_server(args.database_url, cpus="0", wait=300.0)  # a busy machine starts it slowly
    try:
        n = args.requests
        cookie = session_cookie(args.database_url, server.port)
        kinds: list[tuple[str, dict[str, str] | None, list[str]]] = [
            ("forecast", headers, [f"/api/v1/projects/{r.choice(info['open_ids'])}/forecast" for _ in range(n)]),
            ("analytics-api", headers, ["/api/v1/analytics"] * n),
            ("analytics-page", cookie, ["/analyse"] * n),
        ]
        for kind, auth, paths in kinds:
            if auth is None:
                results["kinds"][kind] = "skipped: no session"
                continue
            status = asyncio.run(probe(server.port, auth, paths[0]))
            if status != 200:
                print(f"note: {kind} {paths[0]} answers {status}: skipped", flush=True)
                results["kinds"][kind] = f"skipped: {status}"
                continue
            cpu0 = cpu_seconds(server.pid)
            res = asyncio.run(measure(server.port, auth, paths))
            # the server's CPU (user + system, /proc) over the 20 warm-ups and the timed requests
            res["server_cpu_ms_per_request"] = round((cpu_seconds(server.pid) - cpu0) * 1000 / (len(paths) + 20), 2)
            res["loadavg"] = loadavg()
            res["target_p95_ms"] = TARGETS_MS[kind]
            results["kinds"][kind] = res
            print(f"{kind:15s} {json.dumps(res)}", flush=True)
    finally:
        server.stop()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="build the portfolio and the history")
    g.add_argument("--database-url", required=True)
    g.add_argument("--projects", type=int, default=10_000)
    g.add_argument("--events-per-project", type=int, default=30)
    g.add_argument("--first", type=int, default=0, help="index of the first project (to extend a portfolio)")
    g.add_argument("--history", type=int, default=1_000, help="past projects of app/demo/history.py")
    g.add_argument("--seed", type=int, default=16, help="the history's seed")
    g.add_argument("--workers", type=int, default=1)
    g.add_argument("--reset", action="store_true", help="drop and re-create the schema first")
    g.add_argument("--progress-every", type=int, default=250)
    m = sub.add_parser("measure", help="time a refresh, then the forecast and the analytics over HTTP")
    m.add_argument("--database-url", required=True)
    m.add_argument("--requests", type=int, default=200)
    m.add_argument("--refreshes", type=int, default=3)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--out")
    x = sub.add_parser("multiply", help="copy the told projects and their events up to the national scale")
    x.add_argument("--database-url", required=True)
    x.add_argument("--factor", type=int, default=10)
    args = ap.parse_args()
    {"generate": generate, "multiply": multiply, "measure": measure_all}[args.command](args)


if __name__ == "__main__":
    main()
