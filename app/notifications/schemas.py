"""API schemas of a user's notifications."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from app.core.schemas import Read


class NotificationOut(Read):
    id: int
    kind: str
    project_id: uuid.UUID | None
    text: str
    href: str
    due_on: date | None
    created_at: datetime
    read_at: datetime | None


class MarkedRead(Read):
    marked: int
