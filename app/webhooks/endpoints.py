"""Webhook subscriptions of partner systems, their secrets and their delivery log.

A subscription belongs to the principal that created it: only it (or an admin) sees or changes it;
anyone else gets 404, as for a subscription that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status

from app.core.keys import fernet
from app.core.schemas import Page
from app.http.dependencies import Authorized, ClockDep, PagingDep, PrincipalDep, ReadUow, SettingsDep, WriteUow
from app.idempotency.secrets import shown_once
from app.projects.models import Event
from app.webhooks import service as wh
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from app.webhooks.schemas import (
    AttemptRead,
    DeliveryAttempts,
    DeliveryRead,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"], dependencies=[Authorized])


Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


SHOWN_ONCE = shown_once(
    "secret",
    advice="Pour un nouveau secret, faites-le renouveler (POST /api/v1/webhooks/{id}/rotate-secret) : "
    "le précédent reste valable 24 heures.",
)


PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such subscription (or not yours)"},
    422: {"description": "Invalid input"},
}


def _read(sub: WebhookSubscription) -> WebhookRead:
    return WebhookRead.model_validate(sub)


def _delivery(d: WebhookDelivery, e: Event) -> DeliveryRead:
    return DeliveryRead(
        id=d.id,
        subscription_id=d.subscription_id,
        message_id=d.message_id,
        event_id=d.event_id,
        event_type=e.type,
        project_id=e.project_id,
        feed_seq=e.feed_seq,
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at,
        last_attempt_at=d.last_attempt_at,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        created_at=d.created_at,
        completed_at=d.completed_at,
    )


@router.post(
    "",
    response_model=WebhookWithSecret,
    status_code=status.HTTP_201_CREATED,
    responses=PROBLEMS,
    name="create_webhook",
    summary="Subscribe to events (the signing secret is shown once)",
    dependencies=[SHOWN_ONCE],
)
def create_webhook(
    body: WebhookCreate,
    request: Request,
    response: Response,
    uow: WriteUow,
    clock: ClockDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> WebhookWithSecret:
    with uow:
        new = wh.create_subscription(
            uow,
            principal,
            url=body.url,
            event_types=list(body.event_types),
            description=body.description,
            now=clock.now(),
            allow_private=settings.webhook_allow_private_targets,
            cipher=fernet(settings),
        )
        out = WebhookWithSecret(**_read(new.subscription).model_dump(), secret=new.secret)
    response.headers["Location"] = str(request.url_for("get_webhook", webhook_id=out.id).path)
    return out


@router.get(
    "", response_model=list[WebhookRead], name="list_webhooks", summary="Your subscriptions (an admin sees every one)"
)
def list_webhooks(uow: ReadUow, principal: PrincipalDep) -> list[WebhookRead]:
    return [_read(sub) for sub in wh.list_subscriptions(uow, principal)]


@router.get("/{webhook_id}", response_model=WebhookRead, responses=PROBLEMS, name="get_webhook")
def get_webhook(webhook_id: Id, uow: ReadUow, principal: PrincipalDep) -> WebhookRead:
    return _read(wh.get_subscription(uow, webhook_id, principal))


@router.patch(
    "/{webhook_id}",
    response_model=WebhookRead,
    responses=PROBLEMS,
    name="update_webhook",
    summary="Change the target, the event types, the description; disable or re-enable",
)
def update_webhook(
    webhook_id: Id, body: WebhookUpdate, uow: WriteUow, clock: ClockDep, settings: SettingsDep, principal: PrincipalDep
) -> WebhookRead:
    changes = body.model_dump(exclude_unset=True)
    with uow:
        sub = wh.update_subscription(
            uow, webhook_id, principal, changes, now=clock.now(), allow_private=settings.webhook_allow_private_targets
        )
        return _read(sub)


@router.delete("/{webhook_id}", status_code=204, responses=PROBLEMS, name="delete_webhook")
def delete_webhook(webhook_id: Id, uow: WriteUow, principal: PrincipalDep) -> Response:
    with uow:
        wh.delete_subscription(uow, webhook_id, principal)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookWithSecret,
    responses=PROBLEMS,
    name="rotate_webhook_secret",
    summary="New signing secret, shown once; the previous one stays valid 24 hours (both sign)",
    dependencies=[SHOWN_ONCE],
)
def rotate_webhook_secret(
    webhook_id: Id, uow: WriteUow, clock: ClockDep, settings: SettingsDep, principal: PrincipalDep
) -> WebhookWithSecret:
    with uow:
        new = wh.rotate_secret(uow, webhook_id, principal, now=clock.now(), cipher=fernet(settings))
        return WebhookWithSecret(**_read(new.subscription).model_dump(), secret=new.secret)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=Page[DeliveryRead],
    responses=PROBLEMS,
    name="list_webhook_deliveries",
    summary="Delivery log, newest first",
)
def list_webhook_deliveries(
    webhook_id: Id,
    uow: ReadUow,
    principal: PrincipalDep,
    paging: PagingDep,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
) -> Page[DeliveryRead]:
    rows, total = wh.deliveries_page(
        uow, webhook_id, principal, status=status_, offset=paging.offset, limit=paging.page_size
    )
    return Page(items=[_delivery(d, e) for d, e in rows], total=total, page=paging.page, page_size=paging.page_size)


@router.get(
    "/deliveries/{delivery_id}/attempts",
    response_model=DeliveryAttempts,
    responses=PROBLEMS,
    name="list_webhook_attempts",
    summary="Every attempt of one delivery: status code, duration, error",
)
def list_webhook_attempts(delivery_id: Id, uow: ReadUow, principal: PrincipalDep) -> DeliveryAttempts:
    d, e, attempts = wh.delivery_attempts(uow, delivery_id, principal)
    return DeliveryAttempts(delivery=_delivery(d, e), attempts=[AttemptRead.model_validate(a) for a in attempts])


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryRead,
    status_code=202,
    responses={**PROBLEMS, 409: {"description": "Subscription disabled"}},
    name="redeliver_webhook",
    summary="Send a delivery again, from the start of the retry schedule",
)
def redeliver_webhook(delivery_id: Id, uow: WriteUow, clock: ClockDep, principal: PrincipalDep) -> DeliveryRead:
    with uow:
        d, event = wh.redeliver(uow, delivery_id, principal, now=clock.now())
        return _delivery(d, event)
