"""Render the JSON written by the bench scripts (--out) as the Markdown rows of docs/PERFORMANCE.md.

PYTHONPATH=. .venv/bin/python -m bench.report throughput /tmp/throughput-pg.json
PYTHONPATH=. .venv/bin/python -m bench.report portfolio /tmp/portfolio-pg.json
"""

from __future__ import annotations

import json
import sys


def throughput(path: str) -> None:
    with open(path) as fh:
        r = json.load(fh)
    c = r["closed"]
    be = r["backend"]
    print(
        "| backend | side | mode | req/s | p50 ms | p95 ms | p99 ms | server CPU % | server CPU ms/req | "
        "load gen CPU % | DB backends CPU % | load avg (1 min) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for side in [k for k in ("regieflow", "baseline", "baseline-full") if k in c]:
        x = c[side]
        la = ", ".join(a.split()[0] for a in x["loadavg"])
        print(
            f"| {be} | {side} | closed, {r['args']['connections']} conn. | {x['rps']} | {x['p50_ms']} | "
            f"{x['p95_ms']} | {x['p99_ms']} | {x['server_cpu_pct']:.0f} | {x['server_cpu_ms_per_req']:.1f} | "
            f"{x['loadgen_cpu_pct']:.1f} | "
            f"{'—' if x['db_cpu_pct'] is None else round(x['db_cpu_pct'])} | {la} |"
        )
    for o in r["open"]:
        print(
            f"| {be} | {o['side']} | open, {o['rate']}/s | {o['rps']} | {o['p50_ms']} | {o['p95_ms']} | "
            f"{o['p99_ms']} | "
            f"{o['server_cpu_pct']:.0f} | {o['server_cpu_ms_per_req']:.1f} | {o['loadgen_cpu_pct']:.1f} | "
            f"{'—' if o['db_cpu_pct'] is None else round(o['db_cpu_pct'])} | {o['loadavg'].split()[0]} |"
        )
    print(
        f"\nratio regieflow/baseline (closed loop, req/s): **{c['ratio_rps']}**; rounds: regieflow "
        f"{c['regieflow']['rounds_rps']}, baseline {c['baseline']['rounds_rps']}; CPU-per-request ratio "
        f"{c['baseline']['server_cpu_ms_per_req'] / c['regieflow']['server_cpu_ms_per_req']:.3f}"
    )
    if "baseline-full" in c:
        print(
            f"ratio regieflow/baseline-full (every row a transition writes): **{c['ratio_rps_full']}**; rounds "
            f"{c['baseline-full']['rounds_rps']}; CPU-per-request ratio "
            f"{c['baseline-full']['server_cpu_ms_per_req'] / c['regieflow']['server_cpu_ms_per_req']:.3f}"
        )


def portfolio(path: str) -> None:
    with open(path) as fh:
        r = json.load(fh)
    print(f"{r['projects']} projects, {r['events']} events")
    print("| request | p50 ms | p95 ms | p99 ms | max ms | load avg (1 min) |\n|---|---|---|---|---|---|")
    for k, v in r["kinds"].items():
        if isinstance(v, str):
            print(f"| {k} | {v} | | | | |")
        else:
            print(
                f"| {k} | {v['p50_ms']} | {v['p95_ms']} | {v['p99_ms']} | {v['max_ms']} | {v['loadavg'].split()[0]} |"
            )


if __name__ == "__main__":
    {"throughput": throughput, "portfolio": portfolio}[sys.argv[1]](sys.argv[2])
