"""SQL statements per request, counted the way tests/transitions/test_statement_counts.py does, for the docs.

    PYTHONPATH=. .venv/bin/python -m bench.statements                      # temporary SQLite
    PYTHONPATH=. .venv/bin/python -m bench.statements --database-url postgresql+psycopg://postgres@127.0.0.1:5432/regieflow_bench

Prints, for each request the test checks, the number of statements with 5 and with 60 projects.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from bench.common import create_key, ensure_pg_database, reset_database


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url")
    args = ap.parse_args()
    from app.core.settings import Settings
    from app.http.application import create_app
    from tests.support import SettableClock, create_project, project_at
    from tests.transitions.test_statement_counts import READS, START, counting, counts

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/statements.db"
        ensure_pg_database(url)
        reset_database(url)
        clock = SettableClock(tz=ZoneInfo("Europe/Paris"))
        clock.set(date(2026, 11, 26))
        app = create_app(Settings(database_url=url), clock=clock)
        key = create_key(url)
        with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
            pid = project_at(client, "validation", start=START)["id"]
            for i in range(4):
                project_at(client, ("groupe_projet", "contours")[i % 2], start=START, name=f"Régie n°{i}")
            small = counts(client, app.state.engine, pid)
            for i in range(55):
                create_project(client, name=f"Régie supplémentaire n°{i}", started_on=START.isoformat())
            large = counts(client, app.state.engine, pid)
            fire = {}
            for trigger, body in (
                ("reprendre_faisabilite", {"reason": "Revoir."}),
                ("soumettre_validation", None),
                ("reprendre_faisabilite", {"reason": "Revoir."}),
                ("soumettre_validation", None),
            ):
                with counting(app.state.engine) as seen:
                    client.post(f"/api/v1/projects/{pid}/transitions/{trigger}", json=body)
                fire[trigger] = len(seen)
        app.state.engine.dispose()
    print("| request | statements, 5 projects | statements, 60 projects |\n|---|---|---|")
    for path in READS:
        print(f"| `GET {path}` | {small[path][0]} | {large[path][0]} |")
    for trigger, n in fire.items():
        print(f"| `POST /projects/{{pid}}/transitions/{trigger}` | {n} | {n} |")


if __name__ == "__main__":
    main()
