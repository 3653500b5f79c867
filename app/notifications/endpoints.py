"""The current user's notifications: /api/v1/notifications (a key has none: an empty list)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from app.core.errors import NotFound
from app.http.dependencies import Authorized, ClockDep, PrincipalDep, ReadUow, WriteUow
from app.notifications import service
from app.notifications.schemas import MarkedRead, NotificationOut

router = APIRouter(prefix="/notifications", tags=["notifications"], dependencies=[Authorized])

NotificationId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get(
    "",
    response_model=list[NotificationOut],
    name="list_notifications",
    summary="Your notifications, newest first (an API key has none)",
)
def list_notifications(
    uow: ReadUow,
    principal: PrincipalDep,
    unread: Annotated[bool, Query(description="Only those not read yet.")] = False,
) -> Any:
    if principal.kind != "user" or principal.id is None:
        return []
    return [NotificationOut.model_validate(n) for n in service.of_user(uow, principal.id, unread_only=unread)]


@router.post(
    "/read",
    response_model=MarkedRead,
    name="mark_all_notifications_read",
    summary="Mark all your notifications read",
)
def mark_all_read(uow: WriteUow, principal: PrincipalDep, clock: ClockDep) -> Any:
    if principal.kind != "user" or principal.id is None:
        return MarkedRead(marked=0)
    with uow:
        return MarkedRead(marked=service.mark_read(uow, clock, principal.id, None))


@router.post(
    "/{notification_id}/read",
    response_model=MarkedRead,
    name="mark_notification_read",
    summary="Mark one of your notifications read",
    responses={404: {"description": "No such notification of yours"}},
)
def mark_read(notification_id: NotificationId, uow: WriteUow, principal: PrincipalDep, clock: ClockDep) -> Any:
    with uow:
        if (
            principal.kind != "user"
            or principal.id is None
            or not service.exists_for(uow, principal.id, notification_id)
        ):
            raise NotFound("Notification introuvable.")
        return MarkedRead(marked=service.mark_read(uow, clock, principal.id, notification_id))
