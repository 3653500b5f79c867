"""Repository: webhook subscriptions, their secrets, deliveries and attempts.

It never commits; the unit of work does."""

from __future__ import annotations

from sqlalchemy.orm import Session


class WebhookRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
