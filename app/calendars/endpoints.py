"""Calendar subscriptions: tokens under /api/v1/calendars, and the public feed /calendars/{token}.ics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from app.calendars import service as calendars
from app.calendars.schemas import CalendarCreate, CalendarCreated, CalendarRead
from app.http.dependencies import Authorized, ClockDep, PrincipalDep, ReadUow, WriteUow
from app.idempotency.secrets import shown_once

router = APIRouter(prefix="/calendars", tags=["calendars"], dependencies=[Authorized])


feed_router = APIRouter(tags=["calendars"], dependencies=[Authorized])


Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post(
    "",
    response_model=CalendarCreated,
    status_code=status.HTTP_201_CREATED,
    name="create_calendar",
    summary="Create a calendar subscription token (shown once)",
    responses={404: {"description": "No such project"}, 422: {"description": "Invalid input"}},
    dependencies=[
        shown_once(
            "token",
            "url",
            headers=("Location",),
            advice="Pour un autre jeton, créez-en un nouveau (POST /api/v1/calendars) "
            "et révoquez celui-ci (DELETE /api/v1/calendars/{id}).",
        )
    ],
)
def create_calendar(
    request: Request,
    response: Response,
    uow: WriteUow,
    clock: ClockDep,
    principal: PrincipalDep,
    body: CalendarCreate | None = None,
) -> CalendarCreated:
    body = body or CalendarCreate()
    with uow:
        new = calendars.create_token(uow, principal, project_id=body.project_id, now=clock.now())
        url = str(request.url_for("calendar_feed", token=new.token))
        response.headers["Location"] = url
        return CalendarCreated(**calendars.token_read(new.row), token=new.token, url=url)


@router.get("", response_model=list[CalendarRead], name="list_calendars", summary="Your calendar tokens")
def list_calendars(uow: ReadUow, principal: PrincipalDep) -> list[CalendarRead]:
    return [CalendarRead(**calendars.token_read(r)) for r in calendars.list_tokens(uow, principal)]


@router.delete(
    "/{calendar_id}",
    status_code=204,
    name="revoke_calendar",
    summary="Revoke one of your tokens",
    responses={404: {"description": "No such token of yours"}},
)
def revoke_calendar(calendar_id: Id, uow: WriteUow, clock: ClockDep, principal: PrincipalDep) -> Response:
    with uow:
        calendars.revoke_token(uow, principal, calendar_id, now=clock.now())
    return Response(status_code=204)


@feed_router.get(
    "/calendars/{token}.ics",
    name="calendar_feed",
    response_class=Response,
    summary="iCalendar feed (step ends planned, due dates, horizons); the token is the credential",
    responses={
        200: {
            "content": {"text/calendar": {"schema": {"type": "string"}}},
            "description": "An iCalendar (RFC 5545) document of all-day events.",
        },
        404: {"description": "Unknown or revoked token"},
    },
)
def calendar_feed(token: Annotated[str, Path(max_length=120)], uow: WriteUow, clock: ClockDep) -> Response:
    with uow:  # a writing unit of work: the fetch notes the token's last use
        body = calendars.feed(uow, token, now=clock.now(), today=clock.today())
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, no-cache", "Content-Disposition": 'inline; filename="regieflow.ics"'},
    )
