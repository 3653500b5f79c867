"""The e-mail outbox (written in the transaction that causes the mail; sent by the worker) and each
user's mail preference."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, UTCDateTime

STATUSES = ("pending", "sending", "sent", "failed")
MODES = ("immediat", "quotidien", "aucun")


class OutgoingMail(Base):
    __tablename__ = "mail_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    # Stable across attempts: a receiver that got a message twice sees the same Message-ID.
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    # At most one mail per occurrence (a reminder, a digest of a day): re-running produces nothing new.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    unsubscribe: Mapped[bool] = mapped_column(Boolean, default=False)  # notification mail: List-Unsubscribe
    secret: Mapped[bool] = mapped_column(Boolean, default=False)  # carries a link's token: bodies wiped once sent
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailPreference(Base):
    """How a user gets notification mail: `immediat` (default), `quotidien` (one digest a day), `aucun`."""

    __tablename__ = "mail_preferences"
    __table_args__ = (CheckConstraint("mode IN ('immediat', 'quotidien', 'aucun')", name="mode"),)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    digest_sent_on: Mapped[date | None] = mapped_column(Date)
