"""SQL statements per request do not grow with the number of projects: no N+1 can come back.

Counted with a SQLAlchemy `before_cursor_execute` listener on the app's engine (app.state.engine),
which also sees the statements of authentication and authorisation. Each read is counted on the
second call (the first one may touch the API key's last-used time). The same requests are counted
with 5 projects and with 60 (the list's page then holds 50 items instead of 5): the counts must be
equal. No timing is asserted here; speed is measured by bench/ (docs/PERFORMANCE.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from sqlalchemy import event

from app.evidence.registry import KINDS
from tests.support.api import API, create_project, project_at

START = date(2025, 3, 3)

# Paths to count; {pid} is a project moved to `validation` with evidence and history.
READS = (
    "/projects?page_size=50",
    "/projects?page_size=50&sort=-step_due_on&state=groupe_projet&state=validation",
    "/projects?page_size=50&status=en_retard&status=a_risque&status=dans_les_temps&sort=name",
    "/projects/{pid}",
    "/projects/{pid}/schedule",
    "/projects/{pid}/events?page_size=50",
    "/projects/{pid}/transitions",
    "/projects/{pid}/stakeholders",
)


@contextmanager
def counting(engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def statements(client, engine, path: str) -> tuple[int, list[str]]:
    client.get(API + path)
    with counting(engine) as seen:
        r = client.get(API + path)
    assert r.status_code == 200, r.text
    return len(seen), seen


def counts(client, engine, pid: str) -> dict[str, tuple[int, list[str]]]:
    return {path: statements(client, engine, path.format(pid=pid)) for path in READS}


def test_statements_per_request_do_not_depend_on_the_number_of_projects(client, app) -> None:
    engine = app.state.engine
    pid = project_at(client, "validation", start=START)["id"]
    for i in range(4):
        project_at(client, ("groupe_projet", "contours")[i % 2], start=START, name=f"Régie n°{i}")
    small = counts(client, engine, pid)
    for i in range(55):
        create_project(client, name=f"Régie supplémentaire n°{i}", started_on=START.isoformat())
    assert client.get(f"{API}/projects", params={"page_size": 50}).json()["total"] == 60
    large = counts(client, engine, pid)
    for path in READS:
        n_small, _ = small[path]
        n_large, sql_large = large[path]
        assert n_small == n_large, f"{path}: {n_small} statements with 5 projects, {n_large} with 60:\n" + "\n".join(
            sql_large
        )


# What a transition executes once the caller is known (app/transitions/store.py): one locked SELECT
# (the row, its chain's tail, its pauses and the facts its guards read, as aggregates; on PostgreSQL
# after a SELECT … FOR UPDATE of the row alone, so that the read sees what a writer it waited for did), the project's
# UPDATE, the pause opened or closed if any, the feed position, the event and its outbox message (on
# PostgreSQL those three in one statement, with data-modifying CTEs).
WRITES = {
    "sqlite": (
        "select projects.",
        "update projects ",
        "update feed_counter ",
        "insert into events ",
        "insert into outbox ",
    ),
    # PostgreSQL: the row locked by a statement of its own first (store.LOCK_ROW), then read
    "postgresql": (
        "select projects.id from projects where",
        "select projects.",
        "update projects ",
        "with c as (update feed_counter ",
    ),
}
TRANSACTION = ("savepoint", "release savepoint", "rollback to savepoint", "begin", "commit")


def _heads(seen: list[str]) -> list[str]:
    """The statements without the tests' savepoints, lower case, on one line."""
    heads = [" ".join(sql.split()).lower() for sql in seen]
    return [h for h in heads if not h.startswith(TRANSACTION)]


def _transition_part(seen: list[str]) -> list[str]:
    """The statements of the transition itself: after authentication (the API key, the project's region)."""
    heads = _heads(seen)
    start = next(i for i, h in enumerate(heads) if h.startswith(("select projects.id,", "select projects.id from")))
    return heads[start:]


