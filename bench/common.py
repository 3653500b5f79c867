"""Shared plumbing for the scripts in bench/: databases, keys, seeding through the services,
servers pinned to a core, CPU and RSS readings, machine facts, percentiles.

Nothing here is imported by the application; run the scripts from the repository root:

    PYTHONPATH=. .venv/bin/python -m bench.<script> --help
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- databases ---------------------------------------------------------------------------------
def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def backend(url: str) -> str:
    return "sqlite" if is_sqlite(url) else "postgresql"


def reset_database(url: str) -> None:
    """Drop everything, then build the schema with the app's own migrations."""
    from app.core.database import make_engine
    from app.core.migrate import upgrade

    if is_sqlite(url):
        path = make_url(url).database
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)


def ensure_pg_database(url: str) -> None:
    """CREATE DATABASE if the URL's database does not exist yet (PostgreSQL only)."""
    if is_sqlite(url):
        return
    u = make_url(url)
    r = subprocess.run(
        [
            "psql",
            "-h",
            u.host or "127.0.0.1",
            "-p",
            str(u.port or 5432),
            "-U",
            u.username or "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{u.database}'",
            "postgres",
        ],
        capture_output=True,
        text=True,
    )
    if r.stdout.strip() != "1":
        subprocess.run(
            [
                "createdb",
                "-h",
                u.host or "127.0.0.1",
                "-p",
                str(u.port or 5432),
                "-U",
                u.username or "postgres",
                u.database,
            ],
            check=True,
        )


def session_factory(url: str):
    from app.core.database import make_engine, make_session_factory

    return make_session_factory(make_engine(url))


def create_key(url: str, name: str = "bench") -> str:
    """An unrestricted consultant key (read, write, label), created with app.accounts."""
    from app.accounts import service as accounts
    from app.core.unit_of_work import UnitOfWork

    factory = session_factory(url)
    with UnitOfWork(factory) as uow:
        new = accounts.create_api_key(
            uow,
            name=name,
            scopes=["read", "write"],
            consultant=True,
            created_by="bench",
            now=dt.datetime.now(dt.UTC),
        )
        key = new.key
    factory.kw["bind"].dispose()
    return key


def db_versions(url: str) -> dict[str, str]:
    out = {"sqlite": sqlite3.sqlite_version}
    try:
        r = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW server_version", "postgres"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        out["postgresql"] = r.stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        out["postgresql"] = "?"
    return out


def pg_backend_pids(url: str) -> list[int]:
    """Server processes of the PostgreSQL backends connected to this URL's database (for CPU readings)."""
    if is_sqlite(url):
        return []
    u = make_url(url)
    r = subprocess.run(
        [
            "psql",
            "-h",
            u.host or "127.0.0.1",
            "-U",
            u.username or "postgres",
            "-tAc",
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{u.database}' AND pid <> pg_backend_pid()",
            u.database,
        ],
        capture_output=True,
        text=True,
    )
    return [int(x) for x in r.stdout.split() if x.strip().isdigit()]


# --- seeding through the services (like app/demo.py) -------------------------------------------
def demo_sites() -> list[Any]:
    from app.demo.service import PORTFOLIO

    return [site for site, _when, _script in PORTFOLIO]


class BenchDemo:
    """app.demo's _Demo with a clock that can serve thousands of projects a day (seconds, not minutes)."""

    def __new__(cls, session_factory, settings, today):
        from app.core.clock import FixedClock
        from app.core.unit_of_work import UnitOfWorkFactory
        from app.demo.service import _Demo

        class _BenchDemo(_Demo):
            def clock_at(self, day: dt.date) -> FixedClock:
                if day > self.today:
                    raise ValueError(f"bench script bug: {day} is after today ({self.today})")
                tick = self._ticks.get(day, 0)
                self._ticks[day] = tick + 1
                local = dt.datetime.combine(day, dt.time(8, 0), self.settings.tz) + dt.timedelta(seconds=tick % 36_000)
                return FixedClock(tz=self.settings.tz, at=local.astimezone(dt.UTC))

        return _BenchDemo(UnitOfWorkFactory(session_factory), settings, today)


def story(demo: Any, site: Any, start: dt.date, name: str | None = None) -> Any:
    """A project's story (app.demo._Story) on `site`, renamed so that thousands stay distinguishable."""
    from dataclasses import replace

    from app.demo.service import _Story

    return _Story(demo, replace(site, name=name) if name else site, start)


