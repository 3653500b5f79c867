"""Repository: users, their role grants, web sessions, login throttles and API keys.

It never commits; the unit of work does."""

from __future__ import annotations

from sqlalchemy.orm import Session


class AccountRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
