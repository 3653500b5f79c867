"""Crash drill: kill -9 the server in the middle of the soak, restart it, check nothing is half-written.

    PYTHONPATH=. .venv/bin/python -m bench.crash \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench_soak \
        --clients 32 --projects 100 --duration 40 --kills 3
    PYTHONPATH=. .venv/bin/python -m bench.crash --database-url sqlite:////tmp/regieflow-crash.db --clients 8

Runs bench/soak.py's clients against a server that is killed with SIGKILL --kills times during the
run (evenly spaced) and restarted at once on the same port; clients whose request was cut note it
("write without answer") and carry on once the server is back. Afterwards:

* `regieflow verify` finds nothing and, for the whole database, events = outbox messages = the sum
  of the projects' versions, and every event has a distinct change-feed position: no transition or
  evidence write is half-written (state, event and outbox agree);
* the writes that did get an answer are all there, and each write that got none either committed
  whole or not at all (events - accepted writes is between 0 and the number of cut writes);
* with --idempotency every write carries an Idempotency-Key; every cut write is retried with its key
  after the restart (see retry_unknown) and the counts must then match exactly: exactly one effect
  per write that was accepted, whether its answer was lost or not. The server's stale-record delay
  (REGIEFLOW_IDEMPOTENCY_STALE_SECONDS) is set to --stale-seconds so that the retries of writes that
  died before committing do not wait a minute each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import time
from datetime import date

from bench.common import create_key, ensure_pg_database, loadavg, print_facts, reset_database, start_server
from bench.loadgen import Conn
from bench.soak import API, Tally, check, create_projects, run_clients


async def retry_unknown(port: int, key: str, tally: Tally, *, patience: float = 90.0) -> list[dict]:
    """Send each cut write again with the same Idempotency-Key, as a careful client would, and count
    the writes that took effect (exactly once each, if the server keeps its promise):

    * 2xx (a fresh run, or `Idempotency-Replayed: true`): took effect;
    * 409 `idempotence_deja_appliquee`: the first attempt committed but its answer was lost: took effect;
    * 409 `idempotence_en_cours`: the first attempt's record is still "in progress" (it died before
      committing): wait Retry-After and try again until the server takes the key over
      (REGIEFLOW_IDEMPOTENCY_STALE_SECONDS), within `patience` seconds;
    * any other refusal (409, 412, 422): no effect, as for a first attempt."""
    conn = Conn("127.0.0.1", port, {"Authorization": f"Bearer {key}"})
    out = []
    deadline = time.perf_counter() + patience
    for w in tally.unknown:
        data = None if w["body"] is None else json.dumps(w["body"]).encode()
        tries = 0
        while True:
            tries += 1
            # The same request again, If-Match included: without it, a retried PATCH that another
            # client has made moot since would answer 200 having changed nothing (and written no event).
            status, raw, headers = await conn.request(
                w["method"], API + w["path"], data, {**w.get("headers", {}), "Idempotency-Key": w["idempotency_key"]}
            )
            code = _problem_code(raw) if status == 409 else None
            if code == "idempotence_en_cours" and time.perf_counter() < deadline:
                await asyncio.sleep(min(5.0, float(headers.get("retry-after", "1") or 1)))
                continue
            break
        applied = 200 <= status < 300 or code == "idempotence_deja_appliquee"
        if not applied:
            tally.add(w["kind"], status, raw, f"retry {w['method']} {w['path']}")
        else:
            tally.statuses[(w["kind"], status)] += 1
            if w["kind"] == "transition":
                tally.transitions_ok += 1
            elif w["kind"] == "evidence":
                tally.evidence_ok += 1
            elif w["kind"] == "create":
                tally.creations_ok += 1
        out.append(
            {
                **{k: v for k, v in w.items() if k != "body"},
                "retry_status": status,
                "retry_code": code,
                "tries": tries,
                "replayed": headers.get("idempotency-replayed") == "true",
                "applied": applied,
            }
        )
    conn.close()
    tally.unknown = []
    return out


def _problem_code(raw: bytes) -> str | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--projects", type=int, default=100)
    ap.add_argument("--duration", type=float, default=40)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--idempotency", action="store_true")
    ap.add_argument("--stale-seconds", type=int, default=3)
    ap.add_argument("--out")
    args = ap.parse_args()
    report = crash(
        args.database_url,
        clients=args.clients,
        projects=args.projects,
        duration=args.duration,
        kills=args.kills,
        seed=args.seed,
        idempotency=args.idempotency,
        stale_seconds=args.stale_seconds,
    )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)
    sys.exit(0 if report["ok"] else 1)


def crash(
    url: str,
    *,
    clients: int,
    projects: int,
    duration: float,
    kills: int,
    seed: int = 2,
    idempotency: bool = False,
    quiet: bool = False,
    stale_seconds: int = 3,
) -> dict:
    if not quiet:
        print_facts(url)
    ensure_pg_database(url)
    reset_database(url)
    key = create_key(url)
    tally = Tally()
    env = {"REGIEFLOW_IDEMPOTENCY_STALE_SECONDS": str(stale_seconds)}
    server = start_server(url, cpus=None, env=env)
    port = server.port
    restarts: list[float] = []

    async def killer() -> None:
        nonlocal server
        for i in range(kills):
            await asyncio.sleep(duration / (kills + 1))
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait()
            t0 = time.perf_counter()
            server = await asyncio.to_thread(start_server, url, port=port, cpus=None, env=env)
            restarts.append(round(time.perf_counter() - t0, 2))
            if not quiet:
                print(
                    f"kill -9 #{i + 1}; back after {restarts[-1]} s; writes cut so far: {len(tally.unknown)}",
                    flush=True,
                )

    async def drill(ids: list[str]) -> None:
        await asyncio.gather(
            run_clients(
                port,
                key,
                ids,
                tally,
                clients=clients,
                duration=duration,
                seed=seed,
                idempotency=idempotency,
                today=date.today(),
            ),
            killer(),
        )

    try:
        ids = asyncio.run(create_projects(port, key, projects, tally))
        asyncio.run(drill(ids))
        cut = list(tally.unknown)
        retried = None
        if idempotency:
            retried = asyncio.run(retry_unknown(port, key, tally))
        elif cut and not quiet:
            print(f"note: {len(cut)} write(s) got no answer; without --idempotency they are not retried", flush=True)
    finally:
        server.stop()
    report = check(url, tally, allow_unknown=not idempotency)
    report.update(
        {
            "kills": kills,
            "restart_s": restarts,
            "cut_writes": cut[:20],
            "n_cut_writes": len(cut),
            "retried": retried,
            "idempotency": idempotency,
            "loadavg": loadavg(),
            "clients": clients,
            "projects": projects,
            "duration_s": duration,
        }
    )
    if not quiet:
        print(json.dumps(report, ensure_ascii=False, indent=1, default=str))
    return report


if __name__ == "__main__":
    random.seed(0)
    main()
