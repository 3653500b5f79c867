"""`regieflow verify`: everything the database holds about projects must be what their events say.

For every project: its event chain (sequence 1..n, version n, each hash an HMAC under the server's
chain key — the current one or a previous one during a rotation — over the event and the previous
hash); the history replayed (state, dates, pauses, deadline index, plan and re-plans, the fields set
at creation and by updates); every evidence row replayed from the evidence events, kind by kind, from
the same registry the events are written from (app.evidence.registry.KINDS); every outbox message.
For the whole database: change-feed positions contiguous and in commit order, and the database
against the last valid signed checkpoint (app/checkpoints), so that deleting a project, the last
events of a chain or rewriting a chain is seen too.

Each difference is one line in English naming the project and the row.
"""

from __future__ import annotations

import enum
import itertools
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.keys import derived_keys
from app.core.security import CHAIN_PURPOSE, hash_of_event
from app.core.settings import Settings, get_settings
from app.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.documents.storage import storage_for
from app.documents.verify import verify_documents
from app.evidence.registry import KINDS, EvidenceKind
from app.feed.models import FeedCounter
from app.projects.models import Event, OutboxMessage, Project, Replan
from app.reference.verify import verify_territory
from app.transitions.service import dates_of, recorded_transitions
from workflow import deadlines as dl
from workflow.errors import DomainError
from workflow.history import replay
from workflow.vocabulary import State, Status, Trigger


@dataclass
class Finding:
    """What disagrees about one project (`project_id`), or about the database as a whole (None: the
    change feed, the checkpoints)."""

    project_id: uuid.UUID | None
    name: str
    problems: list[str] = field(default_factory=list)


@dataclass
class Keys:
    """The chain keys verify accepts: the current one first, then the previous ones (rotation)."""

    chain: list[bytes]
    previous_used: int = 0  # events whose hash matched a previous key only (`regieflow rechain` updates them)


def _obj(value: Any) -> dict[str, Any]:
    """A JSON object recorded in an event, or an empty one (the chain check reports a reshaped event)."""
    return value if isinstance(value, dict) else {}


def _d(v: date | None) -> str:
    return v.isoformat() if v else "—"


def check_project(
    uow: UnitOfWork, p: Project, keys: Keys | None = None, rows: dict[str, list[Any]] | None = None
) -> list[str]:
    """Every way the stored project can disagree with its own events, in words (empty: it agrees).
    `rows`: its evidence rows by kind (loaded here when not given)."""
    keys = keys or Keys([uow.chain_key()])
    events = uow.events.of_project(p.id)
    problems = _check_chain(p, events, keys)
    if not events or events[0].type != "project.created":
        return [*problems, "first event is not project.created"]
    shapeless = [e.seq for e in events if not isinstance(e.data, dict)]
    if shapeless:
        return [*problems, f"event(s) {shapeless[:10]}: data is not a JSON object"]
    problems += _check_creation_and_plan(p, events)
    replayed, replays = _check_replay(p, events)
    problems += replayed
    if not replays:
        return problems  # the history itself is wrong: the rest would only repeat it
    problems += _check_fields(p, events)
    problems += _check_suspensions(p, events)
    problems += _check_replans(uow.session, p, events)
    problems += _check_evidence(p, events, rows if rows is not None else _evidence_rows(uow.session, [p.id])[p.id])
    problems += _check_outbox(uow.session, p, events)
    return problems


def _check_chain(p: Project, events: list[Event], keys: Keys) -> list[str]:
    """Sequence numbers 1..n, the version equal to n, and an unbroken keyed hash chain."""
    problems: list[str] = []
    seqs = [e.seq for e in events]
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append(f"event sequence has gaps or repeats: {seqs[:10]}{'…' if len(seqs) > 10 else ''}")
    if p.version != len(events):
        problems.append(f"version {p.version} but {len(events)} events")
    prev: str | None = None
    for e in events:
        if e.prev_hash != prev:
            problems.append(f"event {e.seq}: hash chain broken (prev_hash does not match event {e.seq - 1})")
            break
        if e.hash != hash_of_event(e, keys.chain[0]):
            if not any(e.hash == hash_of_event(e, k) for k in keys.chain[1:]):
                problems.append(f"event {e.seq}: content does not match its hash (edited behind the service's back?)")
                break
            keys.previous_used += 1
        prev = e.hash
    return problems


