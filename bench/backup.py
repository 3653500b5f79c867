"""Backup and restore drill: the documented procedures, taken while transitions are being written,
restore a database on which `regieflow verify` is clean.

    PYTHONPATH=. .venv/bin/python -m bench.backup --database-url sqlite:////tmp/regieflow-backup.db
    PYTHONPATH=. .venv/bin/python -m bench.backup \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench_backup

The database is seeded through the services (--projects projects ready to move), then a server
(bench/server.py) takes forward and backward transitions from 8 connections while the backup runs:

* SQLite: the online backup API, i.e. `sqlite3 regieflow.db ".backup 'copy.db'"` (run here through
  Python's `sqlite3.Connection.backup`, which is the same API), then the copy is opened as a new
  database;
* PostgreSQL: `pg_dump --format=custom` (a consistent snapshot), `createdb`, `pg_restore --no-owner`.

Then, on the restored database: `regieflow verify` (the CLI, exit code 0 expected), and the counts of
projects, events and outbox messages, with events = outbox = sum of versions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench.common import (
    ROOT,
    create_key,
    ensure_pg_database,
    is_sqlite,
    loadavg,
    print_facts,
    reset_database,
    seed_ready_projects,
    session_factory,
    start_server,
)
from bench.loadgen import run_closed
from bench.throughput import Flip


def counts(url: str) -> dict:
    from app.projects.models import Event, OutboxMessage, Project

    factory = session_factory(url)
    with factory() as s:
        out = {
            "projects": s.scalar(select(func.count()).select_from(Project)),
            "events": s.scalar(select(func.count()).select_from(Event)),
            "outbox": s.scalar(select(func.count()).select_from(OutboxMessage)),
            "sum_of_versions": s.scalar(select(func.coalesce(func.sum(Project.version), 0))),
        }
    factory.kw["bind"].dispose()
    return out


def verify_cli(url: str) -> tuple[int, str]:
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "verify"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "REGIEFLOW_DATABASE_URL": url},
    )
    return r.returncode, (r.stdout + r.stderr).strip().splitlines()[-1]


def backup_sqlite(url: str, dest: Path) -> str:
    dest.unlink(missing_ok=True)
    src = sqlite3.connect(make_url(url).database)
    dst = sqlite3.connect(dest)
    with dst:
        src.backup(dst, pages=256, sleep=0.005)  # copies in steps; writers go on between steps
    dst.close()
    src.close()
    return f"sqlite:///{dest}"


def backup_pg(url: str, suffix: str = "_restored") -> tuple[str, dict]:
    u = make_url(url)
    target = f"{u.database}{suffix}"
    dump = Path(f"/tmp/{u.database}.dump")
    conn = ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]
    t0 = time.perf_counter()
    subprocess.run(["pg_dump", *conn, "--format=custom", "--file", str(dump), u.database], check=True)
    t_dump = time.perf_counter() - t0
    subprocess.run(["dropdb", *conn, "--if-exists", target], check=True)
    subprocess.run(["createdb", *conn, target], check=True)
    t0 = time.perf_counter()
    subprocess.run(["pg_restore", *conn, "--no-owner", "--dbname", target, str(dump)], check=True)
    t_restore = time.perf_counter() - t0
    return u.set(database=target).render_as_string(hide_password=False), {
        "dump_s": round(t_dump, 2),
        "restore_s": round(t_restore, 2),
        "dump_bytes": dump.stat().st_size,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--projects", type=int, default=20)
    ap.add_argument("--out")
    args = ap.parse_args()
    report = drill(args.database_url, projects=args.projects)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    sys.exit(0 if report["ok"] else 1)


def drill(url: str, *, projects: int = 20, quiet: bool = False) -> dict:
    facts = print_facts(url) if not quiet else {}
    ensure_pg_database(url)
    reset_database(url)
    ids = seed_ready_projects(url, projects, progress=False)
    key = create_key(url)
    server = start_server(url, cpus=None)
    wl = Flip(ids, "regieflow", url)
    stop = threading.Event()
    load: dict = {}

    def writer() -> None:
        total = 0
        while not stop.is_set():
            res = asyncio.run(
                run_closed(
                    "127.0.0.1", server.port, {"Authorization": f"Bearer {key}"}, wl, connections=8, duration=1.0
                )
            )
            total += res.count
        load["transitions_during_backup"] = total

    th = threading.Thread(target=writer)
    th.start()
    time.sleep(2)
    t0 = time.perf_counter()
    try:
        if is_sqlite(url):
            restored = backup_sqlite(url, Path(make_url(url).database + ".backup"))
            timing = {"backup_s": round(time.perf_counter() - t0, 2)}
        else:
            restored, timing = backup_pg(url)
    finally:
        time.sleep(1)
        stop.set()
        th.join()
        server.stop()
    code, last = verify_cli(restored)
    after = counts(restored)
    source_code, source_last = verify_cli(url)
    report = {
        "backend": "sqlite" if is_sqlite(url) else "postgresql",
        "restored_url": restored,
        **timing,
        **load,
        "restored": after,
        "verify_restored": {"exit": code, "last_line": last},
        "source_after": counts(url),
        "verify_source": {"exit": source_code, "last_line": source_last},
        "loadavg": loadavg(),
        "facts": facts,
    }
    report["ok"] = (
        code == 0
        and source_code == 0
        and after["events"] == after["outbox"] == after["sum_of_versions"]
        and after["projects"] == projects
    )
    if not quiet:
        print(json.dumps({k: v for k, v in report.items() if k != "facts"}, indent=1))
    return report


if __name__ == "__main__":
    main()
