"""Read latency on a large portfolio (made by bench/generate.py), over HTTP, one request at a time.

    PYTHONPATH=. .venv/bin/python -m bench.portfolio \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench_portfolio --requests 200

At the national scale of issue 17 (100,000 projects, ~3,000,000 events, built by bench/generate.py and
bench/replicate.py: see their docstrings):

    PYTHONPATH=. .venv/bin/python -m bench.portfolio \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench100k --requests 200 \
        --explain --out /tmp/portfolio-100k.json

The server (bench/server.py: uvicorn, one process) is pinned to CPU 0 and this client to CPU 1.
Each kind of request is sent --requests times, sequentially, after 20 warm-up requests, on projects
and filters drawn at random (seeded): latency is what one client sees on an otherwise idle server
(closed loop, one connection; see bench/throughput.py for latency under load).

* list: `GET /api/v1/projects?page_size=50` with a random filter (state, status, region, kind, q)
  and a random sort key: a filtered, sorted page of 50 projects with their statuses;
* list-baseline: the same 200 requests on `GET /bench/baseline/projects` (bench/server.py: the same
  key lookup and repository query, the rows' columns as JSON), right after: the ratio of the two
  medians is what the app's layers (access rule, deadline presentation, response model) cost;
* project, schedule, events (`?page_size=50`, a random page), transitions: one project;
* feed: the change feed `GET /api/v1/events?after=N&limit=100` from a random position N, and
* forecast: one project's label-date forecast `GET /api/v1/projects/{id}/forecast`;
* portfolio: the web portfolio page `/projets` (a consultant's session cookie): its first page of
  projects with statuses, the counts per step and per status, the filters' region list;
  portfolio-sorted: `/projets?tri=…` with a random sort and filter, the page as people page through it;
* home: the porteur's home `/` (« Mes projets », a session of a porteur of three projects drawn at
  random).
  A route that answers 404 is reported and skipped (--feed-path / --portfolio-path change them).

Prints one JSON line per kind (p50, p95, p99, max in ms; statuses) and the SQL plans of the list
query when --explain is given (PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import time
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select

import app.tables  # noqa: F401 - every mapped class, before a query
from bench.common import (
    cpu_of,
    create_key,
    loadavg,
    percentile,
    pg_backend_pids,
    print_facts,
    session_factory,
    start_server,
    tree_cpu_seconds,
)
from bench.loadgen import Conn

STATES = [
    "groupe_projet",
    "contours",
    "faisabilite",
    "validation",
    "prefiguration",
    "expertise",
    "labellisee",
    "abandonnee",
]
STATUSES = ["en_retard", "a_risque", "dans_les_temps"]
PAGE_SORTS = ["status", "-status", "name", "-started_on", "step_due_on", "-horizon_on", "region", "-updated_at"]
SORTS = ["status", "-status", "name", "started_on", "-step_due_on", "horizon_on", "-updated_at", "region"]


def refresh_keys(url: str) -> dict[str, Any]:
    """What the worker's daily round does first (app.projects.sort_keys.refresh: the list's stored status
    and sort keys recomputed for today), then VACUUM ANALYZE projects (what autovacuum does after many
    updated rows: the sort indexes are read without the table once the visibility map is set again)."""
    from app.core.clock import Clock
    from app.core.settings import Settings
    from app.core.unit_of_work import UnitOfWorkFactory
    from app.projects.sort_keys import refresh

    factory = session_factory(url)
    t0 = time.perf_counter()
    changed = refresh(UnitOfWorkFactory(factory), Clock(Settings().tz).today())
    took = time.perf_counter() - t0
    engine = factory.kw["bind"]
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE projects")
    engine.dispose()
    return {"changed": changed, "refresh_s": round(took, 1)}


def facts_of(url: str) -> dict[str, Any]:
    from app.projects.models import Event, Project

    factory = session_factory(url)
    with factory() as s:
        ids = [str(x) for x in s.scalars(select(Project.id))]
        regions = sorted(set(s.scalars(select(Project.region))))
        n_events = s.scalar(select(func.count()).select_from(Event))
        max_feed = s.scalar(select(func.max(Event.feed_seq))) or 0
    factory.kw["bind"].dispose()
    return {"ids": ids, "regions": regions, "events": n_events, "max_feed": max_feed}


def list_path(r: random.Random, regions: list[str]) -> str:
    params = ["page_size=50", f"sort={r.choice(SORTS)}"]
    pick = r.randrange(6)
    if pick == 0:
        params += [f"state={s}" for s in r.sample(STATES, r.randint(1, 3))]
    elif pick == 1:
        params += [f"status={s}" for s in r.sample(STATUSES, r.randint(1, 2))]
    elif pick == 2:
        params.append("region=" + quote(r.choice(regions)))
    elif pick == 3:
        params.append(f"kind={r.choice(['regie_de_quartier', 'regie_de_territoire'])}")
    elif pick == 4:
        params.append("q=" + quote(r.choice(["alma", "quartier", "n°00042", "grenoble", "xyz"])))
    params.append(f"page={r.randint(1, 3)}")
    return "/api/v1/projects?" + "&".join(params)


async def measure(port: int, headers: dict[str, str], paths: list[str]) -> dict[str, Any]:
    conn = Conn("127.0.0.1", port, headers)
    await conn.open()
    for p in paths[:20]:
        await conn.request("GET", p)
    lat, statuses = [], {}
    for p in paths:
        t0 = time.perf_counter()
        status, _body, _ = await conn.request("GET", p)
        lat.append((time.perf_counter() - t0) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
    conn.close()
    return {
        "requests": len(lat),
        "p50_ms": round(percentile(lat, 50), 2),
        "p95_ms": round(percentile(lat, 95), 2),
        "p99_ms": round(percentile(lat, 99), 2),
        "max_ms": round(max(lat), 2),
        "statuses": statuses,
    }


async def probe(port: int, headers: dict[str, str], path: str) -> int:
    conn = Conn("127.0.0.1", port, headers)
    status, _, _ = await conn.request("GET", path)
    conn.close()
    return status


def session_cookie(url: str, port: int, porteur_of: list[str] | None = None) -> dict[str, str] | None:
    """A consultant's session cookie (for the pages), by logging in through the API; with `porteur_of`,
    the session of a porteur of those projects instead."""
    import datetime as dt
    import urllib.request
    import uuid

    from app.accounts import service as accounts
    from app.authorization.rules import Role
    from app.core.unit_of_work import UnitOfWork

    factory = session_factory(url)
    email, password = "bench-consultant@example.org", "bench-password-123"
    grants: list[tuple[str, uuid.UUID | None, str | None]] = [(Role.CONSULTANT.value, None, None)]
    if porteur_of:
        email = f"bench-porteur-{porteur_of[0][:8]}@example.org"
        grants = [(Role.PORTEUR.value, uuid.UUID(pid), None) for pid in porteur_of]
    with UnitOfWork(factory) as uow, contextlib.suppress(Exception):  # already there from an earlier run
        accounts.create_user(
            uow,
            email=email,
            name="Bench",
            password=password,
            grants=grants,
            now=dt.datetime.now(dt.UTC),
        )
    factory.kw["bind"].dispose()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/login",
        method="POST",
        data=json.dumps({"email": email, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req) as r:
            cookie = r.headers.get("set-cookie", "").split(";")[0]
    except OSError as exc:
        print(f"note: login failed ({exc}); the portfolio page is skipped")
        return None
    return {"Cookie": cookie}


EXPLAINED: list[dict[str, Any]] = [  # the list's searches whose plans --explain prints
    {"status": ["en_retard"], "sort": "status"},
    {"sort": "status"},
    {"sort": "name"},
    {"sort": "-step_due_on"},
    {"sort": "region"},
    {"state": ["faisabilite"], "sort": "-updated_at"},
    {"q": "grenoble", "sort": "status"},
]


def explain(url: str, today: Any) -> None:
    """EXPLAIN ANALYZE of the statements the list's repository search sends, for a few filters and sorts."""
    from app.projects.repository import ProjectRepository

    factory = session_factory(url)
    with factory() as s:
        captured: list[Any] = []
        scalars, scalar = s.scalars, s.scalar

        def grab(stmt, *a, **k):
            captured.append(stmt)
            return scalars(stmt, *a, **k)

        def grab1(stmt, *a, **k):
            captured.append(stmt)
            return scalar(stmt, *a, **k)

        s.scalars, s.scalar = grab, grab1  # type: ignore[method-assign]
        for args in EXPLAINED:
            captured.clear()
            ProjectRepository(s).search(today=today, limit=50, **args)
            for stmt in captured:
                compiled = stmt.compile(dialect=s.get_bind().dialect, compile_kwargs={"render_postcompile": True})
                plan = s.connection().exec_driver_sql("EXPLAIN ANALYZE " + compiled.string, compiled.params)
                print("\n".join([f"-- plan of {args}:", *plan.scalars().all()]))
    factory.kw["bind"].dispose()


