"""Where a transition's time goes: py-spy samples the server while the closed-loop load runs.

    python3 -m venv /tmp/tools && /tmp/tools/bin/pip install py-spy
    PYTHONPATH=. .venv/bin/python -m bench.profile --py-spy /tmp/tools/bin/py-spy \
        --database-url sqlite:////tmp/regieflow-bench.db --side regieflow --duration 20 --gil --out /tmp/profile

--gil keeps only the samples of threads holding the GIL: where the server's CPU goes. Without it,
threads waiting on the database (or on a lock) are sampled too.

Needs a database seeded by bench/throughput.py (--reset) and its id file. Writes the collapsed stacks
(`OUT.txt`, open them with speedscope or flamegraph.pl) and prints the functions with the largest
inclusive share of the samples taken in the server (py-spy leaves idle threads out), grouped
by area: app/, workflow/, SQLAlchemy, the DB driver, FastAPI/Starlette/pydantic, uvicorn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
from collections import Counter

from bench.common import create_key, ids_file, start_server
from bench.loadgen import run_closed
from bench.throughput import Flip

AREAS = (
    ("(app/", "app"),
    ("(workflow/", "workflow"),
    ("(bench/", "bench"),
    ("sqlalchemy", "sqlalchemy"),
    ("psycopg", "driver"),
    ("sqlite3", "driver"),
    ("pydantic", "fastapi/pydantic"),
    ("fastapi", "fastapi/pydantic"),
    ("starlette", "fastapi/pydantic"),
    ("anyio", "fastapi/pydantic"),
    ("uvicorn", "uvicorn"),
    ("transitions", "transitions"),
)
IDLE = (
    "wait (threading.py",
    "select (selectors.py",
    "_worker (concurrent",
    "run_forever",
    "_run_once",
    "get (queue.py",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--py-spy", default="py-spy")
    ap.add_argument("--side", choices=("regieflow", "baseline"), default="regieflow")
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--out", default="/tmp/regieflow-profile")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--gil", action="store_true", help="only samples holding the GIL (CPU, not waits)")
    args = ap.parse_args()
    os.sched_setaffinity(0, {1})
    with open(ids_file(args.database_url)) as f:
        ids = json.load(f)
    half = len(ids) // 2
    wl = Flip(ids[:half] if args.side == "regieflow" else ids[half:], args.side, args.database_url)
    key = create_key(args.database_url)
    server = start_server(args.database_url)
    try:
        spy = subprocess.Popen(
            [
                args.py_spy,
                "record",
                "--pid",
                str(server.pid),
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                args.out + ".txt",
                "--duration",
                str(int(args.duration)),
                "--nonblocking",
                *(["--gil"] if args.gil else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        res = asyncio.run(
            run_closed(
                "127.0.0.1",
                server.port,
                {"Authorization": f"Bearer {key}"},
                wl,
                connections=args.connections,
                duration=args.duration,
            )
        )
        spy.wait(60)
        print(json.dumps(res.summary()))
    finally:
        server.stop()
    report(args.out + ".txt", args.top)


def report(path: str, top: int) -> None:
    inclusive: Counter = Counter()
    selfs: Counter = Counter()
    areas: Counter = Counter()
    total = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = fh.readlines()
    for line in lines:
        stack, _, n = line.rstrip("\n").rpartition(" ")
        frames = stack.split(";")
        if not n.isdigit() or any(i in frames[-1] for i in IDLE):
            continue
        count = int(n)
        total += count
        for f in set(frames):
            inclusive[f] += count
        selfs[frames[-1]] += count
        leaf = frames[-1]
        areas[next((name for needle, name in AREAS if needle in leaf), "other")] += count
    print(f"\n{total} samples (py-spy drops idle threads). Self time by area (leaf frame):")
    for name, c in areas.most_common():
        print(f"  {100 * c / total:5.1f} %  {name}")
    print("\nInclusive share, app and workflow functions:")
    for f, c in [(f, c) for f, c in inclusive.most_common() if "(app/" in f or "(workflow/" in f][:top]:
        print(f"  {100 * c / total:5.1f} %  {f}")
    print("\nSelf time, top leaf frames:")
    for f, c in selfs.most_common(15):
        print(f"  {100 * c / total:5.1f} %  {f}")


if __name__ == "__main__":
    main()
