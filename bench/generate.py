"""Generate a large portfolio through the domain: every project is created, documented and moved
through the service functions (like app/demo.py), one transaction per call, with a FixedClock on
each historical day. Nothing is inserted behind the workflow's back, so guards, events, hash chain,
outbox, change-feed positions and the deadline index are those of an ordinary history.

    createdb -h 127.0.0.1 -U postgres regieflow_bench_portfolio
    PYTHONPATH=. .venv/bin/python -m bench.generate \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench_portfolio \
        --projects 10000 --events-per-project 30 --workers 2 --reset

The seed of the national portfolio (issue 17), multiplied afterwards by bench/replicate.py (whose
docstring gives the whole build; that seed was stopped at 649 projects, 20,488 events):

    PYTHONPATH=. nice -n 5 .venv/bin/python -m bench.generate \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench100k_seed \
        --projects 2000 --workers 2 --reset --progress-every 250

Each project (seeded by its index, so a run is reproducible) is told on one of the demo's sites whose
budget is balanced (the others are refused at soumettre_validation), from a start 0–42 months ago.
Its fate is drawn first: about 16 % are told to the label (~55 events), 8 % are abandoned once they
reach their target number of events, the others stop under way at theirs; the targets make the
portfolio average about --events-per-project events (30: measured 31.6). It moves forward step by
step (recording the evidence each step needs, then firing the trigger); on the way it may go back a
step and forward again, or pause and resume. Progress is printed with the event rate; the last line
gives the totals and the wall time.
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


def balanced_sites() -> list:
    """The demo's sites whose budget is balanced (income covers the charges): the others would be refused at
    soumettre_validation (guard budget_equilibre) and stay stuck in faisabilité, as bench.common's
    seed_ready_projects avoids too."""
    return [s for s in demo_sites() if s.budget[1] + s.budget[2] >= s.budget[0]]


LABELLED_SHARE = 0.16  # told to the end, whatever their target (about 55 events each)
ABANDONED_SHARE = 0.08  # abandoned once they reach their target


def one_project(demo, sites, i: int, events: int, today: dt.date) -> int:
    """Tell project i's story; returns its number of events.

    Its fate is drawn first: labelled (told to the label, ~55 events), abandoned (at its target number of
    events) or still under way (stops at its target). On the way it may go back a step and forward again
    (reprendre_*, ajourner_label) or pause and resume; the targets of the projects under way are drawn so
    that the portfolio averages about `events` events per project."""
    from workflow.vocabulary import State, Trigger

    r = rng(i)
    fate = r.random()
    to_label = fate < LABELLED_SHARE
    to_abandon = LABELLED_SHARE <= fate < LABELLED_SHARE + ABANDONED_SHARE
    # the projects under way make up the difference with the labelled ones' ~55 events
    rest = max(4, int((events - LABELLED_SHARE * 55) / (1 - LABELLED_SHARE)))
    target = 10_000 if to_label else r.randint(max(3, rest // 3), rest * 2 - rest // 3)
    site = sites[i % len(sites)]
    months_ago = r.randint(18, 42) if to_label else r.randint(0, 42)
    start = today - relativedelta(months=months_ago) - dt.timedelta(days=r.randint(0, 27))
    st = story(demo, site, start, f"{site.name} n°{i:05d}")
    st.create()
    span = max(1, (today - start).days)
    gap = max(1, span // (30 if to_label else 12))
    day = start

    def advance() -> dt.date:
        nonlocal day
        day = min(today, day + dt.timedelta(days=max(1, int(gap * r.uniform(0.5, 1.5)))))
        return day

    while True:
        state = st.project.state
        if state in ("labellisee", "abandonnee"):
            break
        if st.project.version >= target:
            if to_abandon:
                st.fire(advance(), Trigger.ABANDONNER, REASONS["abandonner"])
            break
        suspended = st.project.suspended_since is not None
        roll = r.random()
        if suspended:
            st.fire(advance(), Trigger.REPRENDRE, REASONS["reprendre"])
        elif roll < 0.06:
            st.fire(advance(), Trigger.SUSPENDRE, REASONS["suspendre"])
        elif roll < 0.14 and state in BACKWARD_FROM:
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
    sites = balanced_sites()
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
