"""The workflow description and the health check."""

from __future__ import annotations

from fastapi import APIRouter

from app.http.dependencies import Authorized, SettingsDep
from app.transitions.schemas import GuardRead, WorkflowRead, WorkflowStateRead, WorkflowTransitionRead
from workflow import machine as wf
from workflow.vocabulary import (
    CONSULTANT_ONLY,
    REASON_REQUIRED,
    STATE_LABELS,
    STEPS,
    TERMINAL,
    TRIGGER_LABELS,
    State,
    Trigger,
)

router = APIRouter(tags=["workflow"], dependencies=[Authorized])


def describe(step_months: dict[str, int], horizon_months: int) -> WorkflowRead:
    states = [
        WorkflowStateRead(
            id=st,
            label=STATE_LABELS[st],
            step=STEPS.index(st) + 1 if st in STEPS else None,
            default_months=step_months.get(st.value),
            terminal=st in TERMINAL,
        )
        for st in State
    ]
    transitions = []
    for name, event in wf.MACHINE.events.items():
        t = Trigger(name)
        sources = [State(src) for src, trs in event.transitions.items() if trs]
        first = next(iter(event.transitions.values()))[0]
        guards = wf.guards_of(t, sources[0].value)
        transitions.append(
            WorkflowTransitionRead(
                trigger=t,
                label=TRIGGER_LABELS[t],
                sources=sources,
                dest=State(first.dest) if first.dest else None,
                guards=[GuardRead(code=g.code, message=g.message) for g in guards],
                reason_required=t in REASON_REQUIRED,
                consultant_only=t in CONSULTANT_ONLY,
            )
        )
    return WorkflowRead(states=states, transitions=transitions, horizon_months=horizon_months, mermaid=wf.mermaid())


@router.get(
    "/workflow",
    response_model=WorkflowRead,
    summary="States, triggers, guards (codes and messages), default durations and a Mermaid diagram",
)
def get_workflow(settings: SettingsDep) -> WorkflowRead:
    return describe(settings.step_months, settings.horizon_months)
