"""Service functions: one transaction each. Routers parse and authorise, the workflow decides,
repositories persist state, event and outbox together, and only the unit of work commits."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from functools import cache

from app.authorization.rules import ProjectAccess
from app.core.clock import Actor, Clock
from app.core.errors import NotFound, PreconditionFailed
from app.core.unit_of_work import UnitOfWork
from app.evidence.registry import snapshot, snapshot_of_rows
from app.observability.metrics import count_transition
from app.projects import sort_keys
from app.projects.models import Event, Project
from app.projects.service import ProjectLike, plan_of
from app.transitions import store
from app.transitions.schemas import TransitionBody, TransitionsRead, TriggerRead, UnmetRead
from app.transitions.store import ProjectRecord
from workflow import deadlines as dl
from workflow import machine as wf
from workflow.effects import Dates, effect_of
from workflow.errors import DomainError
from workflow.history import RecordedTransition, replay
from workflow.vocabulary import CONSULTANT_ONLY, TRIGGER_LABELS, Kind, State, Trigger


# --- transitions --------------------------------------------------------------------------------
def dates_of(p: ProjectLike) -> Dates:
    """The project's dates as the domain sees them (workflow.effects)."""
    return Dates(
        State(p.state),
        p.state_entered_on,
        p.last_transition_on,
        p.suspended_since,
        p.labelled_on,
        p.closed_on,
    )


def flow_of(p: ProjectLike) -> wf.Flow:
    return wf.Flow(p.state, p.suspended_since is not None, p.last_transition_on)


@cache
def _reads_of_trigger(trigger: Trigger) -> frozenset[str]:
    return frozenset().union(*(wf.reads_of(trigger.value, s.value) for s in State))


def _reads(trigger: str) -> frozenset[str]:
    """What the guards of `trigger` read, from any state (a trigger fired from a state it is not
    defined from is refused before any guard runs: reading its facts anyway costs nothing more). Cached
    per known trigger only: the path parameter is anyone's text, and an unbounded cache keyed by it would
    grow with every new string sent."""
    try:
        known = Trigger(trigger)
    except ValueError:
        return frozenset()
    return _reads_of_trigger(known)


def fire_transition(
    uow: UnitOfWork,
    project_id: uuid.UUID,
    trigger: str,
    body: TransitionBody,
    *,
    expected_version: int | None,
    actor: Actor,
    clock: Clock,
    access: ProjectAccess | None = None,
) -> ProjectRecord:
    """Fire `trigger` on the project: the one transition path (API, pages, imports, demo, generator).

    One locked read (the row, its chain's tail, its pauses and the facts the trigger's guards read,
    app/transitions/store.py), the workflow decides, then the Core writes and one commit. Returns the
    project's row as written (the answer is built from it). `access`: the caller's rule on the project,
    applied to the region the locked read returns before anything else (404 / 403, nothing written);
    None: the caller checked it already."""
    locked = store.lock(uow, project_id, _reads(trigger))
    if access is not None:
        access.check(project_id, locked.project.region if locked is not None else None)
    if locked is None:
        raise NotFound("Projet introuvable.")
    p = locked.project
    if expected_version is not None and expected_version != p.version:
        raise PreconditionFailed(expected_version, p.version)
    try:
        outcome = wf.fire(
            flow_of(p),
            trigger,
            snapshot_of_rows(Kind(p.kind), locked.facts),
            today=clock.today(),
            effective_on=body.effective_on,
            reason=body.reason,
        )
    except DomainError:
        count_transition(trigger, "refused")
        raise
    when = outcome.effective_on
    effect = effect_of(dates_of(p), outcome)
    suspensions = locked.suspensions
    if effect.suspension_opened:
        suspensions = [*suspensions, dl.Suspension(when, None)]
    if effect.suspension_closed and locked.open_suspension is not None:
        suspensions = list(suspensions)
        suspensions[locked.open_suspension] = dl.Suspension(suspensions[locked.open_suspension].start, when)
    after = effect.after
    idx = dl.deadline_index(
        started_on=p.started_on,
        state=after.state,
        state_entered_on=after.state_entered_on,
        suspensions=suspensions,
        plan=plan_of(p),
    )
    now = clock.now()
    written = replace(
        p,
        state=after.state.value,
        state_entered_on=after.state_entered_on,
        last_transition_on=after.last_transition_on,
        suspended_since=after.suspended_since,
        labelled_on=after.labelled_on,
        closed_on=after.closed_on,
        closed_reason=effect.closed_reason if after.state == State.ABANDONNEE else p.closed_reason,
        horizon_on=idx.horizon_on,
        step_due_on=idx.step_due_on,
        projected_label_on=idx.projected_label_on,
        version=p.version + 1,
        updated_at=now,
    )
    # the stored sort keys: for today, or the portfolio's day if later (app.projects.sort_keys.day_for)
    written = replace(written, **sort_keys.dated_keys(written, sort_keys.day_for(clock.today(), locked.keys_day)))
    store.write(
        uow,
        p,
        written,
        {
            "seq": written.version,
            "type": "project.transitioned",
            "trigger": outcome.trigger.value,
            "from_state": outcome.from_state.value,
            "to_state": outcome.to_state.value,
            "effective_on": when,
            "recorded_at": now,
            "actor": actor.label,
            "reason": outcome.reason,
            "data": {"suspended": outcome.suspended},
        },
        last_hash=locked.last_hash,
        pause_opened=(when, outcome.reason or "") if effect.suspension_opened else None,
        pause_closed=(when, outcome.reason) if effect.suspension_closed else None,
    )
    uow.commit()
    count_transition(outcome.trigger.value, "done")
    return written


def transitions_view(p: Project, today: date | None = None) -> TransitionsRead:
    """Every trigger from the project's state and what it misses, judged as of `today` (the default
    effective date: evidence dated later does not count yet). None: everything recorded counts."""
    views = wf.available(flow_of(p), snapshot(p, wf.reads_from(p.state)), as_of=today)
    return TransitionsRead(
        state=State(p.state),
        suspended=p.suspended_since is not None,
        version=p.version,
        triggers=[
            TriggerRead(
                trigger=v.trigger,
                label=TRIGGER_LABELS[v.trigger],
                to_state=v.dest,
                allowed=v.allowed,
                reason_required=v.reason_required,
                consultant_only=v.trigger in CONSULTANT_ONLY,
                unmet=[UnmetRead(code=u.code, message=u.message) for u in v.unmet],
            )
            for v in views
        ],
    )


def recorded_transitions(events: list[Event]) -> list[RecordedTransition]:
    return [
        RecordedTransition(e.trigger or "", e.from_state or "", e.to_state or "", e.effective_on)
        for e in events
        if e.type == "project.transitioned" and e.effective_on is not None
    ]


def schedule_of(uow: UnitOfWork, p: Project, today: date) -> dl.Schedule:
    history = replay(p.started_on, recorded_transitions(uow.events.of_project(p.id, transitions_only=True)))
    return dl.schedule(
        started_on=p.started_on,
        state=State(p.state),
        periods=history.periods,
        suspensions=history.suspensions,
        plan=plan_of(p),
        today=today,
        labelled_on=p.labelled_on,
    )
