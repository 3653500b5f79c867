"""Memory: the RSS of one server process while it serves many transitions.

    PYTHONPATH=. .venv/bin/python -m bench.throughput --database-url sqlite:////tmp/regieflow-mem.db \
        --reset --projects 100 --rounds 0   # seeds the projects only (any earlier throughput run's database works too)
    PYTHONPATH=. .venv/bin/python -m bench.memory --database-url sqlite:////tmp/regieflow-mem.db \
        --transitions 100000 --warmup 10000 --every 5000

Starts bench/server.py (uvicorn, one process, pinned to CPU 0) and fires --transitions transitions
(forward and backward on the regieflow half of the seeded projects, --connections at a time),
reading the server's RSS (VmRSS) after the warm-up and then every --every transitions. Reports the
growth after warm-up; the target is < 10 MB after 100,000 transitions.

Then, in this process, it checks the claim behind the target: the shared `transitions` machine keeps
no project alive: after --domain-fires calls of workflow.machine.fire, every Flow given to it is
garbage (weak references are dead) and the machine registered no model.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import time
from datetime import date

from bench.common import create_key, ids_file, loadavg, print_facts, rss_mb, start_server
from bench.loadgen import run_closed
from bench.throughput import Flip


def domain_check(n: int) -> dict:
    from workflow import machine as wf
    from workflow.evidence import Evidence
    from workflow.vocabulary import Kind

    ev = Evidence(kind=Kind.REGIE_DE_QUARTIER)
    today = date(2026, 1, 1)
    gc.collect()
    before = sum(isinstance(o, wf.Flow) for o in gc.get_objects())
    for i in range(n):
        flow = wf.Flow("groupe_projet", i % 2 == 1, None)
        trigger = "reprendre" if flow.suspended else "suspendre"
        out = wf.fire(flow, trigger, ev, today=today, reason="motif")
        assert out.suspended != flow.suspended
    del flow, out
    gc.collect()
    alive = sum(isinstance(o, wf.Flow) for o in gc.get_objects())  # Flow has __slots__: no weakref, count them
    return {
        "fires": n,
        "flows_alive_before": before,
        "flows_alive_after": alive,
        "machine_models": len(wf.MACHINE.models),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--transitions", type=int, default=100_000)
    ap.add_argument("--warmup", type=int, default=10_000)
    ap.add_argument("--every", type=int, default=5_000)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--domain-fires", type=int, default=100_000)
    ap.add_argument("--out")
    args = ap.parse_args()
    facts = print_facts(args.database_url)
    os.sched_setaffinity(0, {1})
    with open(ids_file(args.database_url)) as f:
        ids = json.load(f)
    wl = Flip(ids[: len(ids) // 2], "regieflow", args.database_url)
    key = create_key(args.database_url)
    headers = {"Authorization": f"Bearer {key}"}
    server = start_server(args.database_url, cpus="0")
    samples = []
    t0 = time.perf_counter()
    done = 0
    statuses: dict = {}
    try:
        samples.append({"transitions": 0, "rss_mb": round(rss_mb(server.pid), 1), "loadavg": loadavg()})
        print(json.dumps(samples[-1]), flush=True)
        while done < args.transitions:
            chunk = args.warmup if done == 0 else min(args.every, args.transitions - done)
            res = asyncio.run(
                run_closed(
                    "127.0.0.1",
                    server.port,
                    headers,
                    wl,
                    connections=args.connections,
                    duration=1e9,
                    max_requests=chunk,
                )
            )
            done += res.count
            for k, v in res.statuses.items():
                statuses[k] = statuses.get(k, 0) + v
            samples.append(
                {
                    "transitions": done,
                    "rss_mb": round(rss_mb(server.pid), 1),
                    "elapsed_s": round(time.perf_counter() - t0),
                    "rps": round(res.rps, 1),
                    "loadavg": loadavg(),
                }
            )
            print(json.dumps(samples[-1]), flush=True)
    finally:
        server.stop()
    warm = samples[1]["rss_mb"]
    report = {
        "facts": facts,
        "samples": samples,
        "statuses": statuses,
        "rss_after_warmup_mb": warm,
        "rss_final_mb": samples[-1]["rss_mb"],
        "growth_after_warmup_mb": round(samples[-1]["rss_mb"] - warm, 1),
        "peak_mb": max(s["rss_mb"] for s in samples),
        "transitions": done,
    }
    report["domain"] = domain_check(args.domain_fires)
    print(json.dumps({k: v for k, v in report.items() if k not in ("facts", "samples")}), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