FORWARD_FROM = {  # state -> forward trigger out of it
    "groupe_projet": "definir_contours",
    "contours": "lancer_faisabilite",
    "faisabilite": "soumettre_validation",
    "validation": "lancer_prefiguration",
    "prefiguration": "demander_expertise",
    "expertise": "labelliser",
}
BACKWARD_FROM = {
    "faisabilite": "reprendre_contours",
    "validation": "reprendre_faisabilite",
    "expertise": "ajourner_label",
}


def seed_ready_projects(
    url: str, n: int, *, state: str = "faisabilite", prefix: str = "Bench", complete: bool = True, progress: bool = True
) -> list[str]:
    """`n` projects moved through the services to `state`, with the evidence of that state recorded
    too (`complete`), so that the forward trigger out of it is allowed. Returns their ids."""
    from app.core.settings import Settings
    from workflow.vocabulary import State, Trigger

    factory = session_factory(url)
    settings = Settings(database_url=url)
    today = dt.datetime.now(settings.tz).date()
    demo = BenchDemo(factory, settings, today)
    # only the sites whose budget is balanced: the others (the demo's project blocked on budget_equilibre)
    # would be refused at soumettre_validation, and the throughput bench expects every move to pass
    sites = [s for s in demo_sites() if s.budget[1] + s.budget[2] >= s.budget[0]]
    ids = []
    t0 = time.perf_counter()
    order = list(FORWARD_FROM)
    for i in range(n):
        start = today - dt.timedelta(days=200)
        st = story(demo, sites[i % len(sites)], start, f"{prefix} {i:05d} – {sites[i % len(sites)].name}")
        st.create()
        day = start
        for step in order[: order.index(state)]:
            day += dt.timedelta(days=10)
            st.forward(Trigger(FORWARD_FROM[step]), day, prepare_days=0)
        if complete:
            st.complete(State(state), day)
        ids.append(str(st.pid))
        if progress and (i + 1) % 50 == 0:
            print(f"  seeded {i + 1}/{n} projects ({(i + 1) / (time.perf_counter() - t0):.1f}/s)", flush=True)
    factory.kw["bind"].dispose()
    return ids


# --- servers -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    url: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(
    url: str,
    *,
    port: int | None = None,
    cpus: str | None = "0",
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
    wait: float = 60.0,
    log: Path | None = None,
) -> Server:
    """`python -m bench.server` (the regieflow app plus the bench-only baseline route), pinned with taskset."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "bench.server", "--database-url", url, "--port", str(port), *extra]
    if cpus is not None:
        cmd = ["taskset", "-c", cpus, *cmd]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(proc, port, url)
    try:
        wait_healthy(server.base, wait, proc)
    except BaseException:
        server.stop()  # never leave a server behind that did not come up
        raise
    return server


def wait_healthy(base: str, timeout: float, proc: subprocess.Popen | None = None) -> float:
    """Poll GET /api/v1/health until it answers 200; returns the seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/api/v1/health", timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"{base} not healthy after {timeout}s")


# --- readings ----------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (a server with several worker processes)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(stat.parent.name))
    tree, stack = [], [pid]
    while stack:
        p = stack.pop()
        tree.append(p)
        stack.extend(parents.get(p, ()))
    return tree


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its living descendants."""
    return sum(cpu_seconds(p) for p in process_tree(pid))


def cpu_of(pids: Iterable[int]) -> float:
    return sum(cpu_seconds(p) for p in pids)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def loadavg() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def machine_facts(url: str | None = None) -> dict[str, Any]:
    def sh(cmd: str) -> str:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()

    import fastapi
    import sqlalchemy
    import uvicorn

    versions = db_versions(url or PG_DEFAULT)
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": sh("nproc"),
        "free_g": sh("free -g | sed -n 2p"),
        "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "fastapi": fastapi.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "uvicorn": uvicorn.__version__,
        "postgresql": versions["postgresql"],
        "sqlite": versions["sqlite"],
        "git": sh(f"git -C {ROOT} rev-parse --short HEAD")
        + (" +changes" if sh(f"git -C {ROOT} status --porcelain") else ""),
        "loadavg": loadavg(),
    }


def print_facts(url: str | None = None) -> dict[str, Any]:
    facts = machine_facts(url)
    print("# machine: " + json.dumps(facts, ensure_ascii=False), flush=True)
    return facts


def ids_file(url: str) -> Path:
    """Where bench/throughput.py keeps the ids of the projects it seeded in this database."""
    import hashlib

    return Path("/tmp") / f"regieflow-bench-ids-{hashlib.sha1(url.encode()).hexdigest()[:12]}.json"


def rng(seed: int) -> random.Random:
    return random.Random(seed)
