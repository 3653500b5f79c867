"""The success-conditions grid over the API: GET …/grid (the five conditions, the group's readings,
the latest expertise's ratings, the reservations, and the facts beside them) and the group's report
on a reservation. The rows themselves are evidence sub-resources (…/self-assessments,
…/expertise-assessments, …/reservations: app/evidence/endpoints.py)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from app.assessments.schemas import (
    ConditionRead,
    ExpertiseAssessmentRead,
    GridFactsRead,
    GridRead,
    ReservationRead,
    ReservationResponseIn,
    SelfAssessmentRead,
)
from app.assessments.service import GRID_RELATIONS, Grid, grid_of, report_on_reservation
from app.http.dependencies import ActorDep, Authorized, ClockDep, IfMatch, ReadUow, WriteUow, json_of, set_etag
from app.projects.service import get_project
from workflow.vocabulary import CONDITION_LABELS

router = APIRouter(prefix="/projects/{project_id}", tags=["grid"], dependencies=[Authorized])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such project or reservation"},
    409: {"description": "Project closed, or the reservation is already lifted"},
    412: {"description": "If-Match is stale"},
    422: {"description": "Invalid input"},
}
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def grid_read(grid: Grid) -> GridRead:
    f = grid.facts
    return GridRead(
        conditions=[
            ConditionRead(
                condition=line.condition,
                label=CONDITION_LABELS[line.condition],
                self_assessment=SelfAssessmentRead.model_validate(line.self_assessment)
                if line.self_assessment is not None
                else None,
                self_history=[SelfAssessmentRead.model_validate(a) for a in line.history],
                expertise_assessment=ExpertiseAssessmentRead.model_validate(line.expertise_assessment)
                if line.expertise_assessment is not None
                else None,
                reservations=[ReservationRead.model_validate(r) for r in line.reservations],
            )
            for line in grid.lines
        ],
        latest_expertise_id=grid.latest_expertise_id,
        complete=grid.complete,
        open_reservations=grid.open_reservations,
        facts=GridFactsRead(
            board_members=f.board_members,
            board_habitants=f.board_habitants,
            habitant_share=f.habitant_share,
            market_total=f.market_total,
            market_from_board_buyers=f.market_from_board_buyers,
            board_buyer_share=f.board_buyer_share,
            board_buyers=list(f.board_buyers),
            hires_with_home=f.hires_with_home,
            hires_in_territory=f.hires_in_territory,
        ),
    )


@router.get(
    "/grid",
    response_model=GridRead,
    name="get_grid",
    summary="The label's success conditions: self-assessment, the expertise's ratings, reservations, facts",
    responses={404: PROBLEMS[404]},
)
def get_grid(project_id: uuid.UUID, uow: ReadUow) -> Response:
    p = get_project(uow, project_id, with_evidence=GRID_RELATIONS)
    return json_of(grid_read(grid_of(p)), version=p.version)


@router.put(
    "/reservations/{item_id}/response",
    response_model=ReservationRead,
    name="report_reservation",
    summary="The project group reports what it did about a reservation (lifting it is a consultant's PATCH)",
    responses=PROBLEMS,
)
def report_reservation(
    project_id: uuid.UUID,
    item_id: ItemId,
    body: ReservationResponseIn,
    response: Response,
    uow: WriteUow,
    actor: ActorDep,
    clock: ClockDep,
    if_match: IfMatch,
) -> Any:
    with uow:
        p, row = report_on_reservation(
            uow, project_id, item_id, body, expected_version=if_match, actor=actor, clock=clock
        )
    set_etag(response, p.version)
    return ReservationRead.model_validate(row)
