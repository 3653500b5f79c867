"""API schemas of the forecasts (Pydantic v2)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from workflow.forecast import Basis
from workflow.vocabulary import State, Status


class StepEstimateRead(BaseModel):
    step: State
    sample_size: int = Field(description="Past projects this step's estimate rests on.")
    p50_days: float = Field(description="Median days (the current step: what remains, given the time spent).")
    p80_days: float
    basis: Basis = Field(
        description="Where this step's durations come from: kind_region, national, or plan (fewer than 10 past "
        "projects completed it: the plan's months, sample_size 0)."
    )


class UnmetSinceRead(BaseModel):
    """A guard of the current step's forward move, unmet now, and since when (why late)."""

    code: str
    message: str
    unmet_since: date
    days: int


class ForecastRead(BaseModel):
    project_id: uuid.UUID
    as_of: date
    state: State
    current_step: State | None = Field(description="None once labelled or abandoned.")
    days_in_step: int | None = Field(description="Days lived in the current step (every visit, pauses excluded).")
    horizon_on: date
    plan_label_on: date | None = Field(description="The plan-based projection (projected_label_on).")
    status: Status | None
    basis: Basis | None = Field(
        description="kind_region (projects of the same kind and region), national, or plan (too few past "
        "projects: the plan's projection stands); None for a closed project."
    )
    sample_size: int = Field(description="Past projects the forecast rests on (0 on the plan basis).")
    p50_label_on: date | None
    p80_label_on: date | None
    p80_after_horizon: bool | None
    message: str = Field(description="In French: what the forecast rests on, or why it falls back to the plan.")
    steps: list[StepEstimateRead]
    why_late: list[UnmetSinceRead] = Field(
        description="For a late or at-risk project: the unmet guards of its current step, unmet longest first."
    )
    computed_at: datetime | None = Field(description="When the step distributions were computed.")
