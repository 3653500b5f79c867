"""Full-fidelity replication: multiply a portfolio told through the domain (bench/generate.py) into a
national-scale database whose every row is what the service would have written, so that `regieflow
verify` finds nothing to say about it.

The target database starts as a copy of the seed (`createdb -T`); then each copy k = 1 … K−1 of every
seed project is written in bulk (psycopg's COPY, one transaction per copy):

* the project row, with a new id (uuid5 of the seed id and k), its name suffixed « [copie k] » and its
  `search_text` and `sort_name` refolded with the app's own `fold` (the dated sort keys are copied: the
  copies have the seed's dates; `regieflow deadlines keys` recomputes them all for the day anyway);
* every child row (the evidence tables, suspensions, re-plans — every table whose `project_id` refers
  to projects, found in the catalogue), integer ids shifted by k × (the seed's highest id + 1), and the
  foreign keys between them (approvals → stakeholders, assessments and reservations → expertises)
  shifted alike;
* the events: ids shifted, the evidence events' row ids (`data.id`, and the foreign keys in
  `data.values`) shifted as their rows were, the creation event's name suffixed like the project's,
  change-feed positions renumbered (position + k × the seed's positions, so each project's events stay
  in seq order and the feed has no gap), and the keyed hash chain recomputed event by event with the
  app's own function (app.core.security.hash_of_event, under the key `verify` derives from the same
  settings);
* the outbox messages of those events (payload naming the new project).

Then the sequences are moved past the highest ids, the feed counter set to the last position, and the
tables vacuumed and analysed. A child table the seed fills but this script does not know how to copy
(documents, opinion requests, …: bench/generate.py writes none) stops it with a message.

The national portfolio of issue 17 (100,000 projects, ~3,000,000 events), as built for the lead:

    PYTHONPATH=. nice -n 5 .venv/bin/python -m bench.generate \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench100k_seed \\
        --projects 2000 --workers 2 --reset --progress-every 250
    PYTHONPATH=. nice -n 5 .venv/bin/python -m bench.replicate \\
        --seed regieflow_bench100k_seed --target regieflow_bench100k --projects 100000 --jobs 2
    REGIEFLOW_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench100k \\
        .venv/bin/regieflow verify

Measured 2026-12-02 (load average 11–18: four other sessions' suites shared the 2 cores): the seed
(stopped at 649 projects, 20,488 events) 13.5 min; the replication to 100,595 projects, 3,175,640
events (2.7 GB) 16.0 min (231 s of CPU in the two jobs); `regieflow forecast refresh` on it 14.6 min.
`regieflow verify` on the seed and on a 400-project replica: 0 discrepancies.

The server key (REGIEFLOW_SECRET_KEY or its default) must be the same for the replication and for
whatever reads the database afterwards, as for any database: the chain is keyed with it.

`--list-only` keeps the old extrapolation aid: only the `projects` rows are multiplied (no events, no
evidence), enough to look at the plans of the list and count queries.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

PG = ["-h", "127.0.0.1", "-U", "postgres"]
BASE = "postgresql://postgres@127.0.0.1:5432/"
NAMESPACE = uuid.UUID("6f1c3a52-1f7e-4c39-9a86-2b1b17e0c417")  # the copies' ids: uuid5(NAMESPACE, "<seed id>:<k>")
# Event types whose data may be copied as they are (no row id in them) or are rewritten below.
KNOWN_EVENTS = frozenset(
    {
        "project.created",
        "project.updated",
        "project.transitioned",
        "plan.changed",
        "deadline.status_changed",
        "evidence.created",
        "evidence.updated",
        "evidence.deleted",
    }
)


# --- the old list-only mode ------------------------------------------------------------------------
LIST_COLUMNS = (
    "id, name, kind, initiator, region, departement, conventionnement, lead_name, description, state, "
    "suspended_since, started_on, state_entered_on, last_transition_on, labelled_on, closed_on, closed_reason, "
    "step_months, horizon_months, horizon_on, step_due_on, projected_label_on, deadline_status, version, "
    "created_at, updated_at, search_text"
)


def list_only(seed: str, target: str, rows: int) -> None:
    sql = f"""
    DO $$
    DECLARE k int := 1;
    BEGIN
      WHILE (SELECT count(*) FROM projects) < {rows} LOOP
        INSERT INTO projects ({LIST_COLUMNS})
        SELECT gen_random_uuid(), left(name || ' (copie ' || k || ')', 200), {LIST_COLUMNS.split(", ", 2)[2]}
        FROM projects WHERE name NOT LIKE '%(copie %' LIMIT {rows} - (SELECT count(*) FROM projects);
        k := k + 1;
      END LOOP;
    END $$;
    ANALYZE projects;
    SELECT count(*) FROM projects;
    """
    r = subprocess.run(["psql", *PG, "-d", target, "-tAc", sql], check=True, capture_output=True, text=True)
    print(f"{target}: {r.stdout.strip().splitlines()[-1]} project rows (list only: no events, no evidence)")


# --- the schema, read from the catalogue ---------------------------------------------------------------
@dataclass
class Table:
    name: str
    columns: list[str]
    json_columns: set[str]
    has_id: bool  # an integer `id` primary key, shifted per copy
    refs: dict[str, str] = field(default_factory=dict)  # column -> copied table it refers to (besides projects)
    stride: int = 0  # the seed's highest id + 1


def schema(conn: Any) -> tuple[list[Table], Table, Table, Table]:
    """(child tables in dependency order, projects, events, outbox)."""
    fks = conn.execute(
        """SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text
           FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
           WHERE c.contype = 'f'"""
    ).fetchall()
    child_names = sorted({t for t, col, ref in fks if ref == "projects" and col == "project_id" and t != "events"})

    def table(name: str) -> Table:
        cols = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
            (name,),
        ).fetchall()
        has_id = any(c == "id" and t in ("integer", "bigint") for c, t in cols)
        return Table(name, [c for c, _ in cols], {c for c, t in cols if t in ("json", "jsonb")}, has_id)

    def rows_in(name: str) -> int:
        return int(conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0])

    children = {name: table(name) for name in child_names if rows_in(name)}
    events, outbox, projects = table("events"), table("outbox"), table("projects")
    for t, col, ref in fks:
        if t in children and ref != "projects":
            if ref not in children:
                raise SystemExit(f"{t}.{col} refers to {ref}, which this script does not copy")
            children[t].refs[col] = ref
        elif t not in children and t not in ("events", "outbox") and ref in ("events", *children) and rows_in(t):
            raise SystemExit(f"the seed has rows in {t} (refers to {ref}): this script does not copy them")
    supported = set(children)
    for name in child_names:  # other children filled by the seed: unknown to this script
        if name not in supported and rows_in(name):  # pragma: no cover - guarded above
            raise SystemExit(f"the seed has rows in {name}")
    order: list[Table] = []
    pending = dict(children)
    while pending:
        ready = [t for t in pending.values() if all(r not in pending for r in t.refs.values())]
        for t in ready:
            order.append(t)
            del pending[t.name]
    for t in (*order, events, outbox):
        if t.has_id:
            t.stride = int(conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {t.name}").fetchone()[0])
    return order, projects, events, outbox


# --- one copy ------------------------------------------------------------------------------------------
def _json(value: Any) -> Any:
    from psycopg.types.json import Json

    return None if value is None else Json(value)


class Copier:
    """The seed in memory, and the rows of copy k written with COPY."""

    def __init__(self, seed_url: str, url: str) -> None:
        import psycopg

        from app.core.keys import derived_keys
        from app.core.security import CHAIN_PURPOSE
        from app.core.settings import Settings
        from app.evidence.registry import KINDS

        with psycopg.connect(seed_url) as seed:  # read from the seed: the target grows meanwhile
            self.children, self.projects, self.events, self.outbox = schema(seed)
            self.seed: dict[str, list[tuple[Any, ...]]] = {}
            for t in (self.projects, *self.children, self.events, self.outbox):
                order = "project_id, seq" if t is self.events else "1"
                query = f"SELECT {', '.join(t.columns)} FROM {t.name} ORDER BY {order}"
                self.seed[t.name] = seed.execute(query).fetchall()  # type: ignore[arg-type]
            self.feed_span = int(seed.execute("SELECT coalesce(max(feed_seq), 0) FROM events").fetchone()[0])
        self.conn = psycopg.connect(url)
        self.by_name = {t.name: t for t in self.children}
        self.kind_table = {k.name: k.model.__tablename__ for k in KINDS.values()}
        self.key = derived_keys(Settings(database_url="postgresql+psycopg://" + url.split("://", 1)[1]), CHAIN_PURPOSE)[
            0
        ]
        unknown = {r[self.events.columns.index("type")] for r in self.seed["events"]} - KNOWN_EVENTS
        if unknown:
            raise SystemExit(f"event types this script does not know how to copy: {sorted(unknown)}")

    def new_id(self, old: uuid.UUID, k: int) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"{old}:{k}")

    def copy(self, k: int) -> int:
        """Write copy k of every seed project; returns its number of events."""
        from app.core.security import hash_of_event
        from app.projects.repository import fold
        from app.projects.sort_keys import timeless_keys

        def suffixed(name: str) -> str:
            return f"{name} [copie {k}]"

        pc = self.projects.columns
        i_id, i_name, i_search = pc.index("id"), pc.index("name"), pc.index("search_text")
        i_sort_name = pc.index("sort_name") if "sort_name" in pc else None
        pid: dict[uuid.UUID, uuid.UUID] = {}
        projects = []
        for row in self.seed["projects"]:
            r = list(row)
            pid[r[i_id]] = new = self.new_id(r[i_id], k)
            r[i_id], r[i_name] = new, suffixed(r[i_name])
            if r[i_search] is not None:  # the folded name is its first line
                rest = r[i_search].split("\n", 1)[1:]
                r[i_search] = "\n".join([fold(r[i_name].replace("\n", " ")) or "", *rest])
            if i_sort_name is not None:  # the name's sort key (migration 0014), from the new name
                r[i_sort_name] = timeless_keys(r[i_name], None)["sort_name"]
            projects.append(r)
        batches: list[tuple[Table, list[list[Any]]]] = [(self.projects, projects)]
        for t in self.children:
            cols = t.columns
            i_pid = cols.index("project_id")
            shifts = [(cols.index(c), self.by_name[ref].stride * k) for c, ref in t.refs.items()]
            if t.has_id:
                shifts.append((cols.index("id"), t.stride * k))
            rows = []
            for row in self.seed[t.name]:
                r = list(row)
                r[i_pid] = pid[r[i_pid]]
                for i, by in shifts:
                    if r[i] is not None:
                        r[i] += by
                rows.append(r)
            batches.append((t, rows))
        ec = self.events.columns
        ix = {c: ec.index(c) for c in ec}
        events, shift_e = [], self.events.stride * k
        prev: dict[uuid.UUID, str | None] = {}
        for row in self.seed["events"]:
            r = list(row)
            r[ix["id"]] += shift_e
            new = r[ix["project_id"]] = pid[r[ix["project_id"]]]
            if r[ix["feed_seq"]] is not None:
                r[ix["feed_seq"]] += self.feed_span * k
            r[ix["data"]] = self.event_data(r[ix["type"]], r[ix["data"]], k, suffixed)
            r[ix["prev_hash"]] = prev.get(new)
            fields = SimpleNamespace(**{c: r[ix[c]] for c in ec})
            r[ix["hash"]] = prev[new] = hash_of_event(fields, self.key)
            events.append(r)
        batches.append((self.events, events))
        oc = self.outbox.columns
        i_oid, i_eid, i_pay = oc.index("id"), oc.index("event_id"), oc.index("payload")
        outbox = []
        for row in self.seed["outbox"]:
            r = list(row)
            r[i_oid] += self.outbox.stride * k
            r[i_eid] += shift_e
            payload = dict(r[i_pay])
            if "project_id" in payload:
                payload["project_id"] = str(pid[uuid.UUID(payload["project_id"])])
            r[i_pay] = payload
            outbox.append(r)
        batches.append((self.outbox, outbox))
        self.write(batches)
        return len(events)

    def write(self, batches: list[tuple[Table, list[list[Any]]]]) -> None:
        """One transaction: COPY each table's rows, parents first."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            for t, rows in batches:
                js = [i for i, c in enumerate(t.columns) if c in t.json_columns]
                with cur.copy(f"COPY {t.name} ({', '.join(t.columns)}) FROM STDIN") as cp:
                    for r in rows:
                        for i in js:
                            r[i] = _json(r[i])
                        cp.write_row(r)

    def event_data(self, type_: str, data: Any, k: int, suffixed: Any) -> Any:
        """The event's data as copy k records it: the evidence rows' ids as they were shifted, the name as
        it was suffixed."""
        if not isinstance(data, dict):
            return data
        if type_ == "project.created" and isinstance(data.get("name"), str):
            return {**data, "name": suffixed(data["name"])}
        if type_ == "project.updated" and isinstance(data.get("changes"), dict) and "name" in data["changes"]:
            before, after = data["changes"]["name"]
            changes = {**data["changes"], "name": [suffixed(before) if before else before, suffixed(after)]}
            return {**data, "changes": changes}
        if type_.startswith("evidence."):
            t = self.by_name.get(self.kind_table.get(str(data.get("kind")), ""))
            if t is None:
                return data  # a kind the seed holds no row of (all deleted): nothing to shift
            out = dict(data)
            if t.has_id and isinstance(out.get("id"), int):
                out["id"] += t.stride * k
            values = out.get("values")
            if isinstance(values, dict) and any(c in values for c in t.refs):
                out["values"] = {
                    c: (v + self.by_name[t.refs[c]].stride * k if c in t.refs and isinstance(v, int) else v)
                    for c, v in values.items()
                }
            return out
        return data