def _check_creation_and_plan(p: Project, events: list[Event]) -> list[str]:
    """The start date the creation event gives, and the plan after the last re-plan."""
    problems: list[str] = []
    created = events[0].data
    if created.get("started_on") != p.started_on.isoformat():
        problems.append(f"started_on {_d(p.started_on)} but the creation event says {created.get('started_on')}")
    plan = events_plan(events)
    stored = {"step_months": p.step_months, "horizon_months": p.horizon_months}
    if normal(plan) != normal(stored):
        problems.append(f"plan {stored} differs from the events' plan {plan}")
    return problems


def events_plan(events: list[Event]) -> dict[str, Any]:
    """The plan the creation event set and the last re-plan changed (as Plan.as_dict gives it)."""
    plan = _obj(events[0].data.get("plan"))
    for e in events:
        if e.type == "plan.changed":
            plan = _obj(e.data.get("after")) or plan
    return plan


def _plan(recorded: dict[str, Any]) -> dl.Plan | None:
    """A recorded plan as the domain's Plan (None when it lacks a step or a number)."""
    try:
        plan = dl.Plan(
            {str(k): int(v) for k, v in dict(recorded["step_months"]).items()}, int(recorded["horizon_months"])
        )
        plan.as_dict()  # every step present
    except (KeyError, TypeError, ValueError):
        return None
    return plan


# The dates compared with the replay, in the order verify reports them.
REPLAYED_DATES = ("state", "suspended_since", "state_entered_on", "last_transition_on", "labelled_on", "closed_on")


def _check_replay(p: Project, events: list[Event]) -> tuple[list[str], bool]:
    """The dates, pauses and deadline index that replaying the transitions gives (workflow.effects),
    and whether the history replays at all."""
    try:
        r = replay(p.started_on, recorded_transitions(events))
    except DomainError as exc:
        return [f"history does not replay: {exc.message}"], False
    stored, replayed = dates_of(p), r.dates
    problems = [
        f"{name} is {getattr(stored, name)} but the events give {getattr(replayed, name)}"
        for name in REPLAYED_DATES
        if getattr(stored, name) != getattr(replayed, name)
    ]
    suspensions = [dl.Suspension(s.started_on, s.ended_on) for s in p.suspensions]
    if suspensions != r.suspensions:
        problems.append(f"suspensions {suspensions} differ from the events' {r.suspensions}")
    plan = _plan(events_plan(events))
    if plan is None:
        return [*problems, f"the events' plan {events_plan(events)} is not a plan"], True
    idx = dl.deadline_index(
        started_on=p.started_on,
        state=r.state,
        state_entered_on=r.state_entered_on,
        suspensions=r.suspensions,
        plan=plan,
    )
    for name in ("horizon_on", "step_due_on", "projected_label_on"):
        if getattr(p, name) != getattr(idx, name):
            problems.append(f"{name} is {_d(getattr(p, name))} but the events give {_d(getattr(idx, name))}")
    return problems, True


# --- values as events record them --------------------------------------------------------------------
def normal(value: Any) -> Any:
    """A stored or recorded value in one comparable form: the JSON the events keep (dates as ISO text,
    enumerations by value, decimals as numbers, tuples as lists)."""
    if isinstance(value, enum.Enum):
        return normal(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (list, tuple)):
        return [normal(v) for v in value]
    if isinstance(value, dict):
        return {str(k): normal(v) for k, v in value.items()}
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _differs(stored: Any, recorded: Any) -> bool:
    return bool(normal(stored) != normal(recorded))


# --- project fields, pauses, re-plans ----------------------------------------------------------------
# Set at creation (the creation event's data) and changed by project.updated events ({"changes": {name:
# [before, after]}}); the dates and the plan are checked by the replay above.
NOT_FIELDS = frozenset({"started_on", "plan"})


