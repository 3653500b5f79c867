"""GET /analytics: the portfolio analytics (consultants and admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from app.analytics.service import AnalyticsRead, analytics
from app.core.unit_of_work import UnitOfWorkFactory
from app.http.dependencies import Authorized, ClockDep, PrincipalDep, ReadUow, json_of, uow_factory

router = APIRouter(tags=["analytics"], dependencies=[Authorized])

PROBLEMS: dict[int | str, dict[str, Any]] = {403: {"description": "Consultants and admins only"}}


@router.get(
    "/analytics",
    response_model=AnalyticsRead,
    responses=PROBLEMS,
    summary="Portfolio analytics: projects by step and status per région, median time per step against the plan, "
    "bottlenecks, labels per year, time-in-step outliers (over the projects and régions the caller reads)",
)
def get_analytics(
    request: Request,
    uow: ReadUow,
    clock: ClockDep,
    principal: PrincipalDep,
    uows: Annotated[UnitOfWorkFactory, Depends(uow_factory)],
) -> Response:
    return json_of(analytics(uow, principal, clock=clock, plan=request.app.state.settings.default_plan))
