"""REST resources of the project's thread (/messages) and the consultants' notes (/notes)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response, status

from app.http.dependencies import ActorDep, Authorized, ClockDep, IfMatch, PrincipalDep, ReadUow, WriteUow, set_etag
from app.messages import service
from app.messages.schemas import MessageIn, MessageOut, NoteIn, NoteOut

router = APIRouter(prefix="/projects/{project_id}", tags=["messages"], dependencies=[Authorized])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such project"},
    422: {"description": "Invalid input"},
}
NOTES: dict[int | str, dict[str, Any]] = PROBLEMS | {
    403: {"description": "Notes are for Mouvement consultants and admins only"}
}


@router.get(
    "/messages",
    response_model=list[MessageOut],
    name="list_messages",
    summary="The project's thread (project group and Mouvement), oldest first",
    responses=PROBLEMS,
)
def list_messages(project_id: uuid.UUID, uow: ReadUow) -> Any:
    return [MessageOut.model_validate(m) for m in service.list_messages(uow, project_id)]


@router.post(
    "/messages",
    response_model=MessageOut,
    status_code=status.HTTP_201_CREATED,
    name="post_message",
    summary="Post a message to the project's thread (a `message.posted` event)",
    responses=PROBLEMS | {409: {"description": "Concurrent change"}, 412: {"description": "If-Match is stale"}},
)
def post_message(
    project_id: uuid.UUID,
    body: MessageIn,
    response: Response,
    uow: WriteUow,
    actor: ActorDep,
    clock: ClockDep,
    if_match: IfMatch,
) -> Any:
    with uow:
        p, msg = service.post_message(
            uow, clock, project_id, body.body, document_id=body.document_id, expected_version=if_match, actor=actor
        )
        out = MessageOut.model_validate(msg)
        version = p.version
    set_etag(response, version)
    return out


@router.get(
    "/notes",
    response_model=list[NoteOut],
    name="list_notes",
    summary="Consultant notes (Mouvement consultants and admins only)",
    responses=NOTES,
)
def list_notes(project_id: uuid.UUID, uow: ReadUow, principal: PrincipalDep) -> Any:
    return [NoteOut.model_validate(n) for n in service.list_notes(uow, principal, project_id)]


@router.post(
    "/notes",
    response_model=NoteOut,
    status_code=status.HTTP_201_CREATED,
    name="create_note",
    summary="Write a consultant note (no project event: nothing built on events shows it)",
    responses=NOTES,
)
def create_note(
    project_id: uuid.UUID,
    body: NoteIn,
    request: Request,
    uow: WriteUow,
    principal: PrincipalDep,
    actor: ActorDep,
    clock: ClockDep,
) -> Any:
    with uow:
        note = service.add_note(uow, clock, principal, project_id, body.body, actor=actor)
        return NoteOut.model_validate(note)