def test_a_transition_costs_a_constant_number_of_statements(client, app) -> None:
    """Firing writes the same statements whatever the portfolio's size (and its history): the locked read
    and four writes, five more with a pause opened or closed."""
    engine = app.state.engine
    write = WRITES[engine.dialect.name]
    pid = project_at(client, "validation", start=START)["id"]
    seen_last: list[list[str]] = []

    def fire_pair() -> tuple[int, int]:
        out = []
        for trigger, body in (
            ("reprendre_faisabilite", {"reason": "Revoir le modèle économique."}),
            ("soumettre_validation", None),
        ):
            with counting(engine) as seen:
                r = client.post(f"{API}/projects/{pid}/transitions/{trigger}", json=body)
            assert r.status_code == 200, r.text
            part = _transition_part(seen)
            assert len(part) == len(write) and all(h.startswith(w) for h, w in zip(part, write, strict=True)), part
            out.append(len(_heads(seen)))
            seen_last[:] = [seen]
        return out[0], out[1]

    fire_pair()  # the first write may touch the API key's last-used time
    small = fire_pair()
    # + the API key only: the access rule on the project reads the region the locked read returns
    # (app.http.dependencies.RULE_AT_LOCKED_READ), not a statement of its own
    assert small == (1 + len(write), 1 + len(write))
    assert not any(h.startswith("select projects.region ") for h in _heads(seen_last[0])), seen_last[0]
    for i in range(55):
        create_project(client, name=f"Régie supplémentaire n°{i}", started_on=START.isoformat())
    assert fire_pair() == small
    for trigger, extra in (("suspendre", "insert into suspensions "), ("reprendre", "update suspensions ")):
        with counting(engine) as seen:
            r = client.post(f"{API}/projects/{pid}/transitions/{trigger}", json={"reason": "Motif du test."})
        assert r.status_code == 200, r.text
        part = _transition_part(seen)
        at = write.index("update projects ") + 1  # the pause right after the project's UPDATE
        assert [h.split(" (")[0].split(" set ")[0] + " " for h in part[at : at + 1]] == [extra], part


EVIDENCE_TABLES = tuple(kind.model.__tablename__ for kind in KINDS.values())


def _tables_read(seen: list[str]) -> set[str]:
    """The evidence and suspension tables the statements read: loaded as rows (`SELECT table.col, …`:
    none should be) or aggregated inside the project's locked SELECT (`FROM table`, `JOIN table`)."""
    found = set()
    for head in _heads(seen):
        for table in (*EVIDENCE_TABLES, "suspensions"):
            if head.startswith(f"select {table}."):
                found.add(f"rows of {table}")
            if f"from {table} " in head or f"join {table} " in head or head.endswith(f"from {table}"):
                found.add(table)
    return found


def test_a_transition_reads_only_the_evidence_its_guards_need(client, app) -> None:
    """A step back, a pause or an abandon reads no evidence; a forward move reads the tables of its own
    guards (workflow.machine.reads_of), nothing else, as aggregates in the one locked SELECT: the cost of
    a transition does not grow with the evidence a project has accumulated in other steps, and no
    evidence row is loaded as an object."""
    engine = app.state.engine
    pid = project_at(client, "validation", start=START)["id"]  # every step so far documented
    pauses = {"suspensions"}  # the deadline index needs them: aggregated in the same statement
    expected = [  # trigger, state before, answer, tables read
        ("reprendre_faisabilite", "validation", 200, pauses),
        (
            "soumettre_validation",
            "faisabilite",
            200,
            pauses | {"needs", "feasibility_studies", "markets", "site_visits"},
        ),
        ("suspendre", "validation", 200, pauses),
        ("reprendre", "validation", 200, pauses),
        # no approvals recorded yet: refused, after reading only what its guards read
        ("lancer_prefiguration", "validation", 409, pauses | {"approvals", "stakeholders"}),
        ("reprendre_faisabilite", "validation", 200, pauses),
    ]
    for trigger, state, status, tables in expected:
        assert client.get(f"{API}/projects/{pid}").json()["state"] == state
        body = {"reason": "Motif du test."} if trigger in ("reprendre_faisabilite", "suspendre", "reprendre") else None
        with counting(engine) as seen:
            r = client.post(f"{API}/projects/{pid}/transitions/{trigger}", json=body)
        assert r.status_code == status, r.text
        assert _tables_read(seen) == tables, (trigger, seen)
