"""Repository: calendar tokens and the projects a feed shows (their owners: AccountRepository).

It never commits; the unit of work does."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.authorization.rules import Principal
from app.calendars.models import CalendarToken
from app.projects.models import Project
from app.projects.repository import ProjectRepository


class CalendarRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- tokens -----------------------------------------------------------------------------------
    def add(self, token: CalendarToken) -> None:
        self.session.add(token)

    def get(self, token_id: int) -> CalendarToken | None:
        return self.session.get(CalendarToken, token_id)

    def by_hash(self, token_hash: str) -> CalendarToken | None:
        return self.session.scalars(select(CalendarToken).where(CalendarToken.token_hash == token_hash)).one_or_none()

    def of_owner(self, owner: str) -> list[CalendarToken]:
        """One owner's tokens (a principal label), oldest first, revoked ones included."""
        return list(
            self.session.scalars(
                select(CalendarToken)
                .where(CalendarToken.owner == owner)
                .order_by(CalendarToken.created_at, CalendarToken.id)
            )
        )

    # --- projects ---------------------------------------------------------------------------------
    def region_of(self, project_id: uuid.UUID) -> str | None:
        return self.session.scalar(select(Project.region).where(Project.id == project_id))

    def feed_projects(self, *, project_id: uuid.UUID | None, visible_to: Principal) -> list[Project]:
        """With their suspensions, by name: the one project `project_id` (its reading is checked by the
        caller), or every project `visible_to` may read."""
        stmt = select(Project).options(selectinload(Project.suspensions)).order_by(Project.name, Project.id)
        if project_id is not None:
            stmt = stmt.where(Project.id == project_id)
        else:
            stmt = stmt.where(ProjectRepository.visible_to(visible_to))
        return list(self.session.scalars(stmt))
