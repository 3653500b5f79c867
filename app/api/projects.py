"""Projects, their transitions, history, schedule and plan."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Header, Path, Query, Request, Response, status

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
    set_etag,
)
from app.authz import Principal
from app.errors import Forbidden
from app.repositories import SORTS
from workflow.vocabulary import Kind, State, Status

router = APIRouter(prefix="/projects", tags=["projects"], dependencies=[Authorized])

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL: 422 rather than a 500 from the database
SortKey = Literal[tuple(SORTS) + tuple("-" + k for k in SORTS)]  # type: ignore[valid-type]
PROBLEMS = {404: {"description": "No such project"}, 409: {"description": "Refused by the workflow"},
            412: {"description": "If-Match is stale"}, 422: {"description": "Invalid input"}}


def _check_region(principal: Principal, region: str, what: str) -> None:
    """A principal bound to regions may only put projects there (create one, or move one)."""
    if principal.create_regions is not None and region not in principal.create_regions:
        raise Forbidden(f"Vous ne pouvez {what} que dans vos régions : "
                        + ", ".join(sorted(principal.create_regions)) + ".")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=s.ProjectRead, responses=PROBLEMS)
def create_project(body: s.ProjectCreate, request: Request, response: Response, uow: WriteUow, actor: ActorDep,
                   clock: ClockDep, settings: SettingsDep, principal: PrincipalDep) -> s.ProjectRead:
    _check_region(principal, body.region, "créer de projet")
    with uow:
        # A user who would not see the new project otherwise (a porteur) becomes its porteur.
        owner = principal.id if principal.kind == "user" and not principal.reaches_region(body.region) else None
        p = services.create_project(uow, body, plan=settings.default_plan, actor=actor, clock=clock,
                                    porteur_user_id=owner)
    response.headers["Location"] = str(request.url_for("get_project", project_id=p.id).path)
    set_etag(response, p.version)
    return services.project_read(p, clock.today())


@router.get("", response_model=s.Page[s.ProjectRead])
def list_projects(
    uow: ReadUow, clock: ClockDep, paging: PagingDep, principal: PrincipalDep,
    state: Annotated[list[State], Query(max_length=8)] = [],  # noqa: B006 - FastAPI reads it, never mutates
    kind: Kind | None = None,
    region: Annotated[list[Annotated[str, Query(max_length=100, pattern=NO_NUL)]], Query(max_length=30)] = [],  # noqa: B006
    status_: Annotated[list[Status], Query(alias="status", max_length=3)] = [],  # noqa: B006
    q: Annotated[str | None, Query(max_length=100, pattern=NO_NUL, description="Search in name, region and lead")] = None,
    sort: Annotated[SortKey, Query(description="Sort key; prefix with '-' for descending. 'status' puts "
                                   "late then at-risk projects first.")] = "status",
) -> s.Page[s.ProjectRead]:
    today = clock.today()
    rows, total = uow.projects.search(today=today, visible=principal.visible_condition(), state=[x.value for x in state], kind=kind.value if kind else None,
                                      region=region, status=[x.value for x in status_], q=q, sort=sort,
                                      offset=paging.offset, limit=paging.page_size)
    return s.Page(items=[services.project_read(p, today) for p in rows], total=total, page=paging.page,
                  page_size=paging.page_size)


@router.get("/{project_id}", response_model=s.ProjectRead, responses={**PROBLEMS, 304: {"description": "Not modified"}})
def get_project(project_id: uuid.UUID, response: Response, uow: ReadUow, clock: ClockDep,
                if_none_match: Annotated[str | None, Header(max_length=100)] = None) -> s.ProjectRead | Response:
    p = services.get_project(uow, project_id)
    if if_none_match and if_none_match.strip() in (etag(p.version), f"W/{etag(p.version)}", "*"):
        return Response(status_code=304, headers={"ETag": etag(p.version)})
    set_etag(response, p.version)
    return services.project_read(p, clock.today())


@router.patch("/{project_id}", response_model=s.ProjectRead, responses=PROBLEMS)
def update_project(project_id: uuid.UUID, body: s.ProjectUpdate, response: Response, uow: WriteUow,
                   actor: ActorDep, clock: ClockDep, if_match: IfMatch, principal: PrincipalDep) -> s.ProjectRead:
    if body.region is not None:
        _check_region(principal, body.region, "placer un projet")
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
def list_transitions(project_id: uuid.UUID, response: Response, uow: ReadUow) -> s.TransitionsRead:
    p = services.get_project(uow, project_id, with_evidence=True)
    set_etag(response, p.version)
    return services.transitions_view(p)


@router.post("/{project_id}/transitions/{trigger}", response_model=s.ProjectRead, responses=PROBLEMS,
             summary="Fire a trigger")
def fire_transition(project_id: uuid.UUID, trigger: Annotated[str, Path(max_length=40)], response: Response,
                    uow: WriteUow, actor: ActorDep, clock: ClockDep, if_match: IfMatch,
                    body: Annotated[s.TransitionBody | None, Body()] = None) -> s.ProjectRead:
    with uow:
        p = services.fire_transition(uow, project_id, trigger, body or s.TransitionBody(), if_match=if_match,
                                     actor=actor, clock=clock)
    set_etag(response, p.version)
    return services.project_read(p, clock.today())


@router.get("/{project_id}/events", response_model=s.Page[s.EventRead], responses=PROBLEMS,
            summary="The project's history, oldest first")
def list_events(project_id: uuid.UUID, uow: ReadUow, paging: PagingDep) -> s.Page[s.EventRead]:
    services.get_project(uow, project_id)
    rows, total = uow.events.page(project_id, offset=paging.offset, limit=paging.page_size)
    return s.Page(items=[s.EventRead.model_validate(e) for e in rows], total=total, page=paging.page,
                  page_size=paging.page_size)


@router.get("/{project_id}/schedule", response_model=s.ScheduleRead, responses=PROBLEMS,
            summary="Plan versus actual per step, horizon, projection and status")
def get_schedule(project_id: uuid.UUID, uow: ReadUow, clock: ClockDep) -> s.ScheduleRead:
    p = services.get_project(uow, project_id)
    sch = services.schedule_of(uow, p, clock.today())
    return s.ScheduleRead(
        today=sch.today, started_on=sch.started_on, horizon_on=sch.horizon_on, step_due_on=sch.step_due_on,
        projected_label_on=sch.projected_label_on, status=sch.status, suspended_since=sch.suspended_since,
        suspended_days=sch.suspended_days, labelled_on=sch.labelled_on, within_horizon=sch.within_horizon,
        plan=s.PlanRead(**sch.plan.as_dict()),
        steps=[s.StepScheduleRead(step=x.step, label=x.label, months=x.months, planned_start=x.planned_start,
                                  planned_end=x.planned_end, actual_start=x.actual_start, actual_end=x.actual_end,
                                  current=x.current) for x in sch.steps],
    )
