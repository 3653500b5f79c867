"""Opinion requests (avis sollicités) and their answers.

A request asks one stakeholder of the project for a formal opinion by a due date. The stakeholder
answers through a personal link (only the SHA-256 of its token is stored) or from their account; the
answer writes an approval (app.evidence) marked as given by the stakeholder. One answer per request
(UNIQUE request_id): two answers sent at once, one wins."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, UTCDateTime
from app.projects.models import _project_fk

ANSWERS = ("favorable", "reserve", "defavorable")


class OpinionRequest(Base):
    __tablename__ = "opinion_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    # SET NULL: a stakeholder removed from the group (one who never answered) leaves the request in history
    stakeholder_id: Mapped[int | None] = mapped_column(ForeignKey("stakeholders.id", ondelete="SET NULL"), index=True)
    stakeholder_name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(254))
    due_on: Mapped[date] = mapped_column(Date)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_count: Mapped[int] = mapped_column(Integer, default=1)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    answer: Mapped[OpinionAnswer | None] = relationship(back_populates="request", lazy="selectin", uselist=False)


class OpinionAnswer(Base):
    __tablename__ = "opinion_answers"
    __table_args__ = (
        CheckConstraint("verdict IN ('favorable', 'reserve', 'defavorable')", name="verdict"),
        CheckConstraint("via IN ('lien', 'compte')", name="via"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("opinion_requests.id", ondelete="CASCADE"), unique=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    verdict: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_on: Mapped[date] = mapped_column(Date)
    via: Mapped[str] = mapped_column(String(8))
    answered_by: Mapped[str] = mapped_column(String(200))
    request: Mapped[OpinionRequest] = relationship(back_populates="answer")
