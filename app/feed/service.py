"""The change feed: every event of the projects a caller may read, in `feed_seq` order.

Positions are handed out at commit time, in commit order (app.uow), so a client that asks for the
events after the last position it saw never misses one that commits later with a smaller number,
and never sees one twice. The same item shape is the `data` of a webhook payload.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.authorization.rules import Principal
from app.projects.models import Event, Project
from app.projects.repository import ProjectRepository
from app.transitions.schemas import EventRead

CURSOR_PREFIX = "fs_"


class FeedItem(EventRead):
    """An event as the feed and webhook payloads show it: the project's event plus where it stands."""

    feed_seq: int
    project_id: uuid.UUID


class FeedPage(BaseModel):
    items: list[FeedItem]
    next_cursor: str
    has_more: bool


def encode_cursor(feed_seq: int) -> str:
    return f"{CURSOR_PREFIX}{feed_seq}"


def decode_cursor(cursor: str | None) -> int | None:
    """The position a cursor stands for; None when it is not one of ours (the caller answers 422)."""
    if cursor is None or cursor == "":
        return 0
    raw = cursor[len(CURSOR_PREFIX) :] if cursor.startswith(CURSOR_PREFIX) else cursor
    if not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


def read_feed(session: Session, *, visible_to: Principal, after: int, limit: int) -> FeedPage:
    rows = list(
        session.scalars(
            select(Event)
            .join(Project, Project.id == Event.project_id)
            .where(ProjectRepository.visible_to(visible_to), Event.feed_seq.is_not(None), Event.feed_seq > after)
            .order_by(Event.feed_seq)
            .limit(limit + 1)
        )
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1].feed_seq if rows else after
    return FeedPage(
        items=[FeedItem.model_validate(e) for e in rows], next_cursor=encode_cursor(last or 0), has_more=has_more
    )


def payload_of(event: Event) -> dict[str, Any]:
    """The JSON body of a webhook for this event (Standard Webhooks: type, timestamp, data)."""
    item = FeedItem.model_validate(event).model_dump(mode="json")
    return {"type": event.type, "timestamp": item["recorded_at"], "data": item}
