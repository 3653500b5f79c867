"""API schemas (Pydantic v2). Bodies reject unknown fields; every string and list is bounded."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    Field,
    StringConstraints,
)

from app.core.schemas import Body, Day, Int, Name, Read, Text
from app.reference.schemas import DepartementCode, RegionName
from workflow.vocabulary import (
    Conventionnement,
    Initiator,
    Kind,
    State,
    Status,
)


# --- projects ---------------------------------------------------------------------------------
class ProjectCreate(Body):
    name: Name
    kind: Kind
    region: RegionName
    initiator: Initiator | None = None
    departement: DepartementCode | None = None
    conventionnement: Conventionnement = Conventionnement.AUCUN
    lead_name: Name | None = None
    description: Text | None = None
    started_on: Day | None = Field(
        None, description="Day the groupe projet started (default: today, never in the future)."
    )


class ProjectUpdate(Body):
    name: Name | None = None
    kind: Kind | None = None
    region: RegionName | None = None
    initiator: Initiator | None = None
    departement: DepartementCode | None = None
    conventionnement: Conventionnement | None = None
    lead_name: Name | None = None
    description: Text | None = None


class PlanBody(Body):
    step_months: dict[State, Annotated[Int, Field(ge=1, le=120)]] = Field(
        ..., description="Months for each of the six steps (all six must be given).", max_length=6
    )
    horizon_months: Int = Field(..., ge=1, le=240)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class PlanRead(BaseModel):
    step_months: dict[str, int]
    horizon_months: int


class ProjectRead(Read):
    id: uuid.UUID
    name: str
    kind: Kind
    region: str
    initiator: Initiator | None
    departement: str | None
    conventionnement: Conventionnement
    lead_name: str | None
    description: str | None
    state: State
    state_label: str
    suspended: bool
    suspended_since: date | None
    started_on: date
    state_entered_on: date
    last_transition_on: date
    labelled_on: date | None
    closed_on: date | None
    closed_reason: str | None
    horizon_on: date
    step_due_on: date | None
    projected_label_on: date | None
    status: Status | None
    within_horizon: bool | None
    plan: PlanRead
    version: int
    created_at: datetime
    updated_at: datetime
