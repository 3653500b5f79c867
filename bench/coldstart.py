"""Cold start: `regieflow serve` to the first successful request, and the app's import time.

    PYTHONPATH=. .venv/bin/python -m bench.coldstart --runs 5

Each figure is the median of --runs fresh processes (min and max given too):

* import: wall time of `python -c "import app.http.application"` minus that of `python -c "pass"` (same interpreter),
  and the same in CPU seconds (less sensitive to other processes on the machine), side by side with
  the import of the stack alone (FastAPI, SQLAlchemy ORM, pydantic, uvicorn, Jinja2, transitions,
  psycopg, argon2, dateutil): the ratio says what the app adds to what any app on this stack pays;
  and `python -X importtime` top entries (cumulative µs) for where it goes;
* create_app: building the application in a warm interpreter (engine, routers, rule check);
* serve → health: `regieflow serve` (`python -m app.cli serve`, which migrates the database first)
  until `GET /api/v1/health` answers 200, on an already migrated SQLite file;
* serve → first API answer: until an authenticated `GET /api/v1/projects` answers 200 (includes
  FastAPI building the route's handling on first use);
* the same on a fresh SQLite file (the migrations run at start) and on PostgreSQL (--database-url).

Bytecode: with PYTHONDONTWRITEBYTECODE=1 in the environment (as on the development machine) every
process compiles the app's own sources again (~0.27 s of CPU for ~200 modules, 2 December); an installed
service keeps its bytecode. `--bytecode` measures that case: the children keep their bytecode in a
temporary PYTHONPYCACHEPREFIX (the repository untouched), filled by one discarded run first. The default
measures the environment as it is; `bytecode` in the output says which.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

from bench.common import ROOT, cpu_seconds, create_key, free_port, loadavg, print_facts, reset_database

PY = sys.executable
STACK = "import fastapi, sqlalchemy.orm, pydantic, uvicorn, jinja2, transitions, psycopg, argon2, dateutil"


def run_time(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([PY, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    return time.perf_counter() - t0


def run_cpu(code: str) -> float:
    """CPU seconds (user + system) of a child running `code`."""
    before = os.times()
    subprocess.run([PY, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)


def stats(xs: list[float]) -> dict:
    return {
        "median_s": round(statistics.median(xs), 3),
        "min_s": round(min(xs), 3),
        "max_s": round(max(xs), 3),
        "runs": len(xs),
    }


def importtime_top(n: int = 12) -> list[tuple[str, int]]:
    """`python -X importtime -c "import app.http.application"`: self time summed per top-level package (µs)."""
    r = subprocess.run(
        [PY, "-X", "importtime", "-c", "import app.http.application"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    per: dict[str, int] = {}
    for line in r.stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or "self" in parts[0]:
            continue
        self_us = int(parts[0].split(":")[1].strip())
        root = parts[2].strip().split(".")[0]
        per[root] = per.get(root, 0) + self_us
    return sorted(per.items(), key=lambda x: -x[1])[:n]


def serve_until(url: str, key: str | None, path: str) -> tuple[float, float, float]:
    with tempfile.TemporaryFile() as errors:  # the server's stderr, read only if it stops (a pipe could fill)
        return _serve_until(url, key, path, errors)


def _serve_until(url: str, key: str | None, path: str, errors: Any) -> tuple[float, float, float]:
    """Seconds from spawning `regieflow serve` to GET /api/v1/health = 200 and to `path` = 200, and the
    CPU seconds the server process had used by then (independent of the machine's load)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REGIEFLOW_DATABASE_URL": url, "REGIEFLOW_LOG_LEVEL": "warning"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [PY, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    try:
        health = first = None
        while time.perf_counter() - t0 < 120:
            if proc.poll() is not None:  # it stopped (a port taken meanwhile, a bug): say why, now
                errors.seek(0)
                raise RuntimeError(f"serve exited with {proc.returncode}: {errors.read().decode()[-1500:]}")
            try:
                if health is None:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5) as r:
                        if r.status == 200:
                            health = time.perf_counter() - t0
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {key}"} if key else {}
                )
                with urllib.request.urlopen(req, timeout=10) as r:
                    if r.status == 200:
                        first = time.perf_counter() - t0
                        cpu = cpu_seconds(proc.pid)
                        break
            except OSError:
                time.sleep(0.01)
        if health is None or first is None:
            raise TimeoutError("server did not answer")
        return health, first, cpu
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench_cold")
    ap.add_argument("--out")
    ap.add_argument("--bytecode", action="store_true", help="keep the children's bytecode between runs (see above)")
    args = ap.parse_args()
    facts = print_facts(args.database_url)
    out: dict = {"facts": facts}
    if args.bytecode:
        os.environ["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="coldstart-pyc-")  # inherited by every child
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        run_time("import app.cli, app.http.application")  # fills it; each serve's first run is discarded below
    out["bytecode"] = (
        "kept (PYTHONPYCACHEPREFIX)"
        if args.bytecode
        else f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}"
    )
    base = [run_time("pass") for _ in range(args.runs)]
    imp = [run_time("import app.http.application") for _ in range(args.runs)]
    out["python_startup"] = stats(base)
    out["import_app_main"] = stats([i - statistics.median(base) for i in imp])
    out["import_app_main_cpu"] = stats(
        [run_cpu("import app.http.application") - run_cpu("pass") for _ in range(args.runs)]
    )
    # side by side: the stack alone (what any app on it pays), for the ratio app / stack
    out["import_stack_cpu"] = stats([run_cpu(STACK) - run_cpu("pass") for _ in range(args.runs)])
    out["import_ratio_app_to_stack"] = round(
        out["import_app_main_cpu"]["median_s"] / out["import_stack_cpu"]["median_s"], 2
    )
    r = subprocess.run(
        [
            PY,
            "-c",
            "import app.http.application, time, os\nfrom app.core.settings import Settings\nxs=[]\n"
            "for _ in range(5):\n t=time.perf_counter(); "
            "app.http.application.create_app(Settings(database_url='sqlite://')); "
            "xs.append(time.perf_counter()-t)\nprint(sorted(xs)[2])",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    out["create_app_median_s"] = round(float(r.stdout.strip()), 3) if r.returncode == 0 else r.stderr[-300:]
    out["importtime_top_us"] = importtime_top()
    with tempfile.TemporaryDirectory() as tmp:
        for label, url, fresh in (
            ("sqlite_migrated", f"sqlite:///{tmp}/cold.db", False),
            ("sqlite_fresh", f"sqlite:///{tmp}/fresh.db", True),
            ("postgresql_migrated", args.database_url, False),
        ):
            from bench.common import ensure_pg_database

            ensure_pg_database(url)
            reset_database(url)
            key = create_key(url)
            hs, fs, cs = [], [], []
            if args.bytecode and not fresh:
                serve_until(url, key, "/api/v1/projects")  # discarded: writes the bytecode serve alone imports
            for _ in range(args.runs):
                if fresh:
                    for suffix in ("", "-wal", "-shm"):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(f"{tmp}/fresh.db{suffix}")
                    key = None  # no key in an empty database: first answer = the health check
                h, f, c = serve_until(url, key, "/api/v1/projects" if key else "/api/v1/health")
                hs.append(h)
                fs.append(f)
                cs.append(c)
            out[label] = {
                "serve_to_health": stats(hs),
                "serve_to_first_api_answer": stats(fs),
                "server_cpu_at_first_answer": stats(cs),
                "loadavg": loadavg(),
            }
            print(label, json.dumps(out[label]), flush=True)
    out["loadavg"] = loadavg()
    if args.bytecode:
        shutil.rmtree(os.environ["PYTHONPYCACHEPREFIX"], ignore_errors=True)
    print(json.dumps({k: v for k, v in out.items() if k != "facts"}, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
