"""Change feed counter table (SQLAlchemy 2 typed): storage only; the API shapes are in app/feed/service.py."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Integer,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base


class FeedCounter(Base):
    """One row: the last feed position given. Taken as the last statement of a writing transaction,
    so positions are handed out in commit order (the row lock is held until commit)."""

    __tablename__ = "feed_counter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
