"""Extrapolation aid, NOT a benchmark of its own: copy a portfolio made by bench/generate.py into a
scratch database and multiply its `projects` rows (copies with new ids, names suffixed) to reach
--target rows, so that the plans and timings of the *list* query can be seen at 10,000 projects when
generating that many through the domain takes too long on a shared machine (docs/PERFORMANCE.md).
The copies have no events, evidence or history: only the list and count queries are meaningful on it.

    PYTHONPATH=. .venv/bin/python -m bench.replicate \
        --source regieflow_bench_portfolio --scratch regieflow_bench_scratch --target 10000
"""

from __future__ import annotations

import argparse
import subprocess

PG = ["-h", "127.0.0.1", "-U", "postgres"]
COLUMNS = (
    "id, name, kind, initiator, region, departement, conventionnement, lead_name, description, state, "
    "suspended_since, started_on, state_entered_on, last_transition_on, labelled_on, closed_on, closed_reason, "
    "step_months, horizon_months, horizon_on, step_due_on, projected_label_on, deadline_status, version, "
    "created_at, updated_at"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default="regieflow_bench_portfolio")
    ap.add_argument("--scratch", default="regieflow_bench_scratch")
    ap.add_argument("--target", type=int, default=10_000)
    args = ap.parse_args()
    subprocess.run(["dropdb", *PG, "--if-exists", args.scratch], check=True)
    subprocess.run(["createdb", *PG, "-T", args.source, args.scratch], check=True)
    sql = f"""
    DO $$
    DECLARE n int; k int := 1;
    BEGIN
      SELECT count(*) INTO n FROM projects;
      WHILE (SELECT count(*) FROM projects) < {args.target} LOOP
        INSERT INTO projects ({COLUMNS})
        SELECT gen_random_uuid(), left(name || ' (copie ' || k || ')', 200), {COLUMNS.split(", ", 2)[2]}
        FROM projects WHERE name NOT LIKE '%(copie %' LIMIT {args.target} - (SELECT count(*) FROM projects);
        k := k + 1;
      END LOOP;
    END $$;
    ANALYZE projects;
    SELECT count(*) FROM projects;
    """
    r = subprocess.run(["psql", *PG, "-d", args.scratch, "-tAc", sql], check=True, capture_output=True, text=True)
    print(f"{args.scratch}: {r.stdout.strip().splitlines()[-1]} project rows")


if __name__ == "__main__":
    main()
