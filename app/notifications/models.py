"""In-app notifications, produced once per occurrence (UNIQUE user + occurrence key), and the scan's
watermark over the events."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, UTCDateTime


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "occurrence", name="uq_notifications_user_occurrence"),
        Index("ix_notifications_user_read", "user_id", "read_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    occurrence: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(String(500))
    href: Mapped[str] = mapped_column(String(300))
    due_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # when it went out by e-mail (immediately or in a digest); None: not mailed (yet, or never)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ScanWatermark(Base):
    """The last event the notification scan has read (one row, name `events`)."""

    __tablename__ = "notification_watermarks"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
