"""Repository: webhook subscriptions, their secrets, deliveries and attempts; the outbox they fan out from.

It never commits; the unit of work does. Writes that must not touch objects already loaded in the
session (claims, failure counters, disabling) are single UPDATE statements."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from app.projects.models import Event, OutboxMessage, Project
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSecret, WebhookSubscription


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (Session.execute is typed for SELECTs only)."""
    return cast("CursorResult[Any]", result).rowcount or 0


class WebhookRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- subscriptions ----------------------------------------------------------------------------
    def add(self, subscription: WebhookSubscription) -> None:
        self.session.add(subscription)

    def delete(self, subscription: WebhookSubscription) -> None:
        self.session.delete(subscription)

    def subscription(self, subscription_id: int, *, for_update: bool = False) -> WebhookSubscription | None:
        """One subscription with its secrets; `for_update` locks its row."""
        stmt = (
            select(WebhookSubscription)
            .where(WebhookSubscription.id == subscription_id)
            .options(selectinload(WebhookSubscription.secrets))
        )
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def subscriptions(self, *, owner: str | None) -> list[WebhookSubscription]:
        """Subscriptions with their secrets, oldest first: one owner's (a principal label), or all (None)."""
        stmt = select(WebhookSubscription).options(selectinload(WebhookSubscription.secrets))
        if owner is not None:
            stmt = stmt.where(WebhookSubscription.owner == owner)
        return list(self.session.scalars(stmt.order_by(WebhookSubscription.id)))

    def enabled_subscriptions(self) -> list[WebhookSubscription]:
        return list(
            self.session.scalars(
                select(WebhookSubscription)
                .where(WebhookSubscription.enabled.is_(True))
                .order_by(WebhookSubscription.id)
            )
        )

    def disable(self, subscription_id: int, reason: str, now: datetime) -> None:
        """Disable an enabled subscription (a disabled one keeps its first reason)."""
        self.session.execute(
            update(WebhookSubscription)
            .where(WebhookSubscription.id == subscription_id, WebhookSubscription.enabled.is_(True))
            .values(enabled=False, disabled_at=now, disabled_reason=reason, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    def reset_failures(self, subscription_id: int) -> None:
        self.session.execute(
            update(WebhookSubscription)
            .where(WebhookSubscription.id == subscription_id)
            .values(consecutive_failures=0)
            .execution_options(synchronize_session=False)
        )

    def count_failure(self, subscription_id: int) -> int:
        """One more delivery failed for good; the subscription's count of consecutive ones, as written."""
        return self.session.execute(
            update(WebhookSubscription)
            .where(WebhookSubscription.id == subscription_id)
            .values(consecutive_failures=WebhookSubscription.consecutive_failures + 1)
            .returning(WebhookSubscription.consecutive_failures)
            .execution_options(synchronize_session=False)
        ).scalar_one()

    def all_secrets(self) -> list[WebhookSecret]:
        """Every stored secret, locked (re-encryption under a new key)."""
        return list(self.session.scalars(select(WebhookSecret).order_by(WebhookSecret.id).with_for_update()))

    def purge_expired_secrets(self, now: datetime) -> int:
        """Delete rotated secrets past their overlap; how many went."""
        return _rowcount(
            self.session.execute(
                delete(WebhookSecret).where(WebhookSecret.expires_at.is_not(None), WebhookSecret.expires_at <= now)
            )
        )

    # --- what deliveries carry --------------------------------------------------------------------
    def event(self, event_id: int) -> Event | None:
        return self.session.get(Event, event_id)

    def events(self, event_ids: Iterable[int]) -> dict[int, Event]:
        return {e.id: e for e in self.session.scalars(select(Event).where(Event.id.in_(list(event_ids))))}

    def region_of(self, project_id: uuid.UUID) -> str | None:
        return self.session.scalar(select(Project.region).where(Project.id == project_id))

    def regions(self, project_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        ids = sorted(set(project_ids), key=str)
        return {
            pid: region
            for pid, region in self.session.execute(select(Project.id, Project.region).where(Project.id.in_(ids)))
        }

    # --- the outbox -------------------------------------------------------------------------------
    def undispatched(self, limit: int) -> list[OutboxMessage]:
        """The oldest outbox rows not fanned out yet, locked; rows another worker holds are skipped
        (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's writing transaction is already exclusive)."""
        return list(
            self.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.dispatched_at.is_(None))
                .order_by(OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )

    # --- deliveries -------------------------------------------------------------------------------
    def add_delivery(self, delivery: WebhookDelivery) -> None:
        self.session.add(delivery)

    def delivery(self, delivery_id: int, *, for_update: bool = False) -> WebhookDelivery | None:
        stmt = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def claim_due(self, now: datetime, *, lease_until: datetime, skip: Collection[int], limit: int) -> list[int]:
        """Claim up to `limit` pending deliveries due at `now` (enabled subscriptions, none of `skip`):
        their due time moves to `lease_until`, so no other worker takes them before the lease ends.

        Rows another worker is claiming are skipped (FOR UPDATE SKIP LOCKED on PostgreSQL; on SQLite
        the writing transaction begins IMMEDIATE, so claims are serialised)."""
        stmt = (
            select(WebhookDelivery.id)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                WebhookSubscription.enabled.is_(True),
            )
        )
        if skip:
            stmt = stmt.where(WebhookDelivery.id.not_in(skip))
        stmt = (
            stmt.order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
        ids = list(self.session.scalars(stmt))
        if ids:
            self.session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids))
                .values(next_attempt_at=lease_until)
                .execution_options(synchronize_session=False)
            )
        return ids

    def deliveries_page(
        self, subscription_id: int, *, status: str | None, offset: int, limit: int
    ) -> tuple[list[tuple[WebhookDelivery, Event]], int]:
        """One page of a subscription's deliveries with their events, newest first, and their total."""
        where = [WebhookDelivery.subscription_id == subscription_id]
        if status:
            where.append(WebhookDelivery.status == status)
        total = self.session.scalar(select(func.count()).select_from(WebhookDelivery).where(*where)) or 0
        rows = self.session.execute(
            select(WebhookDelivery, Event)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .where(*where)
            .order_by(WebhookDelivery.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        return [(d, e) for d, e in rows], total

    # --- attempts ---------------------------------------------------------------------------------
    def add_attempt(self, attempt: WebhookAttempt) -> None:
        self.session.add(attempt)

    def attempts(self, delivery_id: int) -> list[WebhookAttempt]:
        return list(
            self.session.scalars(
                select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.id)
            )
        )
