"""The grid on the pages (French): the project page shows it (templates/_project_grid.html, from
`grid_context`), the rows are recorded through the evidence forms (/projets/{id}/preuves/self-assessments,
…/expertise-assessments, …/reservations), and the project group reports what it did about a
reservation here. Same service and same refusals as the API."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from app.assessments.schemas import ReservationResponseIn
from app.assessments.service import grid_of, report_on_reservation
from app.core.errors import NotFound
from app.http.dependencies import actor_of, unit_of_work
from app.projects.models import Project
from app.web.forms import form_version, translate
from app.web.templating import FLASH_MESSAGES, PageRedirect, PageRoute, PageUser
from workflow.errors import InvalidInput
from workflow.vocabulary import CONDITION_LABELS, EXPERT_LEVEL_LABELS, SELF_LEVEL_LABELS, ExpertLevel, SelfLevel

router = APIRouter(include_in_schema=False, route_class=PageRoute)

FLASH_MESSAGES.update(
    {"reserve-reponse": "Votre réponse à la réserve est enregistrée ; un consultant pourra la lever."}
)


def _id(value: str, cls: Any) -> Any:
    try:
        return cls(value)
    except ValueError:
        raise NotFound("Page introuvable.") from None


def grid_context(p: Project) -> dict[str, Any]:
    """What templates/_project_grid.html shows: one line per condition, and the facts beside it."""
    grid = grid_of(p)
    lines = []
    for line in grid.lines:
        own = line.self_assessment
        rating = line.expertise_assessment
        lines.append(
            {
                "condition": line.condition.value,
                "label": CONDITION_LABELS[line.condition],
                "self_level": SELF_LEVEL_LABELS[SelfLevel(own.level)] if own else None,
                "self_comment": own.comment if own else None,
                "self_on": own.assessed_on if own else None,
                "self_count": len(line.history),
                "expert_level": EXPERT_LEVEL_LABELS[ExpertLevel(rating.level)] if rating else None,
                "expert_comment": rating.comment if rating else None,
                # plain values: the page renders after the unit of work has closed
                "reservations": [
                    {
                        name: getattr(r, name)
                        for name in (
                            "id",
                            "description",
                            "response",
                            "responded_on",
                            "lifted_on",
                            "lifted_how",
                            "lifted_by",
                        )
                    }
                    for r in line.reservations
                ],
            }
        )
    return {
        "lines": lines,
        "latest_expertise_id": grid.latest_expertise_id,
        "complete": grid.complete,
        "open_reservations": grid.open_reservations,
        "facts": grid.facts,
    }


@router.post("/projets/{project_id}/reserves/{item}/reponse", name="page_reservation_response")
def reservation_response(
    request: Request,
    project_id: str,
    item: str,
    principal: PageUser,
    response: Annotated[str, Form()] = "",
    responded_on: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
) -> Response:
    pid, item_id = _id(project_id, uuid.UUID), _id(item, int)
    if not 1 <= item_id <= 2**31 - 1:
        raise NotFound("Page introuvable.")
    try:
        body = ReservationResponseIn.model_validate(
            {"response": response, "responded_on": responded_on.strip() or None}
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error.get("loc") else None
        raise InvalidInput(translate(error), field) from None
    with unit_of_work(request) as uow:
        report_on_reservation(
            uow,
            pid,
            item_id,
            body,
            expected_version=form_version(version),
            actor=actor_of(request),
            clock=request.app.state.clock,
        )
    raise PageRedirect(f"/projets/{pid}?ok=reserve-reponse#grille")
