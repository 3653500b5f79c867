"""The change feed: every event of the projects a caller may read, in `feed_seq` order.

Positions are handed out at commit time, in commit order (app.core.unit_of_work), so a client that asks for the
events after the last position it saw never misses one that commits later with a smaller number,
and never sees one twice. The same item shape is the `data` of a webhook payload.
"""

from __future__ import annotations

from typing import Any

from app.authorization.rules import Principal
from app.core.inputs import ascii_int
from app.core.unit_of_work import UnitOfWork
from app.feed.schemas import FeedItem, FeedPage
from app.projects.models import Event

CURSOR_PREFIX = "fs_"


def encode_cursor(feed_seq: int) -> str:
    return f"{CURSOR_PREFIX}{feed_seq}"


def decode_cursor(cursor: str | None) -> int | None:
    """The position a cursor stands for; None when it is not one of ours (the caller answers 422)."""
    if cursor is None or cursor == "":
        return 0
    raw = cursor[len(CURSOR_PREFIX) :] if cursor.startswith(CURSOR_PREFIX) else cursor
    return ascii_int(raw, max_digits=18)  # ASCII digits only: `²` or Arabic-Indic digits are not positions


def read_feed(uow: UnitOfWork, *, visible_to: Principal, after: int, limit: int) -> FeedPage:
    rows = uow.feed.after(after, visible_to=visible_to, limit=limit + 1)  # one more: is there a next page?
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
