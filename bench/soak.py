"""Concurrency soak: many clients firing random valid and invalid transitions and writing evidence.

    PYTHONPATH=. .venv/bin/python -m bench.soak \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench_soak \
        --clients 32 --projects 100 --duration 60
    PYTHONPATH=. .venv/bin/python -m bench.soak --database-url sqlite:////tmp/regieflow-soak.db \
        --clients 8 --projects 100 --duration 60
    PYTHONPATH=. .venv/bin/python -m bench.soak \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench_soak \
        --clients 32 --projects 100 --duration 60 --server-processes 2    # one database, two processes

The schema is rebuilt, --projects projects are created over HTTP, then --clients clients (each its
own keep-alive connection, all in this process) loop for --duration seconds. Each step picks a
project at random and does one of:

* a valid move: read `GET …/transitions`, fire one of the allowed triggers (with a reason when one
  is required), sending `If-Match` with the version it read (so a race answers 412 or 409);
* a random trigger, allowed or not, sometimes with a date in the future or without its reason;
* an evidence write: what the project's current step needs (stakeholders, territory, study, approvals,
  association, expertise…), each item with a unique name, or now and then an invalid body (422).

Afterwards it checks, and exits 1 if any check fails:

1. `regieflow verify` (app.verify) finds nothing: states, versions, dates, hash chains, outbox;
2. events recorded = writes accepted: `project.transitioned` events = transitions answered 200,
   evidence events = evidence writes answered 2xx, and no 2xx is lost or doubled;
3. no 5xx; every refusal is 409, 412 or 422;
4. no answer mentions `database is locked` (SQLite).

`--idempotency` sends an `Idempotency-Key` with every write (being built in another branch; off by
default). bench/crash.py reuses this module to kill the server in the middle.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from app.core.unit_of_work import UnitOfWorkFactory
from bench.common import (
    backend,
    create_key,
    ensure_pg_database,
    loadavg,
    print_facts,
    reset_database,
    session_factory,
    start_server,
)
from bench.loadgen import Conn

API = "/api/v1"
ALLOWED_REFUSALS = {409, 412, 422}
TRIGGERS = [
    "definir_contours",
    "lancer_faisabilite",
    "soumettre_validation",
    "lancer_prefiguration",
    "demander_expertise",
    "labelliser",
    "reprendre_contours",
    "reprendre_faisabilite",
    "ajourner_label",
    "abandonner",
    "suspendre",
    "reprendre",
]


@dataclass
class Tally:
    statuses: Counter = field(default_factory=Counter)  # (kind, status)
    transitions_ok: int = 0
    evidence_ok: int = 0
    creations_ok: int = 0
    locked: int = 0
    bad: list[str] = field(default_factory=list)  # unexpected answers (5xx, other 4xx)
    unknown: list[dict[str, Any]] = field(default_factory=list)  # writes whose answer never came (crash)
    steps: int = 0

    def add(self, kind: str, status: int, body: bytes, what: str) -> None:
        self.statuses[(kind, status)] += 1
        if b"database is locked" in body:
            self.locked += 1
        if (status >= 500 or (400 <= status < 500 and status not in ALLOWED_REFUSALS)) and len(self.bad) < 50:
            self.bad.append(f"{status} {what}: {body[:300]!r}")


class Client:
    def __init__(
        self, port: int, key: str, ids: list[str], tally: Tally, rnd: random.Random, *, idempotency: bool, today: date
    ) -> None:
        self.conn = Conn("127.0.0.1", port, {"Authorization": f"Bearer {key}"})
        self.ids, self.t, self.r = ids, tally, rnd
        self.idempotency = idempotency
        self.today = today

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, kind: str = "read"
    ) -> tuple[int, Any, dict[str, str]]:
        data = None if body is None else json.dumps(body).encode()
        extra = dict(headers or {})
        key = None
        if self.idempotency and method != "GET":
            key = extra["Idempotency-Key"] = str(uuid.uuid4())
        try:
            status, raw, hdrs = await self.conn.request(method, API + path, data, extra)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self.conn.close()
            if method != "GET":
                self.t.unknown.append(
                    {
                        "method": method,
                        "path": path,
                        "body": body,
                        # the request's own headers (If-Match): a retry must be the same request
                        "headers": {k: v for k, v in extra.items() if k != "Idempotency-Key"},
                        "kind": kind,
                        "idempotency_key": key,
                        "error": type(exc).__name__,
                    }
                )
            raise ConnectionError from exc
        self.t.add(kind, status, raw, f"{method} {path}")
        if 200 <= status < 300:
            if kind == "transition":
                self.t.transitions_ok += 1
            elif kind == "evidence":
                self.t.evidence_ok += 1
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return status, parsed, hdrs

    def uniq(self, label: str) -> str:
        return f"{label} {uuid.uuid4().hex[:10]}"

    async def evidence_for(self, pid: str, state: str) -> None:
        """One write of the evidence the current step needs (or a refused one, now and then)."""
        p = f"/projects/{pid}"
        d = (self.today - timedelta(days=self.r.randint(0, 30))).isoformat()
        if self.r.random() < 0.08:  # invalid on purpose: 422
            await self.call("POST", f"{p}/communes", {"insee_code": "ABCDE", "name": self.uniq("X")}, kind="evidence")
            return
        write = getattr(self, f"_evidence_{state}", None)
        if write is not None:
            await write(p, d)

    async def _evidence_groupe_projet(self, p: str, d: str) -> None:
        r = self.r
        cat, pilot = r.choice(
            [
                ("mouvement", True),
                ("habitant", False),
                ("collectivite", False),
                ("bailleur_social", False),
                ("partenaire_socio_economique", False),
            ]
        )
        await self.call(
            "POST",
            f"{p}/stakeholders",
            {"name": self.uniq("Membre"), "category": cat, "is_amo_pilot": pilot},
            kind="evidence",
        )

    async def _evidence_contours(self, p: str, d: str) -> None:
        r = self.r
        which = r.randrange(4)
        if which == 0:
            await self.call(
                "POST",
                f"{p}/communes",
                {"insee_code": f"{r.randint(10000, 95999)}", "name": self.uniq("Commune")},
                kind="evidence",
            )
        elif which == 1:
            await self.call(
                "POST",
                f"{p}/qpvs",
                {"code": f"QP{r.randint(0, 999999):06d}", "name": self.uniq("QPV")},
                kind="evidence",
            )
        elif which == 2:
            await self.call("POST", f"{p}/needs", {"label": self.uniq("Besoin")}, kind="evidence")
        else:
            await self.call("POST", f"{p}/activities", {"label": self.uniq("Activité")}, kind="evidence")

    async def _evidence_faisabilite(self, p: str, d: str) -> None:
        r = self.r
        which = r.randrange(4)
        if which == 0:
            status, needs, hdrs = await self.call("GET", f"{p}/needs")
            etag = hdrs.get("etag", "*")
            for need in (needs or [])[:3] if status == 200 else []:
                if need["status"] == "a_etudier":  # If-Match: a PATCH that changes nothing writes no event
                    status, _, hdrs = await self.call(
                        "PATCH",
                        f"{p}/needs/{need['id']}",
                        {"status": "confirme"},
                        {"If-Match": etag},
                        kind="evidence",
                    )
                    if status != 200:
                        break
                    etag = hdrs.get("etag", "*")
        elif which == 1:
            await self.call(
                "PUT",
                f"{p}/feasibility",
                {
                    "annual_charges": 400000,
                    "market_income": 250000,
                    "non_market_income": 150000,
                    "premises_address": self.uniq("rue"),
                    "conclusion": "favorable",
                    "conclusion_on": d,
                },
                kind="evidence",
            )
        elif which == 2:
            await self.call(
                "POST",
                f"{p}/markets",
                {"label": self.uniq("Marché"), "buyer_name": "Vilogia", "buyer_category": "bailleur_social"},
                kind="evidence",
            )
        else:
            await self.call(
                "POST", f"{p}/site-visits", {"regie_name": self.uniq("Régie"), "visited_on": d}, kind="evidence"
            )

    async def _evidence_validation(self, p: str, d: str) -> None:
        r = self.r
        status, people, _ = await self.call("GET", f"{p}/stakeholders")
        people = [x for x in (people or []) if x["category"] != "mouvement"] if status == 200 else []
        if people:
            who = r.choice(people)
            verdict = "favorable" if r.random() < 0.85 else "defavorable"
            await self.call(
                "POST",
                f"{p}/approvals",
                {"stakeholder_id": who["id"], "verdict": verdict, "given_on": d},
                kind="evidence",
            )

    async def _evidence_prefiguration(self, p: str, d: str) -> None:
        r = self.r
        which = r.randrange(3)
        if which == 0:
            await self.call(
                "PUT",
                f"{p}/association",
                {"name": self.uniq("Association"), "declared_on": d, "rna": f"W{r.randint(0, 999999999):09d}"},
                kind="evidence",
            )
        elif which == 1:
            await self.call(
                "POST",
                f"{p}/board-members",
                {
                    "name": self.uniq("Administrateur"),
                    "college": r.choice(["habitant", "collectivite", "bailleur_social"]),
                },
                kind="evidence",
            )
        else:
            await self.call(
                "POST",
                f"{p}/hires",
                {"name": self.uniq("Salarié"), "role": "Chargé de mission", "start_on": d},
                kind="evidence",
            )

    async def _evidence_expertise(self, p: str, d: str) -> None:
        r = self.r
        await self.call(
            "POST",
            f"{p}/expertises",
            {
                "conducted_on": d,
                "experts": ["Claire Martin"],
                "conclusion": "favorable" if r.random() < 0.8 else "reserves",
            },
            kind="evidence",
        )

    async def step(self) -> None:
        pid = self.r.choice(self.ids)
        roll = self.r.random()
        status, view, hdrs = await self.call("GET", f"/projects/{pid}/transitions")
        if status != 200 or view is None:
            return
        state = view["state"]
        if roll < 0.45:  # a valid move, if there is one
            allowed = [
                t
                for t in view["triggers"]
                if t["allowed"] and (t["trigger"] not in ("abandonner",) or self.r.random() < 0.02)
            ]
            if not allowed:
                await self.evidence_for(pid, state)
                return
            t = self.r.choice(allowed)
            body = {"reason": "Motif du soak"} if t["reason_required"] else None
            await self.call(
                "POST",
                f"/projects/{pid}/transitions/{t['trigger']}",
                body,
                {"If-Match": hdrs.get("etag", "*")},
                kind="transition",
            )
        elif roll < 0.65:  # any trigger, often refused
            trig = self.r.choice(TRIGGERS)
            body: dict[str, Any] | None = None
            pick = self.r.random()
            if pick < 0.5:
                body = {"reason": "Motif"}
            elif pick < 0.6:
                body = {"effective_on": (self.today + timedelta(days=3)).isoformat()}
            await self.call("POST", f"/projects/{pid}/transitions/{trig}", body, kind="transition")
        else:
            await self.evidence_for(pid, state)

    async def run(self, until: float) -> None:
        while time.perf_counter() < until:
            try:
                await self.step()
                self.t.steps += 1
            except ConnectionError:
                await asyncio.sleep(0.2)  # the server is down (crash drill): try again shortly


async def create_projects(port: int, key: str, n: int, tally: Tally) -> list[str]:
    conn = Conn("127.0.0.1", port, {"Authorization": f"Bearer {key}"})
    ids = []
    kinds = ["regie_de_quartier", "regie_de_territoire"]
    for i in range(n):
        body = {
            "name": f"Régie du soak n°{i:03d}",
            "kind": kinds[i % 2],
            "region": "Hauts-de-France",
            "initiator": "habitants",
            "departement": "59",
        }
        status, raw, _ = await conn.request("POST", f"{API}/projects", json.dumps(body).encode())
        assert status == 201, raw
        tally.creations_ok += 1
        ids.append(json.loads(raw)["id"])
    conn.close()
    return ids


async def run_clients(
    port: int,
    key: str,
    ids: list[str],
    tally: Tally,
    *,
    clients: int,
    duration: float,
    seed: int,
    idempotency: bool,
    today: date,
) -> None:
    until = time.perf_counter() + duration
    cs = [
        Client(port, key, ids, tally, random.Random(seed * 1000 + i), idempotency=idempotency, today=today)
        for i in range(clients)
    ]
    await asyncio.gather(*(c.run(until) for c in cs))
    for c in cs:
        c.conn.close()


def check(url: str, tally: Tally, *, allow_unknown: bool = False) -> dict[str, Any]:
    """The checks listed in the module docstring; returns a report with `ok`."""
    from app.projects.models import Event, OutboxMessage, Project
    from app.transitions.verify import verify

    factory = session_factory(url)
    checked, findings = verify(UnitOfWorkFactory(factory))
    with factory() as s:
        n_transitions = s.scalar(select(func.count()).select_from(Event).where(Event.type == "project.transitioned"))
        n_evidence = s.scalar(select(func.count()).select_from(Event).where(Event.type.like("evidence.%")))
        n_created = s.scalar(select(func.count()).select_from(Event).where(Event.type == "project.created"))
        n_events = s.scalar(select(func.count()).select_from(Event))
        n_outbox = s.scalar(select(func.count()).select_from(OutboxMessage))
        versions = s.scalar(select(func.coalesce(func.sum(Project.version), 0)))
        feed = s.execute(
            select(
                func.count(Event.feed_seq),
                func.count(func.distinct(Event.feed_seq)),
                func.min(Event.feed_seq),
                func.max(Event.feed_seq),
            )
        ).one()
    factory.kw["bind"].dispose()
    unknown = len(tally.unknown)
    refusals = {f"{k}:{st}": n for (k, st), n in sorted(tally.statuses.items()) if st >= 400}
    report = {
        "verify": {
            "checked": checked,
            "findings": [{"project": str(f.project_id), "problems": f.problems} for f in findings],
        },
        "transitions_accepted": tally.transitions_ok,
        "transition_events": n_transitions,
        "evidence_accepted": tally.evidence_ok,
        "evidence_events": n_evidence,
        "creations": tally.creations_ok,
        "creation_events": n_created,
        "events": n_events,
        "outbox": n_outbox,
        "sum_of_versions": versions,
        "feed_positions": {"count": feed[0], "distinct": feed[1], "min": feed[2], "max": feed[3]},
        "writes_without_answer": unknown,
        "steps": tally.steps,
        "statuses": {f"{k}:{st}": n for (k, st), n in sorted(tally.statuses.items())},
        "refusals": refusals,
        "unexpected": tally.bad[:20],
        "database_is_locked": tally.locked,
    }
    problems = []
    if findings:
        problems.append(f"verify: {len(findings)} project(s) with discrepancies")
    slack = unknown if allow_unknown else 0  # a write cut by a crash may or may not have committed
    if (n_transitions - tally.transitions_ok) not in range(slack + 1):
        problems.append(f"{n_transitions} transition events but {tally.transitions_ok} transitions accepted")
    if (n_evidence - tally.evidence_ok) not in range(slack + 1):
        problems.append(f"{n_evidence} evidence events but {tally.evidence_ok} evidence writes accepted")
    if n_created != tally.creations_ok:
        problems.append(f"{n_created} creation events but {tally.creations_ok} projects created")
    if not (n_events == n_outbox == versions):
        problems.append(f"events {n_events}, outbox {n_outbox}, sum of versions {versions} differ")
    if feed[0] != n_events or feed[1] != n_events:
        problems.append(f"feed positions: {feed[0]} given, {feed[1]} distinct, for {n_events} events")
    if tally.bad:
        problems.append(f"{len(tally.bad)} answers outside 2xx/409/412/422 (e.g. {tally.bad[0][:200]})")
    if tally.locked:
        problems.append(f"{tally.locked} answers mention 'database is locked'")
    report["problems"] = problems
    report["ok"] = not problems
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--projects", type=int, default=100)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--idempotency", action="store_true", help="send Idempotency-Key on writes")
    ap.add_argument("--server-cpus", default=None, help="taskset list for the server (default: not pinned)")
    ap.add_argument(
        "--server-processes", type=int, default=1, help="server processes on one database (PostgreSQL only)"
    )
    ap.add_argument("--out")
    args = ap.parse_args()
    report = soak(
        args.database_url,
        clients=args.clients,
        projects=args.projects,
        duration=args.duration,
        seed=args.seed,
        idempotency=args.idempotency,
        server_cpus=args.server_cpus,
        server_processes=args.server_processes,
    )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)
    sys.exit(0 if report["ok"] else 1)


def soak(
    url: str,
    *,
    clients: int,
    projects: int,
    duration: float,
    seed: int = 1,
    idempotency: bool = False,
    server_cpus: str | None = None,
    server_processes: int = 1,
    quiet: bool = False,
) -> dict[str, Any]:
    facts = print_facts(url) if not quiet else {}
    ensure_pg_database(url)
    reset_database(url)
    key = create_key(url)
    tally = Tally()
    if server_processes > 1 and backend(url) == "sqlite":
        raise SystemExit("several server processes need PostgreSQL: SQLite has one writer at a time")
    server = start_server(url, cpus=server_cpus, extra=("--processes", str(server_processes)), wait=180)
    today = date.today()
    try:
        ids = asyncio.run(create_projects(server.port, key, projects, tally))
        t0 = time.perf_counter()
        asyncio.run(
            run_clients(
                server.port,
                key,
                ids,
                tally,
                clients=clients,
                duration=duration,
                seed=seed,
                idempotency=idempotency,
                today=today,
            )
        )
        elapsed = time.perf_counter() - t0
    finally:
        server.stop()
    report = check(url, tally)
    report.update(
        {
            "backend": backend(url),
            "clients": clients,
            "server_processes": server_processes,
            "projects": projects,
            "duration_s": round(elapsed, 1),
            "requests_per_s": round(sum(tally.statuses.values()) / elapsed, 1),
            "loadavg": loadavg(),
            "facts": facts,
        }
    )
    if not quiet:
        print(json.dumps({k: v for k, v in report.items() if k != "facts"}, ensure_ascii=False, indent=1))
    return report


if __name__ == "__main__":
    main()
