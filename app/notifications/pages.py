"""Pages: the notifications list (/notifications, mark as read) and the header's unread counter."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.authorization.rules import Principal
from app.core.clock import Clock
from app.core.errors import NotFound
from app.core.inputs import ascii_id
from app.http.dependencies import unit_of_work
from app.notifications import service
from app.web.charts import date_fr
from app.web.templating import FLASH_MESSAGES, PageRoute, PageUser, render, templates

router = APIRouter(route_class=PageRoute)

FLASH_MESSAGES.update({"notifications-lues": "Les notifications sont marquées comme lues."})


def unread_notifications(request: Request) -> int:
    """The header's counter (a template global; 0 for anyone but a signed-in person)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None or principal.kind != "user" or principal.id is None:
        return 0
    try:
        with unit_of_work(request, write=False) as uow:
            return service.unread_count(uow, principal.id)
    except Exception:  # the header never breaks a page (a database without migration 0009, say)
        return 0


templates.env.globals["unread_notifications"] = unread_notifications


@router.get("/notifications", name="page_notifications")
def page_notifications(request: Request, principal: PageUser) -> Response:
    clock: Clock = request.app.state.clock
    items: list[dict[str, Any]] = []
    if principal.kind == "user" and principal.id is not None:
        with unit_of_work(request, write=False) as uow:
            for n in service.of_user(uow, principal.id, limit=200):
                items.append(
                    {
                        "id": n.id,
                        "text": n.text,
                        "href": n.href,
                        "on": date_fr(n.created_at.astimezone(clock.tz).date()),
                        "read": n.read_at is not None,
                    }
                )
    return render(request, "notifications/list.html", {"items": items, "here": "notifications"})


@router.post("/notifications/lues", name="page_notifications_read_all")
def page_notifications_read_all(request: Request, principal: PageUser) -> Response:
    if principal.kind == "user" and principal.id is not None:
        with unit_of_work(request) as uow:
            service.mark_read(uow, request.app.state.clock, principal.id, None)
    return RedirectResponse("/notifications?ok=notifications-lues", status_code=303)


@router.post("/notifications/{notification_id}/lue", name="page_notification_read")
def page_notification_read(request: Request, notification_id: str, principal: PageUser) -> Response:
    nid = ascii_id(notification_id)
    with unit_of_work(request) as uow:
        if nid is None or principal.id is None or not service.exists_for(uow, principal.id, nid):
            raise NotFound("Notification introuvable.")
        service.mark_read(uow, request.app.state.clock, principal.id, nid)
    return RedirectResponse("/notifications", status_code=303)