def _check_fields(p: Project, events: list[Event]) -> list[str]:
    columns = set(Project.__table__.c.keys())
    expected: dict[str, Any] = {k: v for k, v in events[0].data.items() if k in columns and k not in NOT_FIELDS}
    closed_reason: str | None = None
    status: str | None = None
    for e in events[1:]:
        if e.type == "project.updated":
            for name, change in _obj(e.data.get("changes")).items():
                if name in columns and isinstance(change, list) and len(change) == 2:
                    expected[name] = change[1]
        elif e.type == "project.transitioned" and e.to_state == State.ABANDONNEE.value:
            closed_reason = e.reason
        elif e.type == "deadline.status_changed":
            status = e.data.get("to")
    problems = [
        f"project field {name} is {normal(getattr(p, name))!r} but the events say {normal(value)!r}"
        for name, value in sorted(expected.items())
        if _differs(getattr(p, name), value)
    ]
    if p.closed_reason != closed_reason:
        problems.append(f"project field closed_reason is {p.closed_reason!r} but the events say {closed_reason!r}")
    # The scan records "dans les temps" (and nothing, for a closed project) without an event; a project
    # late or at risk was announced by an event, the last one of its kind.
    if p.deadline_status in (Status.EN_RETARD.value, Status.A_RISQUE.value) and p.deadline_status != status:
        problems.append(f"project field deadline_status is {p.deadline_status!r} but the last announced is {status!r}")
    last = events[-1].recorded_at
    if p.updated_at != last:
        problems.append(f"project field updated_at is {normal(p.updated_at)} but the last event is of {normal(last)}")
    return problems


def _check_suspensions(p: Project, events: list[Event]) -> list[str]:
    """Each pause's reason and resume reason are those of the transitions that opened and closed it."""
    expected: list[tuple[date | None, date | None, str | None, str | None]] = []
    for e in events:
        if e.type != "project.transitioned":
            continue
        if e.trigger == Trigger.SUSPENDRE.value:
            expected.append((e.effective_on, None, e.reason or "", None))
        elif expected and expected[-1][1] is None and not e.data.get("suspended", False):
            started, _, reason, _ = expected[-1]
            expected[-1] = (started, e.effective_on, reason, e.reason)
    stored = [(s.started_on, s.ended_on, s.reason, s.resume_reason) for s in p.suspensions]
    problems = []
    for i, (got, want) in enumerate(zip(stored, expected, strict=False), start=1):
        if got[2:] != want[2:]:
            problems.append(f"suspension {i}: reasons {got[2:]} but the events say {want[2:]}")
    return problems


def _check_replans(session: Session, p: Project, events: list[Event]) -> list[str]:
    """One re-plan row per plan.changed event, with its plan, reason and actor."""
    expected = [
        (
            normal(_obj(e.data.get("after")).get("step_months")),
            _obj(e.data.get("after")).get("horizon_months"),
            e.reason,
            e.actor,
        )
        for e in events
        if e.type == "plan.changed"
    ]
    rows = session.scalars(select(Replan).where(Replan.project_id == p.id).order_by(Replan.id)).all()
    stored = [(normal(r.step_months), r.horizon_months, r.reason, r.actor) for r in rows]
    if len(stored) != len(expected):
        return [f"{len(stored)} re-plan row(s) but {len(expected)} plan.changed event(s)"]
    return [
        f"re-plan row {r.id} is {got} but its event says {want}"
        for r, got, want in zip(rows, stored, expected, strict=True)
        if got != want
    ]


# --- evidence ----------------------------------------------------------------------------------------
EVIDENCE_EVENTS = ("evidence.created", "evidence.updated", "evidence.deleted")


def _evidence_rows(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, list[Any]]]:
    """Every evidence row of these projects, by project and kind (one query per kind)."""
    out: dict[uuid.UUID, dict[str, list[Any]]] = {pid: defaultdict(list) for pid in ids}
    for kind in KINDS.values():
        model: Any = kind.model
        for row in session.scalars(
            select(model).where(model.project_id.in_(list(ids))).order_by(*model.__table__.primary_key.columns)
        ):
            out[row.project_id][kind.name].append(row)
    return out


def replay_evidence(events: list[Event]) -> tuple[dict[str, dict[Any, dict[str, Any]]], list[str]]:
    """The evidence rows the events describe, by kind and row id: the values each row was created with
    (a column the creation did not set holds its default: a reservation not lifted yet has no
    `lifted_on`), updated by the changes recorded after, until it was deleted. A singleton kind holds
    one row at most (recording it again replaces its values). Also the problems of the events."""
    rows: dict[str, dict[Any, dict[str, Any]]] = defaultdict(dict)
    problems: list[str] = []
    for e in events:
        if e.type not in EVIDENCE_EVENTS:
            continue
        kind = KINDS.get(str(e.data.get("kind")))
        if kind is None:
            problems.append(f"event {e.seq}: unknown evidence kind {e.data.get('kind')!r}")
            continue
        of_kind, rid = rows[kind.name], e.data.get("id")
        if rid is not None and not isinstance(rid, int | str):
            problems.append(f"event {e.seq}: evidence row id {rid!r} is not an id")
            continue
        values = _obj(e.data.get("values"))
        if e.type == "evidence.deleted":
            if kind.singleton:
                of_kind.clear()
            else:
                of_kind.pop(rid, None)
        elif e.type == "evidence.created":
            if kind.singleton:
                of_kind.clear()
            of_kind[rid] = defaults_of(kind) | values
        else:
            if kind.singleton and rid not in of_kind:
                of_kind.clear()
            of_kind.setdefault(rid, defaults_of(kind)).update(values)
    return rows, problems


