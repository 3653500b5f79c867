"""API schemas (Pydantic v2). Bodies reject unknown fields; every string and list is bounded."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import (
    BaseModel,
    Field,
)

from app.core.schemas import Body, Day, Read, Reason
from app.projects.schemas import PlanRead
from workflow.vocabulary import (
    State,
    Status,
    Trigger,
)


# --- transitions ----------------------------------------------------------------------------
class TransitionBody(Body):
    effective_on: Day | None = Field(
        None, description="Default: today (Europe/Paris). Never in the future, never before the previous transition."
    )
    reason: Reason | None = Field(None, description="Required for backward moves, abandon, suspend and resume.")


class UnmetRead(BaseModel):
    code: str
    message: str


class TriggerRead(BaseModel):
    trigger: Trigger
    label: str
    to_state: State
    allowed: bool
    reason_required: bool
    consultant_only: bool
    unmet: list[UnmetRead]


class TransitionsRead(BaseModel):
    state: State
    suspended: bool
    version: int
    triggers: list[TriggerRead]


class EventRead(Read):
    id: int
    seq: int
    type: str
    trigger: str | None
    from_state: str | None
    to_state: str | None
    effective_on: date | None
    recorded_at: datetime
    actor: str | None
    reason: str | None
    data: dict[str, Any]


# --- schedule ---------------------------------------------------------------------------------
class StepScheduleRead(BaseModel):
    step: State
    label: str
    months: int
    planned_start: date
    planned_end: date
    actual_start: date | None
    actual_end: date | None
    current: bool


class ScheduleRead(BaseModel):
    today: date
    started_on: date
    horizon_on: date
    step_due_on: date | None
    projected_label_on: date | None
    status: Status | None
    suspended_since: date | None
    suspended_days: int
    labelled_on: date | None
    within_horizon: bool | None
    plan: PlanRead
    steps: list[StepScheduleRead]


# --- workflow description ---------------------------------------------------------------------
class GuardRead(BaseModel):
    code: str
    message: str


class WorkflowTransitionRead(BaseModel):
    trigger: Trigger
    label: str
    sources: list[State]
    dest: State | None
    guards: list[GuardRead]
    reason_required: bool
    consultant_only: bool


class WorkflowStateRead(BaseModel):
    id: State
    label: str
    step: int | None
    default_months: int | None
    terminal: bool


class WorkflowRead(BaseModel):
    states: list[WorkflowStateRead]
    transitions: list[WorkflowTransitionRead]
    horizon_months: int
    mermaid: str