def _work(seed_url: str, url: str, copies: list[int], wid: int) -> tuple[int, int]:
    copier = Copier(seed_url, url)
    n = 0
    t0 = time.perf_counter()
    for done, k in enumerate(copies, 1):
        n += copier.copy(k)
        el = time.perf_counter() - t0
        print(
            f"[job {wid}] copy {k} written ({done}/{len(copies)}; {n} events, {n / el:.0f} events/s, "
            f"ETA {el / done * (len(copies) - done) / 60:.1f} min)",
            flush=True,
        )
    copier.conn.close()
    return len(copies), n


def finish(url: str, tables: list[str]) -> None:
    """Sequences past the highest ids, the feed counter at the last position, statistics."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for t in tables:
            seq = conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", (t,)).fetchone()[0]
            if seq:
                conn.execute(f"SELECT setval('{seq}', (SELECT coalesce(max(id), 1) FROM {t}))")
        conn.execute("UPDATE feed_counter SET value = (SELECT coalesce(max(feed_seq), 0) FROM events) WHERE id = 1")
        conn.execute("VACUUM ANALYZE")


def main() -> None:
    from bench.common import loadavg, print_facts

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", default="regieflow_bench100k_seed", help="database made by bench/generate.py")
    ap.add_argument("--target", default="regieflow_bench100k", help="database (re)created from the seed")
    ap.add_argument("--projects", type=int, default=100_000, help="projects wanted (rounded up to whole copies)")
    ap.add_argument("--jobs", type=int, default=2, help="processes writing copies side by side")
    ap.add_argument("--list-only", action="store_true", help="old mode: multiply the projects rows only")
    args = ap.parse_args()
    url = BASE + args.target
    print_facts("postgresql+psycopg://" + url.split("://", 1)[1])
    t0 = time.perf_counter()
    subprocess.run(["dropdb", *PG, "--if-exists", args.target], check=True)
    subprocess.run(["createdb", *PG, "-T", args.seed, args.target], check=True)
    if args.list_only:
        list_only(args.seed, args.target, args.projects)
        return
    seed_url = BASE + args.seed
    probe = Copier(seed_url, url)
    seed_projects, seed_events = len(probe.seed["projects"]), len(probe.seed["events"])
    tables = [t.name for t in (*probe.children, probe.events, probe.outbox) if t.has_id]
    probe.conn.close()
    copies = -(-args.projects // seed_projects)
    print(
        f"seed {args.seed}: {seed_projects} projects, {seed_events} events; {copies - 1} copies to write "
        f"({copies * seed_projects} projects, {copies * seed_events} events) with {args.jobs} job(s)",
        flush=True,
    )
    ks = list(range(1, copies))
    shares = [ks[j :: args.jobs] for j in range(args.jobs)]
    if args.jobs == 1:
        _work(seed_url, url, shares[0], 0)
    else:
        with mp.get_context("spawn").Pool(args.jobs) as pool:
            pool.starmap(_work, [(seed_url, url, sh, j) for j, sh in enumerate(shares)])
    t1 = time.perf_counter()
    print(f"copies written in {t1 - t0:.0f} s; sequences, feed counter, VACUUM ANALYZE …", flush=True)
    finish(url, tables)
    el = time.perf_counter() - t0
    r = subprocess.run(
        [
            "psql",
            *PG,
            "-d",
            args.target,
            "-tAc",
            "SELECT (SELECT count(*) FROM projects) || ' projects, ' || "
            "(SELECT count(*) FROM events) || ' events, ' || pg_size_pretty(pg_database_size(current_database()))",
        ],
        capture_output=True,
        text=True,
    )
    print(f"{args.target}: {r.stdout.strip()} in {el:.0f} s (load average {loadavg()}, pid {os.getpid()})", flush=True)


if __name__ == "__main__":
    main()