def defaults_of(kind: EvidenceKind) -> dict[str, Any]:
    """What a new row of the kind holds in the columns its creation does not set: None, or the column's
    constant default. Keys, and columns whose default is computed, are left out (not comparable)."""
    out: dict[str, Any] = {}
    for column in kind.model.__table__.columns:
        if column.primary_key or column.name == "project_id" or column.server_default is not None:
            continue
        default = column.default
        if default is None:
            out[column.name] = None
        elif getattr(default, "is_scalar", False):
            out[column.name] = default.arg
    return out


def _row_name(kind: EvidenceKind, rid: Any) -> str:
    return f"{kind.name} row {rid}"


def _check_evidence(p: Project, events: list[Event], stored: dict[str, list[Any]]) -> list[str]:
    """Each kind's rows against the replay of its events (`replay_evidence`), column by column. A kind
    whose stored value may legitimately differ from the recorded one (a name the official reference
    rewrote) says so with an `agrees(row, column, recorded)` attribute on its EvidenceKind."""
    expected, problems = replay_evidence(events)
    for kind in KINDS.values():
        columns = set(kind.model.__table__.c.keys())
        want = expected.get(kind.name, {})
        have = {getattr(row, "id", None): row for row in stored.get(kind.name, [])}  # a singleton: None
        for rid, row in have.items():
            if rid not in want:
                problems.append(f"{_row_name(kind, rid)} has no event (added behind the service's back)")
                continue
            agrees = getattr(kind, "agrees", None)  # optional: (row, column, recorded value) -> bool
            for name, value in sorted(want[rid].items()):
                if (
                    name in columns
                    and _differs(getattr(row, name), value)
                    and not (agrees and agrees(row, name, value))
                ):
                    problems.append(
                        f"{_row_name(kind, rid)}: {name} is {normal(getattr(row, name))!r} "
                        f"but the events say {normal(value)!r}"
                    )
        for rid in want.keys() - have.keys():
            problems.append(
                f"{_row_name(kind, rid)} recorded by the events is missing (deleted behind the service's back)"
            )
    return problems


# --- outbox ------------------------------------------------------------------------------------------
def outbox_payload(event: Event) -> dict[str, Any]:
    """What EventRepository.append writes for an event (app/projects/repository.py)."""
    return {"project_id": str(event.project_id), "seq": event.seq, "type": event.type}


def _check_outbox(session: Session, p: Project, events: list[Event]) -> list[str]:
    by_event = {e.id: e for e in events}
    messages = session.execute(
        select(OutboxMessage.event_id, OutboxMessage.topic, OutboxMessage.payload)
        .join(Event, Event.id == OutboxMessage.event_id)
        .where(Event.project_id == p.id)
    ).all()
    problems = []
    seen = set()
    for event_id, topic, payload in messages:
        e = by_event.get(event_id)
        if e is None:  # pragma: no cover - the join keeps the project's events only
            continue
        seen.add(event_id)
        if payload != outbox_payload(e):
            problems.append(
                f"outbox message of event {e.seq}: payload {payload} but the event gives {outbox_payload(e)}"
            )
        if topic != e.type:
            problems.append(f"outbox message of event {e.seq}: topic {topic!r} but the event is {e.type!r}")
    missing = len(by_event) - len(seen)
    if missing:
        problems.append(f"{missing} event(s) without their outbox message")
    return problems


