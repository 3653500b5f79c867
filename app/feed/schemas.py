"""API schemas of the change feed."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from app.transitions.schemas import EventRead


class FeedItem(EventRead):
    """An event as the feed and webhook payloads show it: the project's event plus where it stands."""

    feed_seq: int
    project_id: uuid.UUID


class FeedPage(BaseModel):
    items: list[FeedItem]
    next_cursor: str
    has_more: bool
