"""Projects, their transitions, history, schedule and plan."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status

from app.core.schemas import Page
from app.http.dependencies import (
    ActorDep,
    Authorized,
    ClockDep,
    IfMatch,
    PagingDep,
    PrincipalDep,
    ReadUow,
    SettingsDep,
    WriteUow,
    etag,
    json_of,
    set_etag,
)
from app.projects import service as projects_service
from app.projects.filters import ProjectFiltersDep
from app.projects.repository import AtLeast
from app.projects.schemas import PlanBody, ProjectCreate, ProjectRead, ProjectUpdate
from app.projects.service import check_region, create_project_as, project_read

router = APIRouter(prefix="/projects", tags=["projects"], dependencies=[Authorized])


PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such project"},
    409: {"description": "Refused by the workflow"},
    412: {"description": "If-Match is stale"},
    422: {"description": "Invalid input"},
}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectRead, responses=PROBLEMS)
def create_project(
    body: ProjectCreate,
    request: Request,
    response: Response,
    uow: WriteUow,
    actor: ActorDep,
    clock: ClockDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> ProjectRead:
    with uow:
        p = create_project_as(uow, body, principal, plan=settings.default_plan, actor=actor, clock=clock)
    response.headers["Location"] = str(request.url_for("get_project", project_id=p.id).path)
    set_etag(response, p.version)
    return project_read(p, clock.today())


# A text search (`q`) counts its matches up to this many; beyond, `total` is this number and `total_exact`
# false (the page goes on: ask the next pages as usual).
SEARCH_COUNT_CAP = 10_000


@router.get("", response_model=Page[ProjectRead])
def list_projects(
    uow: ReadUow, clock: ClockDep, paging: PagingDep, principal: PrincipalDep, filters: ProjectFiltersDep
) -> Response:
    today = clock.today()
    rows, total = uow.projects.search(
        today=today,
        visible_to=principal,
        offset=paging.offset,
        limit=paging.page_size,
        count_cap=SEARCH_COUNT_CAP,
        **filters.search_args(),
    )
    return json_of(
        Page[ProjectRead](
            items=[project_read(p, today) for p in rows],
            total=total,
            total_exact=not isinstance(total, AtLeast),
            page=paging.page,
            page_size=paging.page_size,
        )
    )


@router.get("/{project_id}", response_model=ProjectRead, responses={**PROBLEMS, 304: {"description": "Not modified"}})
def get_project(
    project_id: uuid.UUID,
    uow: ReadUow,
    clock: ClockDep,
    if_none_match: Annotated[str | None, Header(max_length=100)] = None,
) -> Response:
    p = projects_service.get_project(uow, project_id)
    if if_none_match and if_none_match.strip() in (etag(p.version), f"W/{etag(p.version)}", "*"):
        return Response(status_code=304, headers={"ETag": etag(p.version)})
    return json_of(project_read(p, clock.today()), version=p.version)


@router.patch("/{project_id}", response_model=ProjectRead, responses=PROBLEMS)
def update_project(
    project_id: uuid.UUID,
    body: ProjectUpdate,
    response: Response,
    uow: WriteUow,
    actor: ActorDep,
    clock: ClockDep,
    if_match: IfMatch,
    principal: PrincipalDep,
) -> ProjectRead:
    if body.region is not None:
        check_region(principal, body.region, "placer un projet")
    with uow:
        p = projects_service.update_project(uow, project_id, body, expected_version=if_match, actor=actor, clock=clock)
    set_etag(response, p.version)
    return project_read(p, clock.today())


@router.put(
    "/{project_id}/plan",
    response_model=ProjectRead,
    responses=PROBLEMS,
    summary="Re-plan the project's step durations and horizon (audited)",
)
def replan(
    project_id: uuid.UUID,
    body: PlanBody,
    response: Response,
    uow: WriteUow,
    actor: ActorDep,
    clock: ClockDep,
    if_match: IfMatch,
) -> ProjectRead:
    with uow:
        p = projects_service.replan(uow, project_id, body, expected_version=if_match, actor=actor, clock=clock)
    set_etag(response, p.version)
    return project_read(p, clock.today())
