"""Generate a large portfolio through the domain: every project is created, documented and moved
through the service functions (like app/demo.py), one transaction per call, with a FixedClock on
each historical day. Nothing is inserted behind the workflow's back, so guards, events, hash chain,
outbox, change-feed positions and the deadline index are those of an ordinary history.

    createdb -h 127.0.0.1 -U postgres regieflow_bench_portfolio
    PYTHONPATH=. .venv/bin/python -m bench.generate \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench_portfolio \
        --projects 10000 --events-per-project 30 --workers 2 --reset

Each project (seeded by its index, so a run is reproducible) gets a target number of events drawn
uniformly in [events/2, 3·events/2], a start 0–42 months ago, and moves forward step by step
(recording the evidence each step needs, then firing the trigger) until it has its events; on the
way it may go back a step and forward again, pause and resume, or be abandoned. Progress is printed
with the event rate; the last line gives the totals and the wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import time

from dateutil.relativedelta import relativedelta

from bench.common import (
    BACKWARD_FROM,
    FORWARD_FROM,
    BenchDemo,
    demo_sites,
    ensure_pg_database,
    print_facts,
    reset_database,
    rng,
    session_factory,
    story,
)

REASONS = {
    "reprendre_contours": "L'étude montre que le territoire doit être redéfini.",
    "reprendre_faisabilite": "Les acteurs demandent de revoir le modèle économique.",
    "ajourner_label": "Expertise avec réserves : gouvernance à renforcer.",
    "suspendre": "Départ du chargé de mission, en attente de remplacement.",
    "reprendre": "Remplaçant arrivé, le travail reprend.",
    "abandonner": "Les partenaires se retirent du projet.",
}


def one_project(demo, sites, i: int, events: int, today: dt.date) -> int:
    """Tell project i's story; returns its number of events."""
    from workflow.vocabulary import State, Trigger

    r = rng(i)
    target = r.randint(max(1, events // 2), events + events // 2)
    site = sites[i % len(sites)]
    start = today - relativedelta(months=r.randint(0, 42)) - dt.timedelta(days=r.randint(0, 27))
    st = story(demo, site, start, f"{site.name} n°{i:05d}")
    st.create()
    span = max(1, (today - start).days)
    gap = max(1, span // 9)
    day = start

    def advance() -> dt.date:
        nonlocal day
        day = min(today, day + dt.timedelta(days=max(1, int(gap * r.uniform(0.5, 1.5)))))
        return day

    while st.project.version < target:
        state = st.project.state
        if state in ("labellisee", "abandonnee"):
            break
        suspended = st.project.suspended_since is not None
        roll = r.random()
        if suspended:
            st.fire(advance(), Trigger.REPRENDRE, REASONS["reprendre"])
        elif roll < 0.02:
            st.fire(advance(), Trigger.ABANDONNER, REASONS["abandonner"])
        elif roll < 0.10:
            st.fire(advance(), Trigger.SUSPENDRE, REASONS["suspendre"])
        elif roll < 0.20 and state in BACKWARD_FROM:
            st.fire(advance(), Trigger(BACKWARD_FROM[state]), REASONS[BACKWARD_FROM[state]])
        elif state == "expertise" and not st.expertises:
            st.complete(State.EXPERTISE, advance())  # the expertise comes before the label decision
        else:
            st.forward(Trigger(FORWARD_FROM[state]), advance(), prepare_days=0)
    return st.project.version


def worker(url: str, indexes: list[int], events: int, today: dt.date, wid: int, every: int) -> tuple[int, int]:
    from app.core.settings import Settings

    factory = session_factory(url)
    settings = Settings(database_url=url)
    demo = BenchDemo(factory, settings, today)
    sites = demo_sites()
    total = 0
    t0 = time.perf_counter()
    for n, i in enumerate(indexes, 1):
        total += one_project(demo, sites, i, events, today)
        if n % every == 0:
            el = time.perf_counter() - t0
            print(
                f"[worker {wid}] {n}/{len(indexes)} projects, {total} events, {total / el:.0f} events/s, "
                f"ETA {el / n * (len(indexes) - n) / 60:.1f} min",
                flush=True,
            )
    return len(indexes), total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--projects", type=int, default=10_000)
    ap.add_argument("--events-per-project", type=int, default=30)
    ap.add_argument("--workers", type=int, default=1, help="processes, each telling a share of the stories")
    ap.add_argument("--first", type=int, default=0, help="index of the first project (to extend a portfolio)")
    ap.add_argument("--reset", action="store_true", help="drop and re-create the schema first")
    ap.add_argument("--progress-every", type=int, default=250)
    args = ap.parse_args()
    print_facts(args.database_url)
    ensure_pg_database(args.database_url)
    if args.reset:
        reset_database(args.database_url)
    from app.core.settings import Settings

    today = dt.datetime.now(Settings(database_url=args.database_url).tz).date()
    indexes = list(range(args.first, args.first + args.projects))
    shares = [indexes[w :: args.workers] for w in range(args.workers)]
    t0 = time.perf_counter()
    if args.workers == 1:
        results = [worker(args.database_url, shares[0], args.events_per_project, today, 0, args.progress_every)]
    else:
        with mp.get_context("spawn").Pool(args.workers) as pool:
            results = pool.starmap(
                worker,
                [
                    (args.database_url, sh, args.events_per_project, today, w, args.progress_every)
                    for w, sh in enumerate(shares)
                ],
            )
    el = time.perf_counter() - t0
    projects = sum(r[0] for r in results)
    events = sum(r[1] for r in results)
    print(
        f"generated {projects} projects, {events} events in {el:.0f} s ({events / el:.0f} events/s, "
        f"{projects / el:.1f} projects/s) with {args.workers} worker(s)",
        flush=True,
    )


if __name__ == "__main__":
    main()
