"""Repository: users, their role grants, web sessions, login throttles and API keys.

It never commits; the unit of work does."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User


class AccountRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def emails(self) -> set[str]:
        """Every user's login e-mail."""
        return set(self.session.scalars(select(User.email)))
