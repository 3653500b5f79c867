"""`regieflow verify`: replay every project's events and report where the stored project differs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from app.core.security import hash_of_event
from app.projects.models import Event, OutboxMessage, Project
from app.projects.service import plan_of
from app.transitions.service import recorded_transitions
from workflow import deadlines as dl
from workflow.errors import DomainError
from workflow.history import replay
from workflow.vocabulary import State


@dataclass
class Finding:
    project_id: uuid.UUID
    name: str
    problems: list[str] = field(default_factory=list)


def _d(v: date | None) -> str:
    return v.isoformat() if v else "—"


def check_project(session: Session, p: Project) -> list[str]:
    problems: list[str] = []
    events = list(session.scalars(select(Event).where(Event.project_id == p.id).order_by(Event.seq)))
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
        if e.hash != hash_of_event(e):
            problems.append(f"event {e.seq}: content does not match its hash (edited behind the service's back?)")
            break
        prev = e.hash
    if not events or events[0].type != "project.created":
        problems.append("first event is not project.created")
        return problems
    created = events[0].data
    if created.get("started_on") != p.started_on.isoformat():
        problems.append(f"started_on {_d(p.started_on)} but the creation event says {created.get('started_on')}")
    plan = created.get("plan") or {}
    for e in events:
        if e.type == "plan.changed":
            plan = e.data.get("after") or plan
    if plan != plan_of(p).as_dict():
        problems.append(f"plan {plan_of(p).as_dict()} differs from the events' plan {plan}")
    try:
        r = replay(p.started_on, recorded_transitions(events))
    except DomainError as exc:
        problems.append(f"history does not replay: {exc.message}")
        return problems
    expected = {
        "state": r.state.value,
        "suspended_since": r.suspended_since,
        "state_entered_on": r.state_entered_on,
        "last_transition_on": r.last_effective_on,
        "labelled_on": r.labelled_on,
        "closed_on": r.closed_on,
    }
    for name, value in expected.items():
        if getattr(p, name) != value:
            problems.append(f"{name} is {getattr(p, name)} but the events give {value}")
    stored = [dl.Suspension(s.started_on, s.ended_on) for s in p.suspensions]
    if stored != r.suspensions:
        problems.append(f"suspensions {stored} differ from the events' {r.suspensions}")
    idx = dl.deadline_index(
        started_on=p.started_on,
        state=State(r.state),
        state_entered_on=r.state_entered_on,
        suspensions=r.suspensions,
        plan=plan_of(p),
    )
    for name in ("horizon_on", "step_due_on", "projected_label_on"):
        if getattr(p, name) != getattr(idx, name):
            problems.append(f"{name} is {_d(getattr(p, name))} but the events give {_d(getattr(idx, name))}")
    missing = session.scalar(
        select(func.count())
        .select_from(Event)
        .outerjoin(OutboxMessage, OutboxMessage.event_id == Event.id)
        .where(Event.project_id == p.id, OutboxMessage.id.is_(None))
    )
    if missing:
        problems.append(f"{missing} event(s) without their outbox message")
    return problems


def verify(session_factory: sessionmaker[Session], batch: int = 200) -> tuple[int, list[Finding]]:
    findings: list[Finding] = []
    checked = 0
    with session_factory() as session:
        ids = list(session.scalars(select(Project.id).order_by(Project.created_at, Project.id)))
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            projects = session.scalars(
                select(Project).where(Project.id.in_(chunk)).options(selectinload(Project.suspensions))
            )
            for p in projects:
                checked += 1
                problems = check_project(session, p)
                if problems:
                    findings.append(Finding(p.id, p.name, problems))
            session.expunge_all()
    return checked, findings
