"""Repository: what the deadline watch reads and writes on projects (`uow.deadlines`).

It never commits; the unit of work does."""

from __future__ import annotations

import uuid
from datetime import date
from typing import cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from app.projects.models import Project
from app.projects.repository import status_expression


class DeadlineWatchRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def candidates(self, today: date) -> list[uuid.UUID]:
        """Projects whose deadline status today (from the stored deadline index) differs from the one
        last announced, in id order."""
        current = func.coalesce(status_expression(today), "")
        return list(
            self.session.scalars(
                select(Project.id).where(current != func.coalesce(Project.deadline_status, "")).order_by(Project.id)
            )
        )

    def note_status(self, project_id: uuid.UUID, status: str | None) -> None:
        """Record the status as seen, without announcing it (no event; the version stays): one UPDATE
        of that column alone."""
        projects = cast(Table, Project.__table__)
        self.session.execute(update(projects).where(projects.c.id == project_id).values(deadline_status=status))
