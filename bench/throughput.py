"""Transition throughput over HTTP: regieflow against a baseline that does the same writes raw.

    PYTHONPATH=. .venv/bin/python -m bench.throughput \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench --reset --full-baseline \
        --out /tmp/throughput-pg.json
    PYTHONPATH=. .venv/bin/python -m bench.throughput --database-url sqlite:////tmp/regieflow-bench.db --reset \
        --out /tmp/throughput-sqlite.json

Issue 17 (the lean transition path, app/transitions/store.py), short side-by-side runs on both databases
(compare the server CPU ms per request of regieflow and baseline-full; --reset seeds 2 × 60 projects):

    PYTHONPATH=. .venv/bin/python -m bench.throughput --database-url sqlite:////tmp/b17/tp.db --reset \
        --projects 60 --full-baseline --rounds 2 --duration 10 --warmup 3 --out /tmp/b17/sqlite.json
    PYTHONPATH=. .venv/bin/python -m bench.throughput \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench17 --reset \
        --projects 60 --full-baseline --rounds 2 --duration 10 --warmup 3 --out /tmp/b17/pg.json

What it does, in one run:

1. (--reset) rebuilds the schema with the migrations and seeds 2 × --projects projects through the
   service functions, each moved to `faisabilite` with the evidence `soumettre_validation` needs;
   half serve regieflow, half the baseline (same rows, same history length).
2. starts `python -m bench.server` (uvicorn, one process) pinned to CPU 0 with taskset; this process,
   the load generator, pins itself to CPU 1. PostgreSQL's backends are not pinned (they float).
3. closed loop (--connections keep-alive connections, no think time), in alternating rounds of
   --duration seconds (regieflow, baseline, regieflow, baseline, …) after a warm-up:
   regieflow: `POST /api/v1/projects/{id}/transitions/soumettre_validation` (forward, guarded), then
   `…/reprendre_faisabilite` with `{"reason": …}` (backward) on the same project, and so on; a
   project is never in two requests at once, so every answer should be 200.
   baseline: `POST /bench/baseline/{id}` with the same bodies (see bench/server.py: API-key
   authentication, then UPDATE projects … RETURNING version + INSERT INTO events, one transaction);
   with --full-baseline a third side, `POST /bench/baseline-full/{id}`: every row a transition
   writes (also the feed counter and position and the outbox message), still without the workflow.
4. open loop at fixed rates (--rates, requests/s, default: 50 % and 80 % of the slower side's closed-loop
   throughput), same two workloads, latency measured from each request's scheduled time.

Reported per side: requests/s, p50/p95/p99 latency, CPU seconds per request and CPU % (of one core)
of the server, of the load generator and (PostgreSQL) of the backends, load averages, and the ratio
regieflow/baseline of requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections import deque
from typing import Any

from bench.common import (
    backend,
    cpu_seconds,
    create_key,
    ensure_pg_database,
    ids_file,
    loadavg,
    pg_backend_pids,
    print_facts,
    reset_database,
    seed_ready_projects,
    start_server,
    tree_cpu_seconds,
)
from bench.loadgen import Result, run_closed, run_open

FORWARD = "soumettre_validation"
BACKWARD = "reprendre_faisabilite"
REASON = json.dumps({"reason": "Les acteurs demandent de revoir le modèle économique (bench)."}).encode()


class Flip:
    """Each project alternates forward and backward; a project is in at most one request at a time."""

    def __init__(self, ids: list[str], side: str, url: str | None = None) -> None:
        self.side = side
        self.free = deque(ids)
        self.forward = {pid: True for pid in ids}  # next move is forward?
        self.unexpected: dict[int, int] = {}
        if url and side == "regieflow":  # start from the states a previous run left
            self.forward = {pid: st == "faisabilite" for pid, st in states_of(url, ids).items()}

    def next(self) -> tuple[str, str, bytes | None, str] | None:
        if not self.free:
            return None
        pid = self.free.popleft()
        fwd = self.forward[pid]
        body = None if fwd else REASON
        if self.side == "baseline":
            return "POST", f"/bench/baseline/{pid}", body, pid
        if self.side == "baseline-full":
            return "POST", f"/bench/baseline-full/{pid}", body, pid
        return "POST", f"/api/v1/projects/{pid}/transitions/{FORWARD if fwd else BACKWARD}", body, pid

    def done(self, pid: str, status: int, body: bytes) -> None:
        if status == 200:
            self.forward[pid] = not self.forward[pid]
        else:
            self.unexpected[status] = self.unexpected.get(status, 0) + 1
            if status == 409 and self.side == "regieflow":  # out of step (e.g. after an error): re-read
                self.forward[pid] = b"soumettre_validation" not in body and not self.forward[pid]
        self.free.append(pid)


def states_of(url: str, ids: list[str]) -> dict[str, str]:
    import uuid

    from sqlalchemy import select

    import app.tables  # noqa: F401  # every model, so that the mappers configure
    from app.projects.models import Project
    from bench.common import session_factory

    factory = session_factory(url)
    with factory() as session:
        rows = session.execute(select(Project.id, Project.state).where(Project.id.in_([uuid.UUID(i) for i in ids])))
        out = {str(pid): st for pid, st in rows}
    factory.kw["bind"].dispose()
    return out


def phase(
    server,
    url: str,
    headers: dict[str, str],
    workload: Flip,
    *,
    mode: str,
    connections: int,
    duration: float,
    rate: float | None = None,
) -> dict[str, Any]:
    pg = pg_backend_pids(url)
    db0 = {pid: cpu_seconds(pid) for pid in pg}
    s0, g0, w0 = tree_cpu_seconds(server.pid), time.process_time(), time.perf_counter()
    if mode == "closed":
        res: Result = asyncio.run(
            run_closed("127.0.0.1", server.port, headers, workload, connections=connections, duration=duration)
        )
    else:
        res = asyncio.run(run_open("127.0.0.1", server.port, headers, workload, rate=rate or 1, duration=duration))
    wall = time.perf_counter() - w0
    s1, g1 = tree_cpu_seconds(server.pid), time.process_time()
    # Backends come and go (the pool's overflow connections): count the ones alive at the end, from
    # their reading at the start (0 for new ones); the CPU of backends that exited meanwhile is lost.
    d0, d1 = 0.0, 0.0
    for pid in pg_backend_pids(url) if pg else []:
        now = cpu_seconds(pid)
        d0, d1 = d0 + db0.get(pid, 0.0), d1 + now
    out = res.summary()
    out.update(
        {
            "side": workload.side,
            "mode": mode,
            "rate": rate,
            "duration_s": round(res.elapsed, 1),
            "server_cpu_pct": round(100 * (s1 - s0) / wall, 1),
            "loadgen_cpu_pct": round(100 * (g1 - g0) / wall, 1),
            "db_cpu_pct": round(100 * (d1 - d0) / wall, 1) if pg else None,
            "server_cpu_ms_per_req": round(1000 * (s1 - s0) / max(1, res.count), 3),
            "db_cpu_ms_per_req": round(1000 * (d1 - d0) / max(1, res.count), 3) if pg else None,
            "late_starts": res.late_starts,
            "loadavg": loadavg(),
            "_latencies": res.latencies,
        }
    )
    return out


def combine(parts: list[dict[str, Any]]) -> dict[str, Any]:
    r = Result()
    for p in parts:
        r.latencies += p["_latencies"]
        r.elapsed += p["duration_s"]
        for k, v in p["statuses"].items():
            r.statuses[k] += v
    out = r.summary()
    for k in ("server_cpu_pct", "loadgen_cpu_pct", "db_cpu_pct", "server_cpu_ms_per_req", "db_cpu_ms_per_req"):
        vals = [p[k] for p in parts if p[k] is not None]
        out[k] = round(sum(vals) / len(vals), 3) if vals else None
    out["rounds_rps"] = [p["rps"] for p in parts]
    out["loadavg"] = [p["loadavg"] for p in parts]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--reset", action="store_true", help="rebuild the schema and seed the projects")
    ap.add_argument("--projects", type=int, default=100, help="projects per side")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--duration", type=float, default=20, help="seconds per closed-loop round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument(
        "--rates",
        type=float,
        nargs="*",
        help="open-loop rates (req/s); default 50%% and 80%% of the slower side's closed-loop throughput",
    )
    ap.add_argument("--open-duration", type=float, default=20)
    ap.add_argument("--server-cpus", default="0")
    ap.add_argument("--loadgen-cpus", default="1")
    ap.add_argument(
        "--full-baseline",
        action="store_true",
        help="also run a third side, /bench/baseline-full (every row a transition writes, no workflow)",
    )
    ap.add_argument("--server-processes", type=int, default=1, help="uvicorn worker processes (PostgreSQL)")
    ap.add_argument("--http", default="auto", choices=("auto", "h11", "httptools"), help="uvicorn's HTTP parser")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args()

    facts = print_facts(args.database_url)
    os.sched_setaffinity(0, {int(c) for c in args.loadgen_cpus.split(",")})
    ensure_pg_database(args.database_url)
    id_path = ids_file(args.database_url)
    if args.reset:
        reset_database(args.database_url)
        t0 = time.perf_counter()
        ids = seed_ready_projects(args.database_url, 2 * args.projects)
        print(f"seeded {len(ids)} projects in {time.perf_counter() - t0:.0f} s", flush=True)
        with open(id_path, "w") as f:
            json.dump(ids, f)
    with open(id_path) as f:
        ids = json.load(f)
    key = create_key(args.database_url)
    headers = {"Authorization": f"Bearer {key}"}
    sides = ["regieflow", "baseline"] + (["baseline-full"] if args.full_baseline else [])
    # regieflow keeps the first half (its projects' states carry over between runs); the baselines
    # write version/event rows only, so they can share the second half.
    half = len(ids) // 2
    rest = ids[half:]
    wl = {"regieflow": Flip(ids[:half], "regieflow", args.database_url)}
    for i, side in enumerate(sides[1:]):
        share = rest[i :: len(sides) - 1]
        wl[side] = Flip(share, side)

    if args.rounds == 0:
        print("seeded only (--rounds 0)")
        return
    server = start_server(
        args.database_url,
        cpus=args.server_cpus,
        extra=("--processes", str(args.server_processes), "--http", args.http),
    )
    results: dict[str, Any] = {"facts": facts, "backend": backend(args.database_url), "args": vars(args)}
    try:
        for side in sides:
            phase(
                server,
                args.database_url,
                headers,
                wl[side],
                mode="closed",
                connections=args.connections,
                duration=args.warmup,
            )
        closed: dict[str, list] = {side: [] for side in sides}
        for r in range(args.rounds):
            for side in sides if r % 2 == 0 else sides[::-1]:
                p = phase(
                    server,
                    args.database_url,
                    headers,
                    wl[side],
                    mode="closed",
                    connections=args.connections,
                    duration=args.duration,
                )
                print(
                    f"closed {side:9s} round {r}: {json.dumps({k: v for k, v in p.items() if k[0] != '_'})}", flush=True
                )
                closed[side].append(p)
        summary = {side: combine(parts) for side, parts in closed.items()}
        summary["ratio_rps"] = round(summary["regieflow"]["rps"] / summary["baseline"]["rps"], 3)
        if "baseline-full" in summary:
            summary["ratio_rps_full"] = round(summary["regieflow"]["rps"] / summary["baseline-full"]["rps"], 3)
        results["closed"] = summary
        print("closed summary: " + json.dumps(summary), flush=True)
        slower = min(summary[side]["rps"] for side in sides)
        rates = args.rates or [round(slower * 0.5), round(slower * 0.8)]
        results["open"] = []
        for rate in rates:
            for side in sides:
                p = phase(
                    server,
                    args.database_url,
                    headers,
                    wl[side],
                    mode="open",
                    connections=0,
                    duration=args.open_duration,
                    rate=rate,
                )
                p.pop("_latencies")
                print(f"open {side:9s} @ {rate}/s: {json.dumps(p)}", flush=True)
                results["open"].append(p)
        results["unexpected_statuses"] = {side: w.unexpected for side, w in wl.items()}
    finally:
        server.stop()
    for parts in closed.values():
        for p in parts:
            p.pop("_latencies", None)
    results["closed_rounds"] = closed
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    print(
        "done: "
        + json.dumps(
            {
                "ratio_rps": results["closed"]["ratio_rps"],
                "ratio_rps_full": results["closed"].get("ratio_rps_full"),
                "loadavg": loadavg(),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
