"""What the tampering tests share: a history written through the API, the verify result by project,
raw-SQL tampering inside a savepoint (undone after each generated example), and the chain rules an
attacker might use to recompute hashes."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, select, update

from app.checkpoints import service as ck
from app.core.keys import derived_key
from app.core.security import CHAIN_PURPOSE, canonical_event, event_fields
from app.core.settings import Settings
from app.core.unit_of_work import UnitOfWorkFactory
from app.projects.models import Event
from app.transitions.verify import Report, run
from tests.support.api import API, create_project, fire, post, put
from tests.support.evidence import seed_project

START = date(2025, 1, 6)


@dataclass
class History:
    rich: str  # one row of every evidence kind, a pause, a re-plan, an update
    plain: str  # a few needs
    last: str  # written last: its events hold the highest feed positions


def write_history(client: Any) -> History:
    rich, _ = seed_project(client, "Hauts-de-France")
    fire(client, rich, "suspendre", reason="Élections")
    fire(client, rich, "reprendre", reason="Nouvelle équipe")
    plan = {"groupe_projet": 3, "contours": 4, "faisabilite": 10, "validation": 3, "prefiguration": 12, "expertise": 6}
    put(client, f"/projects/{rich}/plan", {"step_months": plan, "horizon_months": 40, "reason": "Étude longue"})
    assert client.patch(f"{API}/projects/{rich}", json={"description": "Quartier de l'Alma"}).status_code == 200
    plain = create_project(client, name="Régie du Mirail", started_on=START.isoformat())["id"]
    for label in ("Entretien", "Médiation"):
        post(client, f"/projects/{plain}/needs", {"label": label})
    last = create_project(client, name="Régie de Bellevue", started_on=START.isoformat())["id"]
    for label in ("Jardins", "Laverie", "Mobilité"):
        post(client, f"/projects/{last}/needs", {"label": label})
    return History(rich, plain, last)


def uows(session_factory: Any, settings: Settings) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(session_factory, settings)


def verify_all(session_factory: Any, settings: Settings) -> tuple[Report, dict[str, list[str]]]:
    """The report, and the problems by project id (text; "database" for the whole database's)."""
    report = run(uows(session_factory, settings), settings=settings)
    by = {str(f.project_id) if f.project_id is not None else "database": f.problems for f in report.findings}
    return report, by


def checkpoint(session_factory: Any, settings: Settings, clock: Any) -> ck.Outcome:
    outcome = ck.write(uows(session_factory, settings), settings, clock.now())
    assert outcome.written is not None, outcome.problems
    return outcome


@contextmanager
def tampering(db: Any) -> Iterator[Connection]:
    """Raw SQL on the test's connection in a savepoint that is rolled back afterwards (one generated
    example after another on the same history)."""
    assert db.connection is not None, "tampering() needs the rolled-back test database"
    nested = db.connection.begin_nested()
    try:
        yield db.connection
    finally:
        nested.rollback()


Rule = Callable[[dict[str, Any], str | None], str]


def chain_key(settings: Settings) -> bytes:
    return derived_key(settings, CHAIN_PURPOSE)


def unkeyed(fields: dict[str, Any], prev: str | None) -> str:
    """The rule before revision 0005: SHA-256, no key (anyone can recompute it)."""
    return hashlib.sha256(canonical_event(fields, prev)).hexdigest()


def keyed(key: bytes) -> Rule:
    return lambda fields, prev: hmac.new(key, canonical_event(fields, prev), hashlib.sha256).hexdigest()


def rechain_from(conn: Connection, project_id: str, seq: int, rule: Rule) -> None:
    """Recompute the hash of event `seq` and of every later event of the project with `rule`, each
    linked to the previous one: what someone does to make an edit look like an unbroken chain."""
    table = Event.__table__
    pid = uuid.UUID(project_id)
    rows = conn.execute(select(table).where(table.c.project_id == pid).order_by(table.c.seq)).mappings().all()
    prev = None
    for row in rows:
        if row["seq"] >= seq:
            fields = event_fields(SimpleNamespace(**row))
            digest = rule(fields, prev)
            conn.execute(update(table).where(table.c.id == row["id"]).values(prev_hash=prev, hash=digest))
            prev = digest
        else:
            prev = row["hash"]
