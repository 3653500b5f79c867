"""GET /projects/{id}/forecast: the history-based forecast beside the plan's projection."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from app.forecasts.schemas import ForecastRead
from app.forecasts.service import forecast_for
from app.http.dependencies import Authorized, ClockDep, ReadUow, json_of

router = APIRouter(prefix="/projects", tags=["projects"], dependencies=[Authorized])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such project"},
    422: {"description": "Invalid input"},
}


@router.get(
    "/{project_id}/forecast",
    response_model=ForecastRead,
    responses=PROBLEMS,
    summary="History-based forecast of the label date (P50, P80, sample size) beside the plan's projection",
    description="From the actual durations of the remaining steps in past projects of the same kind and region "
    "(at least 10 samples), else nationally, else the plan (`basis`), conditioned on the time already spent in "
    "the current step. For a late or at-risk project, `why_late` lists the guards unmet longest.",
)
def get_forecast(
    project_id: uuid.UUID,
    uow: ReadUow,
    clock: ClockDep,
) -> Response:
    f = forecast_for(uow, project_id, clock)
    return json_of(f)