def measured(server: Any, url: str, headers: dict[str, str], paths: list[str]) -> dict[str, Any]:
    """`measure`, with the CPU milliseconds per request of the server process and of the PostgreSQL
    backends (warm-up included: 20 + len(paths) requests), which depend much less on the machine's load
    than wall times."""
    backends = pg_backend_pids(url)
    app0, pg0 = tree_cpu_seconds(server.pid), cpu_of(backends)
    res = asyncio.run(measure(server.port, headers, paths))
    sent = len(paths) + min(20, len(paths))
    res["server_cpu_ms_per_request"] = round((tree_cpu_seconds(server.pid) - app0) * 1000 / sent, 2)
    res["pg_cpu_ms_per_request"] = round((cpu_of(pg_backend_pids(url) or backends) - pg0) * 1000 / sent, 2)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--feed-path",
        default="/api/v1/events?after={after}&limit=100",
        help="change feed route; {after} is replaced by a random feed position",
    )
    ap.add_argument("--portfolio-path", default="/projets", help="web portfolio page (needs a session)")
    ap.add_argument("--explain", action="store_true")
    ap.add_argument(
        "--kinds",
        default="list,list-baseline,project,schedule,events,transitions,feed,forecast,portfolio,portfolio-sorted,home",
        help="comma-separated subset of the request kinds",
    )
    ap.add_argument(
        "--no-keys",
        action="store_true",
        help="skip the sort keys' refresh for today (the list then computes them per row)",
    )
    ap.add_argument("--out")
    args = ap.parse_args()
    facts = print_facts(args.database_url)
    os.sched_setaffinity(0, {1})
    if not args.no_keys:
        refreshed = refresh_keys(args.database_url)
        print(f"sort keys: {json.dumps(refreshed)}", flush=True)
    info = facts_of(args.database_url)
    print(f"portfolio: {len(info['ids'])} projects, {info['events']} events, loadavg {loadavg()}", flush=True)
    r = random.Random(args.seed)
    ids = info["ids"]
    key = create_key(args.database_url)
    headers = {"Authorization": f"Bearer {key}"}
    server = start_server(args.database_url, cpus="0")
    results: dict[str, Any] = {"facts": facts, "projects": len(ids), "events": info["events"], "kinds": {}}
    try:
        n = args.requests
        kinds = {
            "list": [list_path(r, info["regions"]) for _ in range(n)],
            "project": [f"/api/v1/projects/{r.choice(ids)}" for _ in range(n)],
            "schedule": [f"/api/v1/projects/{r.choice(ids)}/schedule" for _ in range(n)],
            "events": [f"/api/v1/projects/{r.choice(ids)}/events?page_size=50" for _ in range(n)],
            "transitions": [f"/api/v1/projects/{r.choice(ids)}/transitions" for _ in range(n)],
            "forecast": [f"/api/v1/projects/{r.choice(ids)}/forecast" for _ in range(n)],
            "feed": [args.feed_path.format(after=r.randint(0, max(0, info["max_feed"] - 100))) for _ in range(n)],
        }
        # the same list requests on the bench-only baseline route (same query, none of the app's layers)
        kinds["list-baseline"] = [p.replace("/api/v1/projects?", "/bench/baseline/projects?") for p in kinds["list"]]
        wanted = set(args.kinds.split(","))
        for kind, paths in kinds.items():
            if kind not in wanted:
                continue
            status = asyncio.run(probe(server.port, headers, paths[0]))
            if status == 404:
                print(
                    f"note: {kind} ({paths[0].split('?')[0]}) answers 404 in this build: skipped (see --feed-path)",
                    flush=True,
                )
                results["kinds"][kind] = "skipped: 404"
                continue
            res = measured(server, args.database_url, headers, paths)
            res["loadavg"] = loadavg()
            results["kinds"][kind] = res
            print(f"{kind:12s} {json.dumps(res)}", flush=True)
        lb = results["kinds"].get("list-baseline")
        if isinstance(lb, dict) and isinstance(results["kinds"].get("list"), dict):
            results["list_ratio_p50"] = round(lb["p50_ms"] / results["kinds"]["list"]["p50_ms"], 3)
            print(f"list: baseline / regieflow at p50 = {results['list_ratio_p50']}", flush=True)
        pages: list[tuple[str, dict[str, str] | None, list[str]]] = []
        if wanted & {"portfolio", "portfolio-sorted"}:
            cookie = session_cookie(args.database_url, server.port)
            if "portfolio" in wanted:
                pages.append(("portfolio", cookie, [args.portfolio_path] * n))
            if "portfolio-sorted" in wanted:
                sorted_paths = [
                    f"{args.portfolio_path}?tri={r.choice(PAGE_SORTS)}&page={r.randint(1, 3)}"
                    + r.choice(
                        ["", "&etape=faisabilite", "&statut=en_retard", "&region=" + quote(r.choice(info["regions"]))]
                    )
                    for _ in range(n)
                ]
                pages.append(("portfolio-sorted", cookie, sorted_paths))
        if "home" in wanted:
            pages.append(
                ("home", session_cookie(args.database_url, server.port, porteur_of=r.sample(ids, 3)), ["/"] * n)
            )
        for kind, cookie, paths in pages:
            if cookie is None:
                continue
            status = asyncio.run(probe(server.port, cookie, paths[0]))
            if status in (404, 405):
                print(f"note: page {paths[0]} answers {status} in this build: skipped", flush=True)
                results["kinds"][kind] = f"skipped: {status}"
                continue
            res = measured(server, args.database_url, cookie, paths)
            res["loadavg"] = loadavg()
            results["kinds"][kind] = res
            print(f"{kind:12s} {json.dumps(res)}", flush=True)
    finally:
        server.stop()
    if args.explain and not args.database_url.startswith("sqlite"):
        import datetime as dt

        explain(args.database_url, dt.date.today())
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
