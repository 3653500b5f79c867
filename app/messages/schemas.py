"""API schemas of the project's messages and the consultants' notes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from app.core.schemas import Body, Id, Read, Text


class MessageIn(Body):
    body: Text = Field(min_length=1, description="The message, in French (5,000 characters at most).")
    document_id: Id | None = Field(None, description="A document of the project attached to the message.")


class MessageOut(Read):
    id: int
    project_id: uuid.UUID
    body: str
    author: str
    author_name: str
    document_id: int | None
    created_at: datetime


class NoteIn(Body):
    body: Text = Field(min_length=1, description="The note (seen by Mouvement consultants and admins only).")


class NoteOut(Read):
    id: int
    project_id: uuid.UUID
    body: str
    author: str
    author_name: str
    created_at: datetime
