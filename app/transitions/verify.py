"""`regieflow verify`: replay every project's events and report where the stored project differs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from app.core.security import hash_of_event
from app.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.projects.models import Event, Project
from app.projects.service import plan_of
from app.transitions.service import dates_of, recorded_transitions
from workflow import deadlines as dl
from workflow.errors import DomainError
from workflow.history import replay


@dataclass
class Finding:
    project_id: uuid.UUID
    name: str
    problems: list[str] = field(default_factory=list)


def _d(v: date | None) -> str:
    return v.isoformat() if v else "—"


def check_project(uow: UnitOfWork, p: Project) -> list[str]:
    """Every way the stored project can disagree with its own events, in words (empty: it agrees)."""
    events = uow.events.of_project(p.id)
    problems = _check_chain(p, events)
    if not events or events[0].type != "project.created":
        return [*problems, "first event is not project.created"]
    problems += _check_creation_and_plan(p, events)
    replayed, replays = _check_replay(p, events)
    problems += replayed
    if not replays:
        return problems  # the history itself is wrong: the rest would only repeat it
    missing = uow.events.count_without_outbox(p.id)
    if missing:
        problems.append(f"{missing} event(s) without their outbox message")
    return problems


def _check_chain(p: Project, events: list[Event]) -> list[str]:
    """Sequence numbers 1..n, the version equal to n, and an unbroken hash chain."""
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
        if e.hash != hash_of_event(e):
            problems.append(f"event {e.seq}: content does not match its hash (edited behind the service's back?)")
            break
        prev = e.hash
    return problems


def _check_creation_and_plan(p: Project, events: list[Event]) -> list[str]:
    """The start date the creation event gives, and the plan after the last re-plan."""
    problems: list[str] = []
    created = events[0].data
    if created.get("started_on") != p.started_on.isoformat():
        problems.append(f"started_on {_d(p.started_on)} but the creation event says {created.get('started_on')}")
    plan = created.get("plan") or {}
    for e in events:
        if e.type == "plan.changed":
            plan = e.data.get("after") or plan
    if plan != plan_of(p).as_dict():
        problems.append(f"plan {plan_of(p).as_dict()} differs from the events' plan {plan}")
    return problems


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
    idx = dl.deadline_index(
        started_on=p.started_on,
        state=r.state,
        state_entered_on=r.state_entered_on,
        suspensions=r.suspensions,
        plan=plan_of(p),
    )
    for name in ("horizon_on", "step_due_on", "projected_label_on"):
        if getattr(p, name) != getattr(idx, name):
            problems.append(f"{name} is {_d(getattr(p, name))} but the events give {_d(getattr(idx, name))}")
    return problems, True


def verify(uows: UnitOfWorkFactory, batch: int = 200) -> tuple[int, list[Finding]]:
    findings: list[Finding] = []
    checked = 0
    with uows(write=False) as uow:
        ids = uow.projects.ids_in_creation_order()
        for start in range(0, len(ids), batch):
            for p in uow.projects.with_suspensions(ids[start : start + batch]):
                checked += 1
                problems = check_project(uow, p)
                if problems:
                    findings.append(Finding(p.id, p.name, problems))
            uow.session.expunge_all()  # a batch at a time in memory
    return checked, findings
