"""API schemas of calendar subscriptions."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.core.schemas import Body


class CalendarCreate(Body):
    project_id: uuid.UUID | None = Field(
        None,
        description="One project you may read; omit for your whole "
        "portfolio (what you may read when the feed is fetched).",
    )


class CalendarRead(BaseModel):
    id: int
    prefix: str = Field(..., description="Visible part of the token, to recognise it.")
    project_id: uuid.UUID | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class CalendarCreated(CalendarRead):
    token: str = Field(..., description="The token itself: shown only in this response, never again.")
    url: str = Field(..., description="The address to subscribe to (the token is its only credential).")
