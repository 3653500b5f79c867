"""Projects, their transitions, history, schedule and plan."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Request, Response, status

from app import schemas as s
from app import services
from app.api.deps import (
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
from app.api.filters import ProjectFiltersDep

router = APIRouter(prefix="/projects", tags=["projects"], dependencies=[Authorized])

PROBLEMS = {404: {"description": "No such project"}, 409: {"description": "Refused by the workflow"},
            412: {"description": "If-Match is stale"}, 422: {"description": "Invalid input"}}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=s.ProjectRead, responses=PROBLEMS)
def create_project(body: s.ProjectCreate, request: Request, response: Response, uow: WriteUow, actor: ActorDep,
                   clock: ClockDep, settings: SettingsDep, principal: PrincipalDep) -> s.ProjectRead:
    with uow:
        p = services.create_project_as(uow, body, principal, plan=settings.default_plan, actor=actor, clock=clock)
    response.headers["Location"] = str(request.url_for("get_project", project_id=p.id).path)
    set_etag(response, p.version)
    return services.project_read(p, clock.today())


@router.get("", response_model=s.Page[s.ProjectRead])
def list_projects(uow: ReadUow, clock: ClockDep, paging: PagingDep, principal: PrincipalDep,
                  filters: ProjectFiltersDep) -> Response:
    today = clock.today()
    rows, total = uow.projects.search(today=today, visible=principal.visible_condition(), offset=paging.offset,
                                      limit=paging.page_size, **filters.search_args())
    return json_of(s.Page[s.ProjectRead](items=[services.project_read(p, today) for p in rows], total=total,
                                         page=paging.page, page_size=paging.page_size))


@router.get("/{project_id}", response_model=s.ProjectRead, responses={**PROBLEMS, 304: {"description": "Not modified"}})
def get_project(project_id: uuid.UUID, uow: ReadUow, clock: ClockDep,
                if_none_match: Annotated[str | None, Header(max_length=100)] = None) -> Response:
    p = services.get_project(uow, project_id)
    if if_none_match and if_none_match.strip() in (etag(p.version), f"W/{etag(p.version)}", "*"):
        return Response(status_code=304, headers={"ETag": etag(p.version)})
    return json_of(services.project_read(p, clock.today()), version=p.version)


@router.patch("/{project_id}", response_model=s.ProjectRead, responses=PROBLEMS)
def update_project(project_id: uuid.UUID, body: s.ProjectUpdate, response: Response, uow: WriteUow,
                   actor: ActorDep, clock: ClockDep, if_match: IfMatch, principal: PrincipalDep) -> s.ProjectRead:
    if body.region is not None:
        services.check_region(principal, body.region, "placer un projet")
    with uow:
        p = services.update_project(uow, project_id, body, if_match=if_match, actor=actor, clock=clock)
    set_etag(response, p.version)
    return services.project_read(p, clock.today())


@router.put("/{project_id}/plan", response_model=s.ProjectRead, responses=PROBLEMS,
            summary="Re-plan the project's step durations and horizon (audited)")
def replan(project_id: uuid.UUID, body: s.PlanBody, response: Response, uow: WriteUow, actor: ActorDep,
           clock: ClockDep, if_match: IfMatch) -> s.ProjectRead:
    with uow:
        p = services.replan(uow, project_id, body, if_match=if_match, actor=actor, clock=clock)
    set_etag(response, p.version)
    return services.project_read(p, clock.today())


@router.get("/{project_id}/transitions", response_model=s.TransitionsRead, responses=PROBLEMS,
            summary="Every trigger from the current state, whether it is allowed, and what is missing")
def list_transitions(project_id: uuid.UUID, uow: ReadUow) -> Response:
    p = services.get_project(uow, project_id)  # transitions_view loads the evidence its guards read
    return json_of(services.transitions_view(p), version=p.version)


@router.post("/{project_id}/transitions/{trigger}", response_model=s.ProjectRead, responses=PROBLEMS,
             summary="Fire a trigger")
def fire_transition(project_id: uuid.UUID, trigger: Annotated[str, Path(max_length=40)], uow: WriteUow,
                    actor: ActorDep, clock: ClockDep, if_match: IfMatch,
                    body: Annotated[s.TransitionBody | None, Body()] = None) -> Response:
    with uow:
        p = services.fire_transition(uow, project_id, trigger, body or s.TransitionBody(), if_match=if_match,
                                     actor=actor, clock=clock)
    return json_of(services.project_read(p, clock.today()), version=p.version)


@router.get("/{project_id}/events", response_model=s.Page[s.EventRead], responses=PROBLEMS,
            summary="The project's history, oldest first")
def list_events(project_id: uuid.UUID, uow: ReadUow, paging: PagingDep) -> Response:
    services.get_project(uow, project_id)
    rows, total = uow.events.page(project_id, offset=paging.offset, limit=paging.page_size)
    return json_of(s.Page[s.EventRead](items=[s.EventRead.model_validate(e) for e in rows], total=total,
                                       page=paging.page, page_size=paging.page_size))


@router.get("/{project_id}/schedule", response_model=s.ScheduleRead, responses=PROBLEMS,
            summary="Plan versus actual per step, horizon, projection and status")
def get_schedule(project_id: uuid.UUID, uow: ReadUow, clock: ClockDep) -> Response:
    p = services.get_project(uow, project_id)
    sch = services.schedule_of(uow, p, clock.today())
    return json_of(s.ScheduleRead(
        today=sch.today, started_on=sch.started_on, horizon_on=sch.horizon_on, step_due_on=sch.step_due_on,
        projected_label_on=sch.projected_label_on, status=sch.status, suspended_since=sch.suspended_since,
        suspended_days=sch.suspended_days, labelled_on=sch.labelled_on, within_horizon=sch.within_horizon,
        plan=s.PlanRead(**sch.plan.as_dict()),
        steps=[s.StepScheduleRead(step=x.step, label=x.label, months=x.months, planned_start=x.planned_start,
                                  planned_end=x.planned_end, actual_start=x.actual_start, actual_end=x.actual_end,
                                  current=x.current) for x in sch.steps],
    ))
