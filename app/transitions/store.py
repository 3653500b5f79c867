"""The transition's storage, in SQLAlchemy Core: the statements are built once per database and the
facts the guards read per trigger, so that a transition costs one SELECT and its writes.

* `lock`: the project's row, locked for the transaction (FOR UPDATE on PostgreSQL; SQLite's writers
  are serialised by BEGIN IMMEDIATE), in one statement with the hash of its latest event (the chain's
  tail), its pauses, and one JSON aggregate per Evidence field the trigger's guards read (the kind's
  `fact_columns`, app/evidence/registry.py): no ORM collection is loaded, no object built.
* `write`: the project's new state, dates, deadline index and version (`UPDATE … WHERE version = the
  one read`), the pause opened or closed, then the event (hash-chained), its change-feed position
  and its outbox message.

The service (app/transitions/service.py) decides between the two with the workflow; this module
knows no rule."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, fields
from datetime import date, datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import identity_key

from app.core.database import utcnow
from app.core.errors import ConcurrentUpdate
from app.core.security import HASHED_FIELDS, event_hash
from app.core.unit_of_work import CONCURRENT_MESSAGE, UnitOfWork, WrittenEvent, is_event_sequence_conflict
from app.evidence.registry import BY_FACT
from app.projects.models import Event, OutboxMessage, Project, SuspensionRecord
from app.projects.repository import CHAIN_TAILS, NEW_EVENTS
from app.projects.sort_keys import DATED, KEYS
from workflow import deadlines as dl

PROJECTS = cast(Table, Project.__table__)
EVENTS = cast(Table, Event.__table__)
OUTBOX = cast(Table, OutboxMessage.__table__)
SUSPENSIONS = cast(Table, SuspensionRecord.__table__)
COLUMNS = tuple(c.key for c in PROJECTS.c)


@dataclass(slots=True)
class ProjectRecord:
    """A project's row as plain values (every column of `projects`): what the transition read and
    wrote, and what its answer is built from (app.projects.service.project_read)."""

    id: uuid.UUID
    name: str
    kind: str
    initiator: str | None
    region: str
    departement: str | None
    conventionnement: str
    lead_name: str | None
    description: str | None
    state: str
    suspended_since: date | None
    started_on: date
    state_entered_on: date
    last_transition_on: date
    labelled_on: date | None
    closed_on: date | None
    closed_reason: str | None
    step_months: dict[str, int]
    horizon_months: int
    horizon_on: date
    step_due_on: date | None
    projected_label_on: date | None
    search_text: str | None
    deadline_status: str | None
    sort_name: str | None
    sort_region: int | None
    sort_status: int | None
    sort_status_desc: int | None
    shown_step_due_on: date | None
    shown_horizon_on: date | None
    version: int
    created_at: datetime
    updated_at: datetime


if {f.name for f in fields(ProjectRecord)} != set(COLUMNS):  # pragma: no cover - caught by any import
    raise RuntimeError("ProjectRecord must hold every column of projects")


@dataclass(slots=True)
class Locked:
    """What `lock` read: the row, the chain's tail, the pauses and each requested field's rows."""

    project: ProjectRecord
    last_hash: str | None
    suspensions: list[dl.Suspension]
    open_suspension: int | None  # the id of the pause still open, if any
    facts: dict[str, list[list[Any]]]
    keys_day: date | None = None  # portfolio_keys.as_of: the day the stored sort keys are those of


# --- the locked read ----------------------------------------------------------------------------
def _decoder(column: Any) -> Any:
    """How a value comes back inside a JSON aggregate: dates as ISO text, booleans as 0/1 on SQLite."""
    if isinstance(column.type, Date):
        return lambda v: date.fromisoformat(v) if isinstance(v, str) else v
    if isinstance(column.type, Boolean):
        return lambda v: None if v is None else bool(v)
    return None


def _rows_of(dialect: str, columns: tuple[Any, ...]) -> tuple[Any, list[Any]]:
    """A scalar subquery: the JSON array of [order key, *columns] for every row of the project, and the
    decoder of each column (None: as it is)."""
    cols = [getattr(c, "expression", c) for c in columns]
    main = cols[0].table
    key = main.c.id if "id" in main.c else main.c.project_id
    exprs = [key]
    for c in cols:
        exprs.append(func.json(c) if dialect == "sqlite" and isinstance(c.type, JSON) else c)
    if dialect == "postgresql":
        agg = func.json_agg(func.json_build_array(*exprs))
    else:
        agg = func.json_group_array(func.json_array(*exprs))
    source = main
    for table in dict.fromkeys(c.table for c in cols[1:] if c.table is not main):
        source = source.join(table)
    stmt = select(agg).select_from(source).where(main.c.project_id == PROJECTS.c.id).correlate(PROJECTS)
    return stmt.scalar_subquery(), [_decoder(c) for c in cols]


@cache
def _lock_statement(dialect: str, wanted: frozenset[str]) -> tuple[Select[Any], tuple[str, ...], tuple[list[Any], ...]]:
    tail = (
        select(EVENTS.c.hash)
        .where(EVENTS.c.project_id == PROJECTS.c.id, EVENTS.c.seq == PROJECTS.c.version)
        .correlate(PROJECTS)
        .scalar_subquery()
    )
    pauses, _ = _rows_of(dialect, (SUSPENSIONS.c.started_on, SUSPENSIONS.c.ended_on))
    names = tuple(sorted(wanted))
    aggregates, decoders = [], []
    for name in names:
        agg, decode = _rows_of(dialect, BY_FACT[name].fact_columns)
        aggregates.append(agg)
        decoders.append(decode)
    keys_day = select(KEYS.c.as_of).where(KEYS.c.id == 1).scalar_subquery()
    stmt = select(*PROJECTS.c, tail, pauses, keys_day, *aggregates).where(PROJECTS.c.id == bindparam("pid"))
    if dialect != "postgresql":  # SQLite: BEGIN IMMEDIATE already holds the database's write lock
        stmt = stmt.with_for_update(of=PROJECTS)
    return stmt, names, tuple(decoders)


# PostgreSQL: the row lock is taken by a statement of its own, BEFORE the read. Under READ COMMITTED a
# statement that waits for a row lock re-reads that row once the other writer commits, but its
# subqueries keep the snapshot taken when the statement began: a combined `SELECT … FOR UPDATE` that
# waited would see the new project row with the old chain tail, pauses and evidence (a broken hash
# chain, deadlines without the other writer's pause, guards judged on evidence since changed). The read
# that follows the lock is a new statement, with a snapshot that includes what the other writer committed.
LOCK_ROW = select(PROJECTS.c.id).where(PROJECTS.c.id == bindparam("pid")).with_for_update()


def _decoded(raw: Any, decoders: list[Any]) -> list[list[Any]]:
    """The rows of one aggregate in id order, the order key dropped, each value decoded."""
    if raw is None:
        return []
    rows = json.loads(raw) if isinstance(raw, str) else raw
    rows.sort(key=lambda r: r[0])
    return [[v if d is None else d(v) for v, d in zip(r[1:], decoders, strict=True)] for r in rows]


def lock(uow: UnitOfWork, project_id: uuid.UUID, wanted: frozenset[str]) -> Locked | None:
    """The project's row locked for this transaction, with its chain's tail, its pauses and the rows of
    each Evidence field in `wanted`, in one statement after the lock (PostgreSQL: LOCK_ROW first);
    None: no such project."""
    if uow.session.new or uow.session.identity_map:  # a batch: what earlier services left pending
        uow.flush()
    conn = uow.session.connection()
    dialect = conn.dialect.name
    if dialect == "postgresql" and conn.execute(LOCK_ROW, {"pid": project_id}).first() is None:
        return None
    stmt, names, decoders = _lock_statement(dialect, wanted)
    row = conn.execute(stmt, {"pid": project_id}).one_or_none()
    if row is None:
        return None
    n = len(COLUMNS)
    project = ProjectRecord(**dict(zip(COLUMNS, row[:n], strict=True)))
    pauses = _decoded(row[n + 1], [_decoder(SUSPENSIONS.c.started_on), _decoder(SUSPENSIONS.c.ended_on)])
    suspensions = [dl.Suspension(start, end) for start, end in pauses]
    open_ = next((i for i, (_, end) in enumerate(pauses) if end is None), None)
    keys_day = _decoder(KEYS.c.as_of)(row[n + 2])  # SQLite: a scalar subquery's date comes back as text
    facts = {name: _decoded(row[n + 3 + i], decoders[i]) for i, name in enumerate(names)}
    return Locked(project, row[n], suspensions, open_, facts, keys_day)


# --- the writes ---------------------------------------------------------------------------------
def _pg_type(column: str) -> str:
    """The PostgreSQL type of an events column, for the casts of WRITE_EVENT_PG (varchar without its
    length: a cast would cut a longer text, the INSERT refuses it)."""
    from sqlalchemy.dialects import postgresql

    name = str(EVENTS.c[column].type.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
    return "varchar" if name.startswith("VARCHAR") else name


MOVED = (
    "state",
    "state_entered_on",
    "last_transition_on",
    "suspended_since",
    "labelled_on",
    "closed_on",
    "closed_reason",
    "horizon_on",
    "step_due_on",
    "projected_label_on",
    *DATED,  # the portfolio's dated sort keys (app.projects.sort_keys), for the transition's day
    "version",
    "updated_at",
)
UPDATE_PROJECT: Update = update(PROJECTS).where(
    PROJECTS.c.id == bindparam("b_id"), PROJECTS.c.version == bindparam("b_version")
)
OPEN_PAUSE: Insert = insert(SUSPENSIONS)
CLOSE_PAUSE: Update = update(SUSPENSIONS).where(
    SUSPENSIONS.c.project_id == bindparam("b_project"), SUSPENSIONS.c.ended_on.is_(None)
)
INSERT_EVENT = insert(EVENTS).returning(EVENTS.c.id)
INSERT_OUTBOX: Insert = insert(OUTBOX)
EVENT_COLUMNS = tuple(c.key for c in EVENTS.c if c.key not in ("id", "feed_seq"))
# PostgreSQL runs the three as one statement (data-modifying CTEs); the columns' types convert the values.
WRITE_EVENT_PG = text(
    "WITH c AS (UPDATE feed_counter SET value = value + 1 WHERE id = 1 RETURNING value), "
    "e AS (INSERT INTO events (" + ", ".join(f'"{k}"' for k in EVENT_COLUMNS) + ", feed_seq) "
    "SELECT " + ", ".join(f"CAST(:{k} AS {_pg_type(k)})" for k in EVENT_COLUMNS) + ", c.value FROM c "
    "RETURNING id, feed_seq) "
    "INSERT INTO outbox (event_id, topic, payload, created_at) "
    "SELECT e.id, CAST(:topic AS varchar), CAST(:payload AS json), CAST(:created_at AS timestamptz) FROM e "
    "RETURNING (SELECT feed_seq FROM e)"
).bindparams(
    *(bindparam(k, type_=EVENTS.c[k].type) for k in EVENT_COLUMNS),
    bindparam("topic", type_=OUTBOX.c.topic.type),
    bindparam("payload", type_=OUTBOX.c.payload.type),
    bindparam("created_at", type_=OUTBOX.c.created_at.type),
)


def write(
    uow: UnitOfWork,
    before: ProjectRecord,
    after: ProjectRecord,
    event: dict[str, Any],
    *,
    last_hash: str | None,
    pause_opened: tuple[date, str] | None,
    pause_closed: tuple[date, str | None] | None,
) -> None:
    """Write the transition decided on `before` (as `lock` read it): the project's row as `after`,
    the pause opened (day, reason) or closed (day, resume reason), the event (`event`: its hashed
    fields, `seq` = the new version), chained to `last_hash`, with its feed position and outbox
    message. Another writer that got there first → ConcurrentUpdate (409), nothing written."""
    conn = uow.session.connection()
    values = {name: getattr(after, name) for name in MOVED}
    done = conn.execute(UPDATE_PROJECT, {**values, "b_id": before.id, "b_version": before.version})
    if done.rowcount != 1:
        raise ConcurrentUpdate(CONCURRENT_MESSAGE)
    if pause_opened is not None:
        conn.execute(OPEN_PAUSE, {"project_id": before.id, "started_on": pause_opened[0], "reason": pause_opened[1]})
    if pause_closed is not None:
        conn.execute(
            CLOSE_PAUSE, {"ended_on": pause_closed[0], "resume_reason": pause_closed[1], "b_project": before.id}
        )
    seq = event["seq"]
    hashed = {name: event.get(name) for name in HASHED_FIELDS}
    hashed["project_id"] = str(before.id)
    prev_hash = last_hash if seq > 1 else None
    digest = event_hash(hashed, prev_hash, uow.chain_key())
    row = {**event, "project_id": before.id, "prev_hash": prev_hash, "hash": digest}
    payload = {"project_id": str(before.id), "seq": seq, "type": event["type"]}
    try:
        if conn.dialect.name == "postgresql":
            # one statement: the feed position, the event and its outbox message (the counter row is
            # locked from here to COMMIT); events the ORM left pending in a batch take theirs first
            uow.take_feed_positions()
            feed_seq = conn.execute(
                WRITE_EVENT_PG, {**row, "topic": event["type"], "payload": payload, "created_at": utcnow()}
            ).scalar_one()
        else:
            feed_seq = uow.take_feed_positions(1)
            event_id = conn.execute(INSERT_EVENT, {**row, "feed_seq": feed_seq}).scalar_one()
            conn.execute(INSERT_OUTBOX, {"event_id": event_id, "topic": event["type"], "payload": payload})
    except IntegrityError as err:
        if not is_event_sequence_conflict(err):
            raise
        raise ConcurrentUpdate(CONCURRENT_MESSAGE) from err
    uow.session.info.setdefault(NEW_EVENTS, []).append(WrittenEvent(before.id, seq, event["type"], feed_seq))
    uow.session.info.setdefault(CHAIN_TAILS, {})[before.id] = (seq, digest)
    # An ORM copy of the project in this session (a batch: a service before this one loaded it) is
    # now stale: read again when next used.
    if uow.session.identity_map:
        stale = uow.session.identity_map.get(identity_key(Project, before.id))
        if stale is not None:
            uow.session.expire(stale)
