"""Bulk import of existing projects with their history (see app/exchange/bulk_import.py and README)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.exchange.schemas import ImportReport, ImportRequest
from app.http.dependencies import ActorDep, Authorized, ClockDep, PrincipalDep, SettingsDep, uow_factory

router = APIRouter(prefix="/imports", tags=["imports"], dependencies=[Authorized])


@router.post(
    "/projects",
    response_model=ImportReport,
    name="import_projects",
    summary="Import projects with their evidence and transitions, replayed through the workflow",
    description="Each project is replayed day by day through the same services and guards as the API, in "
    "its own transaction: it is imported whole or refused without a trace. The answer reports, "
    "per project, `imported` (with its id, state and version) or `refused` with the reason (unmet "
    "guards, invalid fields, and the step that failed). A project outside your regions, or an "
    "expertise or label step without the consultant right, refuses the whole request (403).",
    responses={403: {"description": "A project outside your reach"}, 422: {"description": "Invalid envelope"}},
)
def import_projects(
    body: ImportRequest,
    request: Request,
    actor: ActorDep,
    clock: ClockDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    dry_run: Annotated[
        bool, Query(description="Check and replay everything, then roll back: nothing is kept.")
    ] = False,
) -> ImportReport:
    from app.exchange import bulk_import  # lazy: only this route needs it, not the start (issue 17)

    items = [p.model_dump(exclude_unset=True) for p in body.projects]
    bulk_import.check_access(items, principal)
    return bulk_import.import_projects(
        uow_factory(request),
        items,
        default_plan=settings.default_plan,
        actor=actor,
        clock=clock,
        principal=principal,
        dry_run=dry_run,
    )
