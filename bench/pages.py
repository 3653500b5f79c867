"""Latency of the pages that say what to do next (issue 13) on a 10,000-project portfolio on PostgreSQL, over
HTTP, one request at a time, like bench/portfolio.py (same server, same client, same percentiles).

Build the portfolio once (< 10 min on the 2-CPU machine; reused by later runs), then measure:

    PYTHONPATH=. .venv/bin/python -u -m bench.pages build \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench_pages
    PYTHONPATH=. .venv/bin/python -u -m bench.pages measure \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench_pages --requests 200 \\
        --out /tmp/pages.json

`build` (reproducible: seeded; --reset drops the schema first, otherwise an existing portfolio of the
target size is reused as it is):

1. tells --told projects (300) through the services with bench/generate.py's `one_project` (every event,
   guard, hash chain and outbox message of an ordinary history, started 0-42 months ago, balanced
   budgets only), in --workers processes;
2. tells --history past projects (200) of app/demo/history.py (what the forecasts learn from);
3. copies the told projects in SQL until --target (10,000) projects: each copy gets a new id, its name
   suffixed « [copie k] », and copies of its events (no feed position; a copy's hash chain does not
   verify: the project id is hashed), communes, QPV and pauses; not its other evidence. The pages
   sampled below are told projects only; the copies make the lists, counts and searches national;
4. refreshes the forecasts once (app.forecasts.service.refresh, what `regieflow forecast refresh` and
   the worker do), so the project page reads stored distributions like in production.

`measure` (server pinned to CPU 0, this client to CPU 1; 20 warm-up requests, then --requests per kind):

* home: a porteur's « Mes projets » (a session of a porteur of three projects): their cards, each with its
  checklist, due date in words and reason;
* deadlines: « Mes échéances » for a national consultant (every project visible): the 50 most urgent
  projects' due dates and horizons in the next 60 days, overdue first, and the open opinion requests;
* project: the project page of a told project drawn at random (seeded) among those with a history
  (more than one event), for the consultant;
* portfolio: `/projets` (first page, sorted by status) and portfolio-search: `/projets?q=…` with a
  word drawn from the projects' names and communes, accents and capitals changed.

Prints one JSON line per kind: p50, p95, p99, max in ms, statuses, the load average after the kind
(the machine is shared: read the figures with it), and the CPU milliseconds per request of the server
process and of the PostgreSQL backends (less sensitive to the load than wall time).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import time
import urllib.request
import uuid
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select, text

import app.tables  # noqa: F401 - every mapped class, before a query
from bench.common import (
    cpu_of,
    ensure_pg_database,
    loadavg,
    pg_backend_pids,
    print_facts,
    reset_database,
    session_factory,
    start_server,
    tree_cpu_seconds,
)
from bench.portfolio import measure, probe

PASSWORD = "bench-password-123"
COPY = "[copie "  # the copies' names: « … [copie k] »
# the told projects' own rows copied with them (project_id mapped to the copy's); ids renumbered
COPIED_CHILDREN = ("events", "communes", "qpvs", "suspensions")


# --- build ---------------------------------------------------------------------------------------------
def _count(url: str) -> int:
    factory = session_factory(url)
    with factory() as s:
        exists = s.scalar(text("SELECT to_regclass('public.projects') IS NOT NULL"))
        n = int(s.scalar(text("SELECT count(*) FROM projects")) or 0) if exists else 0
    factory.kw["bind"].dispose()
    return n


def _multiply(url: str, target: int) -> None:
    """Copy the told projects (not the history's past projects) in SQL until `target` projects exist."""
    factory = session_factory(url)
    with factory() as s:
        cols = {
            t: list(
                s.scalars(
                    text(
                        "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                        "AND table_schema = 'public' ORDER BY ordinal_position"
                    ),
                    {"t": t},
                )
            )
            for t in ("projects", *COPIED_CHILDREN)
        }
        s.execute(
            text(
                # bench/generate.py names its projects « <site> n°00042 »; the history's have other names
                "CREATE TEMP TABLE told AS SELECT id FROM projects WHERE name LIKE :told AND name NOT LIKE :copy"
            ),
            {"told": "% n°%", "copy": f"%{COPY}%"},
        )
        k = 1
        while (n := int(s.scalar(text("SELECT count(*) FROM projects")) or 0)) < target:
            k += 1
            s.execute(
                text(
                    "CREATE TEMP TABLE m AS SELECT id AS old, gen_random_uuid() AS new FROM told ORDER BY id LIMIT :n"
                ),
                {"n": target - n},
            )
            p_cols = ", ".join(cols["projects"])
            p_vals = ", ".join(
                "m.new" if c == "id" else f"left(p.name, 180) || ' {COPY}{k}]'" if c == "name" else f"p.{c}"
                for c in cols["projects"]
            )
            s.execute(text(f"INSERT INTO projects ({p_cols}) SELECT {p_vals} FROM projects p JOIN m ON p.id = m.old"))
            for table in COPIED_CHILDREN:
                c_cols = ", ".join(cols[table])
                c_vals = ", ".join(
                    "top.id + row_number() OVER (ORDER BY x.id)"
                    if c == "id"
                    else "m.new"
                    if c == "project_id"
                    else "NULL"
                    if c == "feed_seq"
                    else f"x.{c}"
                    for c in cols[table]
                )
                s.execute(
                    text(
                        f"INSERT INTO {table} ({c_cols}) SELECT {c_vals} FROM {table} x "
                        f"JOIN m ON x.project_id = m.old, (SELECT coalesce(max(id), 0) AS id FROM {table}) top"
                    )
                )
            s.execute(text("DROP TABLE m"))
            s.commit()
        # the serial sequences after the explicit ids
        for table in COPIED_CHILDREN:
            s.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            )
        s.commit()
    engine = factory.kw["bind"]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # the visibility map and the statistics after the bulk copies, as autovacuum would set them later
        for table in ("projects", *COPIED_CHILDREN):
            conn.execute(text(f"VACUUM ANALYZE {table}"))
    engine.dispose()


