"""Repository: Calendar tokens. It never commits; the unit of work does."""

from __future__ import annotations

from sqlalchemy.orm import Session


class CalendarRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