# --- the change feed ---------------------------------------------------------------------------------
def check_feed(session: Session, *, shown: int = 5) -> list[str]:
    """Feed positions 1..N without a gap, the counter at N, and within each project in seq order (the
    feed is in commit order, and a project's events commit in seq order)."""
    rows = session.execute(select(Event.feed_seq, Event.project_id, Event.seq).order_by(Event.feed_seq, Event.id)).all()
    problems: list[str] = []
    unplaced = [f"{pid} event {seq}" for pos, pid, seq in rows if pos is None]
    if unplaced:
        problems.append(f"{len(unplaced)} event(s) without a feed position: {', '.join(unplaced[:shown])}")
    placed = [(pos, pid, seq) for pos, pid, seq in rows if pos is not None]
    gaps = [(a[0], b[0]) for a, b in itertools.pairwise(placed) if b[0] != a[0] + 1]
    if placed and placed[0][0] != 1:
        gaps.insert(0, (0, placed[0][0]))
    if gaps:
        listed = ", ".join(f"{a} then {b}" for a, b in gaps[:shown])
        problems.append(f"feed positions have {len(gaps)} gap(s) or repeat(s): {listed}")
    last: dict[uuid.UUID, tuple[int, int]] = {}
    disorder = []
    for pos, pid, seq in placed:
        before = last.get(pid)
        if before is not None and before[1] > seq:
            disorder.append(
                f"position {pos} (project {pid} event {seq}) after position {before[0]} (event {before[1]})"
            )
        last[pid] = (pos, seq)
    if disorder:
        problems.append(f"feed positions out of commit order: {'; '.join(disorder[:shown])}")
    counter = session.scalar(select(FeedCounter.value).where(FeedCounter.id == 1))
    head = placed[-1][0] if placed else 0
    if counter != head:  # above: the last events of the feed were deleted; below: positions would repeat
        problems.append(f"feed counter is at {counter} but the highest position is {head}")
    return problems


# --- all of it ---------------------------------------------------------------------------------------
@dataclass
class Report:
    checked: int
    findings: list[Finding]
    previous_key_events: int = 0  # events still chained with a previous key
    checkpoint: str | None = None  # the checkpoint compared with ("<file> line <n>, <when>"), if any


def run(
    uows: UnitOfWorkFactory, batch: int = 200, *, settings: Settings | None = None, checkpoints: bool = True
) -> Report:
    from app.checkpoints import service as ck

    settings = settings or uows.settings or get_settings()
    keys = Keys(derived_keys(settings, CHAIN_PURPOSE))
    reading: ck.Reading | None = None
    if checkpoints:  # read before the database: a checkpoint written meanwhile is not compared with
        url = ck.url_of(uows)
        reading = ck.read(ck.path_for(settings, url), derived_keys(settings, ck.PURPOSE), ck.database_label(url))
    by_project: dict[uuid.UUID, Finding] = {}
    general = Finding(None, "database")
    checked = 0
    with uows(write=False) as uow:
        ids = uow.projects.ids_in_creation_order()
        names: dict[uuid.UUID, str] = {}
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            rows = _evidence_rows(uow.session, chunk)
            for p in uow.projects.with_suspensions(chunk):
                checked += 1
                names[p.id] = p.name
                problems = check_project(uow, p, keys, rows[p.id])
                if problems:
                    by_project[p.id] = Finding(p.id, p.name, problems)
            uow.session.expunge_all()  # a batch at a time in memory
        general.problems += check_feed(uow.session)
        for pid, problems in verify_territory(uow.session).items():  # région, département, communes: app/reference
            by_project.setdefault(pid, Finding(pid, names.get(pid, "?"))).problems.extend(problems)
        general.problems += verify_documents(uow, storage_for(settings))  # files of documents (issue 14)
        if reading is not None:
            last = reading.last
            extra = list(reading.problems)
            if last is not None:
                extra += ck.compare(uow.session, last)
            for problem in extra:
                if problem.project_id is None:
                    general.problems.append(problem.message)
                    continue
                name = names.get(problem.project_id, "(not in the database)")
                by_project.setdefault(problem.project_id, Finding(problem.project_id, name)).problems.append(
                    problem.message
                )
    findings = [by_project[pid] for pid in ids if pid in by_project]
    findings += [f for pid, f in by_project.items() if pid not in names]  # deleted projects
    if general.problems:
        findings.append(general)
    where = None
    if reading is not None and reading.valid:
        number, last = reading.valid[-1]
        where = f"{reading.path} line {number}, {last.written_at.isoformat()}"
    return Report(checked, findings, keys.previous_used, where)


def verify(
    uows: UnitOfWorkFactory, batch: int = 200, *, settings: Settings | None = None, checkpoints: bool = True
) -> tuple[int, list[Finding]]:
    """(projects checked, findings): `run` without the details."""
    report = run(uows, batch, settings=settings, checkpoints=checkpoints)
    return report.checked, report.findings
