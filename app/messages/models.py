"""The project's message thread (group and Mouvement) and the consultants' notes.

A message writes a `message.posted` event (feed, webhooks, notifications carry it). A note writes no
project event at all: its audit is its own columns, and only the full database dump (admin-only)
carries it, so no path built on events (history, feed, webhooks, notifications) can show it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, UTCDateTime
from app.projects.models import _project_fk


class Message(Base):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))  # the actor label (user:…, key:…)
    author_name: Mapped[str] = mapped_column(String(200))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsultantNote(Base):
    __tablename__ = "consultant_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    author_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
