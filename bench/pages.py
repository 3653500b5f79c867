"""Latency of the pages that say what to do next (issue 13) on a large portfolio, over HTTP, one request
at a time, like bench/portfolio.py (same server, same client, same percentiles).

    PYTHONPATH=. .venv/bin/python -m bench.pages \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench_h13 --requests 200

* home: a porteur's « Mes projets » (a session of a porteur of three projects): their cards, each with its
  checklist, due date in words and reason;
* deadlines: « Mes échéances » for a national consultant (every project visible): the 50 most urgent
  projects' due dates and horizons in the next 60 days, overdue first;
* project: the project page of a project drawn at random (seeded) among those that have a history
  (more than one event), for the consultant;
* portfolio: `/projets` (first page, sorted by status) and portfolio-search: `/projets?q=…` with a
  word drawn from the projects' names and communes, accents and capitals changed.

Prints one JSON line per kind (p50, p95, p99, max in ms; statuses).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import urllib.request
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select

import app.tables  # noqa: F401 - every mapped class, before a query
from bench.common import loadavg, print_facts, session_factory, start_server
from bench.portfolio import measure, probe

PASSWORD = "bench-password-123"


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
                select(Event.project_id).group_by(Event.project_id).having(func.count() > 1).order_by(Event.project_id)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out")
    args = ap.parse_args()
    facts = print_facts(args.database_url)
    os.sched_setaffinity(0, {1})
    info = facts_of(args.database_url)
    print(f"pages: {info['projects']} projects, {len(info['documented'])} with a history, loadavg {loadavg()}")
    r = random.Random(args.seed)
    mine = r.sample(info["documented"], 3)
    import uuid

    _user(args.database_url, "bench-porteur@example.org", [("porteur", uuid.UUID(p), None) for p in mine])
    _user(args.database_url, "bench-consultant@example.org", [("consultant", None, None)])
    server = start_server(args.database_url, cpus="0")
    results: dict[str, Any] = {"facts": facts, "projects": info["projects"], "kinds": {}}
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
            status = asyncio.run(probe(server.port, headers, paths[0]))
            assert status == 200, (kind, paths[0], status)
            res = asyncio.run(measure(server.port, headers, paths))
            res["loadavg"] = loadavg()
            results["kinds"][kind] = res
            print(f"{kind:16s} {json.dumps(res)}", flush=True)
    finally:
        server.stop()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