def _told(url: str) -> int:
    factory = session_factory(url)
    with factory() as s:
        n = int(s.scalar(text("SELECT count(*) FROM projects WHERE name LIKE '% n°%'")) or 0)
    factory.kw["bind"].dispose()
    return n


def build(args: argparse.Namespace) -> None:
    """Build the portfolio, or finish one an earlier build left half-made (each stage is skipped when
    its projects are there), or reuse a complete one."""
    from app.core.settings import Settings

    print_facts(args.database_url)
    t_all = time.perf_counter()
    ensure_pg_database(args.database_url)
    if args.reset or _count(args.database_url) == 0:
        reset_database(args.database_url)
    elif _count(args.database_url) >= args.target:
        print(f"build: {_count(args.database_url)} projects already there, reused (--reset to rebuild)")
        return
    settings = Settings(database_url=args.database_url)
    today = dt.datetime.now(settings.tz).date()
    from bench.forecast import _worker

    t0 = time.perf_counter()
    if _told(args.database_url) < args.told:
        indexes = list(range(_told(args.database_url), args.told))
        jobs = [
            (args.database_url, indexes[w :: args.workers], args.events_per_project, today, w, 50)
            for w in range(args.workers)
        ]
        with mp.get_context("spawn").Pool(args.workers) as pool:
            told = pool.starmap(_worker, jobs)
        print(
            f"build: told {sum(r[0] for r in told)} projects, {sum(r[1] for r in told)} events "
            f"in {time.perf_counter() - t0:.0f} s, loadavg {loadavg()}",
            flush=True,
        )
    from app.core.clock import Clock
    from app.core.unit_of_work import UnitOfWorkFactory
    from app.demo.history import load_history
    from app.forecasts.service import refresh

    t0 = time.perf_counter()
    uows = UnitOfWorkFactory(session_factory(args.database_url), settings)
    lives = load_history(uows, settings, today=today, count=args.history, seed=16, resume=True)
    print(f"build: history of {len(lives)} past projects told in {time.perf_counter() - t0:.0f} s", flush=True)
    t0 = time.perf_counter()
    _multiply(args.database_url, args.target)
    print(f"build: {_count(args.database_url)} projects after the SQL copies in {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    state = refresh(uows, Clock(settings.tz))
    uows.dispose()
    print(
        f"build: forecasts refreshed in {time.perf_counter() - t0:.0f} s ({state.projects} open projects, "
        f"{state.samples} completed steps); whole build {time.perf_counter() - t_all:.0f} s, loadavg {loadavg()}",
        flush=True,
    )


# --- measure -------------------------------------------------------------------------------------------
def _user(url: str, email: str, grants: list[tuple[str, Any, Any]]) -> None:
    from app.accounts import service as accounts
    from app.core.unit_of_work import UnitOfWork

    factory = session_factory(url)
    with UnitOfWork(factory) as uow, contextlib.suppress(Exception):  # there from an earlier run
        accounts.create_user(
            uow, email=email, name="Bench", password=PASSWORD, grants=grants, now=dt.datetime.now(dt.UTC)
        )
    factory.kw["bind"].dispose()


def _cookie(port: int, email: str) -> dict[str, str]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/login",
        method="POST",
        data=json.dumps({"email": email, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        return {"Cookie": r.headers.get("set-cookie", "").split(";")[0]}


def facts_of(url: str) -> dict[str, Any]:
    from app.evidence.models import Commune
    from app.projects.models import Event, Project

    factory = session_factory(url)
    with factory() as s:
        total = s.scalar(select(func.count()).select_from(Project))
        documented = [
            str(x)
            for x in s.scalars(
                select(Event.project_id)
                .join(Project, Project.id == Event.project_id)
                .where(Project.name.like("% n°%"), Project.name.not_like(f"%{COPY}%"))
                .group_by(Event.project_id)
                .having(func.count() > 1)
                .order_by(Event.project_id)
            )
        ]
        words = sorted({w for n in s.scalars(select(Project.name).limit(500)) for w in n.split() if len(w) > 4})
        words += sorted({c for c in s.scalars(select(Commune.name).distinct().limit(200))})
    factory.kw["bind"].dispose()
    return {"projects": total, "documented": documented, "words": words}


def scramble(word: str, r: random.Random) -> str:
    """The same word as someone types it: capitals or not, accents dropped."""
    plain = word.translate(str.maketrans("éèêëàâîïôöûüçÉÈÎ", "eeeeaaiioouucEEI"))
    return r.choice([plain.lower(), plain.upper(), word, plain])


def measure_all(args: argparse.Namespace) -> None:
    facts = print_facts(args.database_url)
    os.sched_setaffinity(0, {1})
    info = facts_of(args.database_url)
    print(f"pages: {info['projects']} projects, {len(info['documented'])} told with a history, loadavg {loadavg()}")
    r = random.Random(args.seed)
    mine = r.sample(info["documented"], 3)
    _user(args.database_url, "bench-porteur@example.org", [("porteur", uuid.UUID(p), None) for p in mine])
    _user(args.database_url, "bench-consultant@example.org", [("consultant", None, None)])
    server = start_server(args.database_url, cpus="0")
    results: dict[str, Any] = {"facts": facts, "projects": info["projects"], "kinds": {}}
    wanted = set(args.kinds.split(","))
    try:
        porteur = _cookie(server.port, "bench-porteur@example.org")
        consultant = _cookie(server.port, "bench-consultant@example.org")
        n = args.requests
        kinds = {
            "home": (porteur, ["/"] * n),
            "deadlines": (consultant, ["/echeances"] * n),
            "project": (consultant, [f"/projets/{r.choice(info['documented'])}" for _ in range(n)]),
            "portfolio": (consultant, ["/projets"] * n),
            "portfolio-search": (
                consultant,
                [f"/projets?q={quote(scramble(r.choice(info['words']), r))}" for _ in range(n)],
            ),
        }
        for kind, (headers, paths) in kinds.items():
            if kind not in wanted:
                continue
            status = asyncio.run(probe(server.port, headers, paths[0]))
            assert status == 200, (kind, paths[0], status)
            backends = pg_backend_pids(args.database_url)
            cpu_app, cpu_pg = tree_cpu_seconds(server.pid), cpu_of(backends)
            res = asyncio.run(measure(server.port, headers, paths))
            sent = len(paths) + 20  # the warm-up requests too
            res["server_cpu_ms_per_request"] = round((tree_cpu_seconds(server.pid) - cpu_app) * 1000 / sent, 2)
            res["pg_cpu_ms_per_request"] = round((cpu_of(backends) - cpu_pg) * 1000 / sent, 2)
            res["loadavg"] = loadavg()
            results["kinds"][kind] = res
            print(f"{kind:16s} {json.dumps(res)}", flush=True)
    finally:
        server.stop()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build (or reuse) the 10,000-project portfolio")
    b.add_argument("--database-url", required=True)
    b.add_argument("--target", type=int, default=10_000, help="projects in all, after the SQL copies")
    b.add_argument("--told", type=int, default=300, help="projects told through the services")
    b.add_argument("--events-per-project", type=int, default=10)
    b.add_argument("--history", type=int, default=200, help="past projects of app/demo/history.py")
    b.add_argument("--workers", type=int, default=2)
    b.add_argument("--reset", action="store_true", help="rebuild even when the portfolio is there")
    m = sub.add_parser("measure", help="the five pages over HTTP")
    m.add_argument("--database-url", required=True)
    m.add_argument("--requests", type=int, default=200)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--kinds", default="home,deadlines,project,portfolio,portfolio-search")
    m.add_argument("--out")
    args = ap.parse_args()
    {"build": build, "measure": measure_all}[args.command](args)


if __name__ == "__main__":
    main()
