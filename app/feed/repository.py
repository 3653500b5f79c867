"""Repository: The change feed: events in commit order. It never commits; the unit of work does.

(Feed positions are handed out by the unit of work itself, as the last statements of a writing
transaction: see UnitOfWork._assign_feed_positions.)"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.authorization.rules import Principal
from app.projects.models import Event, Project
from app.projects.repository import ProjectRepository


class FeedRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def after(self, position: int, *, visible_to: Principal, limit: int) -> list[Event]:
        """Up to `limit` events past feed position `position`, in feed order, of the projects `visible_to`
        may read."""
        return list(
            self.session.scalars(
                select(Event)
                .join(Project, Project.id == Event.project_id)
                .where(ProjectRepository.visible_to(visible_to), Event.feed_seq.is_not(None), Event.feed_seq > position)
                .order_by(Event.feed_seq)
                .limit(limit)
            )
        )
