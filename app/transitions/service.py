"""Service functions: one transaction each. Routers parse and authorise, the workflow decides,
repositories persist state, event and outbox together, and only the unit of work commits."""

from __future__ import annotations

import uuid
from datetime import date

from app.core.clock import Actor, Clock
from app.core.unit_of_work import UnitOfWork
from app.evidence.registry import snapshot
from app.observability.metrics import count_transition
from app.projects.models import Event, Project, SuspensionRecord
from app.projects.service import load_for_write, plan_of, record_change, refresh_index
from app.transitions.schemas import TransitionBody, TransitionsRead, TriggerRead, UnmetRead
from workflow import deadlines as dl
from workflow import machine as wf
from workflow.effects import Dates, effect_of
from workflow.errors import DomainError
from workflow.history import RecordedTransition, replay
from workflow.vocabulary import CONSULTANT_ONLY, TRIGGER_LABELS, State


# --- transitions --------------------------------------------------------------------------------
def dates_of(p: Project) -> Dates:
    """The project's dates as the domain sees them (workflow.effects)."""
    return Dates(
        State(p.state),
        p.state_entered_on,
        p.last_transition_on,
        p.suspended_since,
        p.labelled_on,
        p.closed_on,
    )


def flow_of(p: Project) -> wf.Flow:
    return wf.Flow(p.state, p.suspended_since is not None, p.last_transition_on)


def fire_transition(
    uow: UnitOfWork,
    project_id: uuid.UUID,
    trigger: str,
    body: TransitionBody,
    *,
    expected_version: int | None,
    actor: Actor,
    clock: Clock,
) -> Project:
    p = load_for_write(uow, project_id, expected_version, allow_closed=True, relations=())
    # Only the evidence this trigger's guards read (a step back, a pause or an abandon reads none):
    # the rows load lazily, inside this transaction, while the project row is locked.
    fields = wf.reads_of(trigger, p.state)
    try:
        outcome = wf.fire(
            flow_of(p),
            trigger,
            snapshot(p, fields),
            today=clock.today(),
            effective_on=body.effective_on,
            reason=body.reason,
        )
    except DomainError:
        count_transition(trigger, "refused")
        raise
    when = outcome.effective_on
    effect = effect_of(dates_of(p), outcome)
    if effect.suspension_opened:
        p.suspensions.append(SuspensionRecord(project_id=p.id, started_on=when, reason=outcome.reason or ""))
    if effect.suspension_closed:
        open_ = next(r for r in p.suspensions if r.ended_on is None)
        open_.ended_on, open_.resume_reason = when, outcome.reason
    after = effect.after
    if effect.step_changed:
        p.state, p.state_entered_on = after.state.value, after.state_entered_on
    p.suspended_since, p.labelled_on, p.closed_on = after.suspended_since, after.labelled_on, after.closed_on
    if after.state == State.ABANDONNEE:
        p.closed_reason = effect.closed_reason
    p.last_transition_on = after.last_transition_on
    refresh_index(p)
    record_change(
        uow,
        p,
        clock,
        actor,
        "project.transitioned",
        trigger=outcome.trigger.value,
        from_state=outcome.from_state.value,
        to_state=outcome.to_state.value,
        effective_on=when,
        reason=outcome.reason,
        data={"suspended": outcome.suspended},
    )
    uow.commit()
    count_transition(outcome.trigger.value, "done")
    return p


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
