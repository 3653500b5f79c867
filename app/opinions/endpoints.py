"""REST resources of opinion requests and answers: /api/v1/projects/{id}/opinion-requests…"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status

from app.authorization.rules import Principal
from app.http.dependencies import (
    ActorDep,
    Authorized,
    ClockDep,
    IfMatch,
    PrincipalDep,
    ReadUow,
    SettingsDep,
    WriteUow,
    set_etag,
)
from app.opinions import service
from app.opinions.schemas import OpinionAnswerIn, OpinionAnswerRead, OpinionRequestIn, OpinionRequestRead

router = APIRouter(prefix="/projects/{project_id}", tags=["opinions"], dependencies=[Authorized])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such project or request"},
    409: {"description": "Project closed, request already answered, or concurrent change"},
    422: {"description": "Invalid input"},
}

RequestId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _email_of(request: Request, principal: Principal) -> str | None:
    """The e-mail address of the person behind the request (None for an API key)."""
    if principal.kind != "user":
        return None
    label = principal.label
    return label.partition(":")[2] or None


TOO_MANY = {"description": "Too many requests today for this project, request or address (Retry-After)"}


@router.get(
    "/opinion-requests",
    response_model=list[OpinionRequestRead],
    name="list_opinion_requests",
    summary="List the project's opinion requests (with their answers)",
    responses=PROBLEMS,
)
def list_opinion_requests(project_id: uuid.UUID, uow: ReadUow, clock: ClockDep) -> Any:
    now = clock.now()
    return [service.read_of(r, now) for r in service.list_requests(uow, project_id)]


@router.post(
    "/opinion-requests",
    response_model=OpinionRequestRead,
    status_code=status.HTTP_201_CREATED,
    name="create_opinion_request",
    summary="Ask a stakeholder for a formal opinion (an e-mail with a personal link goes out)",
    responses=PROBLEMS | {412: {"description": "If-Match is stale"}, 429: TOO_MANY},
)
def create_opinion_request(
    project_id: uuid.UUID,
    body: OpinionRequestIn,
    request: Request,
    response: Response,
    uow: WriteUow,
    settings: SettingsDep,
    actor: ActorDep,
    clock: ClockDep,
    if_match: IfMatch,
) -> Any:
    with uow:
        p, req = service.create_request(uow, settings, clock, project_id, body, expected_version=if_match, actor=actor)
        read = service.read_of(req, clock.now())
        version = p.version
    response.headers["Location"] = str(
        request.url_for("get_opinion_request", project_id=project_id, request_id=read.id).path
    )
    set_etag(response, version)
    return read


@router.get(
    "/opinion-requests/{request_id}",
    response_model=OpinionRequestRead,
    name="get_opinion_request",
    summary="One opinion request",
    responses=PROBLEMS,
)
def get_opinion_request(project_id: uuid.UUID, request_id: RequestId, uow: ReadUow, clock: ClockDep) -> Any:
    return service.read_of(service.get_request(uow, project_id, request_id), clock.now())


@router.post(
    "/opinion-requests/{request_id}/revoke",
    response_model=OpinionRequestRead,
    name="revoke_opinion_request",
    summary="Revoke the request's link (it stops working at once)",
    responses=PROBLEMS | {412: {"description": "If-Match is stale"}},
)
def revoke_opinion_request(
    project_id: uuid.UUID,
    request_id: RequestId,
    response: Response,
    uow: WriteUow,
    actor: ActorDep,
    clock: ClockDep,
    if_match: IfMatch,
) -> Any:
    with uow:
        p, req = service.revoke_request(uow, clock, project_id, request_id, expected_version=if_match, actor=actor)
        read = service.read_of(req, clock.now())
        version = p.version
    set_etag(response, version)
    return read


@router.post(
    "/opinion-requests/{request_id}/resend",
    response_model=OpinionRequestRead,
    name="resend_opinion_request",
    summary="Send a new link by e-mail (the previous one stops working)",
    responses=PROBLEMS | {412: {"description": "If-Match is stale"}, 429: TOO_MANY},
)
def resend_opinion_request(
    project_id: uuid.UUID,
    request_id: RequestId,
    response: Response,
    uow: WriteUow,
    settings: SettingsDep,
    actor: ActorDep,
    clock: ClockDep,
    if_match: IfMatch,
) -> Any:
    with uow:
        p, req = service.resend_request(
            uow, settings, clock, project_id, request_id, expected_version=if_match, actor=actor
        )
        read = service.read_of(req, clock.now())
        version = p.version
    set_etag(response, version)
    return read


@router.post(
    "/opinion-requests/{request_id}/answer",
    response_model=OpinionAnswerRead,
    status_code=status.HTTP_201_CREATED,
    name="answer_opinion_request",
    summary="Answer a request addressed to your own e-mail address, from your account",
    responses=PROBLEMS | {403: {"description": "The request is addressed to someone else"}},
)
def answer_opinion_request(
    project_id: uuid.UUID,
    request_id: RequestId,
    body: OpinionAnswerIn,
    request: Request,
    uow: WriteUow,
    principal: PrincipalDep,
    actor: ActorDep,
    clock: ClockDep,
) -> Any:
    with uow:
        answer = service.answer_from_account(
            uow,
            clock,
            project_id,
            request_id,
            email=_email_of(request, principal),
            verdict=body.verdict,
            comment=body.comment,
            actor=actor,
        )
        return OpinionAnswerRead.model_validate(answer)


@router.get(
    "/opinion-answers",
    response_model=list[OpinionAnswerRead],
    name="list_opinion_answers",
    summary="Every answer given to the project's opinion requests (none is ever edited)",
    responses=PROBLEMS,
)
def list_opinion_answers(project_id: uuid.UUID, uow: ReadUow) -> Any:
    return [OpinionAnswerRead.model_validate(a) for a in service.list_answers(uow, project_id)]
