"""Repository: Idempotency-Key records. It never commits; the unit of work does."""

from __future__ import annotations

from sqlalchemy.orm import Session


class IdempotencyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
