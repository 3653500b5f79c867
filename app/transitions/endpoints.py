"""Projects, their transitions, history, schedule and plan."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Path, Response

from app.core.schemas import Page
from app.http.dependencies import (
    ActorDep,
    Authorized,
    ClockDep,
    IfMatch,
    PagingDep,
    ProjectAccessDep,
    ReadUow,
    WriteUow,
    json_of,
)
from app.projects.endpoints import PROBLEMS
from app.projects.schemas import PlanRead, ProjectRead
from app.projects.service import get_project, project_read
from app.transitions import service as transitions_service
from app.transitions.schemas import EventRead, ScheduleRead, StepScheduleRead, TransitionBody, TransitionsRead
from app.transitions.service import schedule_of, transitions_view

# Sub-resources of a project: same prefix, tag and answers as the project routes.
router = APIRouter(prefix="/projects", tags=["projects"], dependencies=[Authorized])


@router.get(
    "/{project_id}/transitions",
    response_model=TransitionsRead,
    responses=PROBLEMS,
    summary="Every trigger from the current state, whether it is allowed, and what is missing",
)
def list_transitions(project_id: uuid.UUID, uow: ReadUow, clock: ClockDep) -> Response:
    p = get_project(uow, project_id)  # transitions_view loads the evidence its guards read
    return json_of(transitions_view(p, clock.today()), version=p.version)  # as of today, the default date


@router.post(
    "/{project_id}/transitions/{trigger}", response_model=ProjectRead, responses=PROBLEMS, summary="Fire a trigger"
)
def fire_transition(
    project_id: uuid.UUID,
    trigger: Annotated[str, Path(max_length=40)],
    uow: WriteUow,
    actor: ActorDep,
    clock: ClockDep,
    if_match: IfMatch,
    access: ProjectAccessDep,
    body: Annotated[TransitionBody | None, Body()] = None,
) -> Response:
    with uow:  # the access rule on the project is applied to the row the locked read takes (RULE_AT_LOCKED_READ)
        p = transitions_service.fire_transition(
            uow,
            project_id,
            trigger,
            body or TransitionBody(),
            expected_version=if_match,
            actor=actor,
            clock=clock,
            access=access,
        )
    return json_of(project_read(p, clock.today()), version=p.version)


@router.get(
    "/{project_id}/events",
    response_model=Page[EventRead],
    responses=PROBLEMS,
    summary="The project's history, oldest first",
)
def list_events(project_id: uuid.UUID, uow: ReadUow, paging: PagingDep) -> Response:
    get_project(uow, project_id)
    rows, total = uow.events.page(project_id, offset=paging.offset, limit=paging.page_size)
    return json_of(
        Page[EventRead](
            items=[EventRead.model_validate(e) for e in rows], total=total, page=paging.page, page_size=paging.page_size
        )
    )


@router.get(
    "/{project_id}/schedule",
    response_model=ScheduleRead,
    responses=PROBLEMS,
    summary="Plan versus actual per step, horizon, projection and status",
)
def get_schedule(project_id: uuid.UUID, uow: ReadUow, clock: ClockDep) -> Response:
    p = get_project(uow, project_id)
    sch = schedule_of(uow, p, clock.today())
    return json_of(
        ScheduleRead(
            today=sch.today,
            started_on=sch.started_on,
            horizon_on=sch.horizon_on,
            step_due_on=sch.step_due_on,
            projected_label_on=sch.projected_label_on,
            status=sch.status,
            suspended_since=sch.suspended_since,
            suspended_days=sch.suspended_days,
            labelled_on=sch.labelled_on,
            within_horizon=sch.within_horizon,
            plan=PlanRead(**sch.plan.as_dict()),
            steps=[
                StepScheduleRead(
                    step=x.step,
                    label=x.label,
                    months=x.months,
                    planned_start=x.planned_start,
                    planned_end=x.planned_end,
                    actual_start=x.actual_start,
                    actual_end=x.actual_end,
                    current=x.current,
                )
                for x in sch.steps
            ],
        )
    )
