"""The label's success conditions (DOMAIN.md, "The label's success conditions (grille)"): the project
group's self-assessment, the expertise's assessment, and the reservations of an expertise.

The rows hang off the project like evidence rows (app/evidence/registry.py registers their kinds)."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, _in
from app.evidence.models import Expertise
from app.projects.models import _project_fk
from workflow.vocabulary import Condition, ExpertLevel, SelfLevel


class SelfAssessment(Base):
    """One reading of one condition by the project group; later rows supersede earlier ones (by
    `assessed_on`, then id), and every row stays: the history of the group's own view."""

    __tablename__ = "self_assessments"
    __table_args__ = (
        CheckConstraint(_in("condition", Condition), name="condition"),
        CheckConstraint(_in("level", SelfLevel), name="level"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    condition: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    assessed_on: Mapped[date] = mapped_column(Date)


class ExpertiseAssessment(Base):
    """The on-site expertise's rating of one condition (at most one per expertise and condition)."""

    __tablename__ = "expertise_assessments"
    __table_args__ = (
        CheckConstraint(_in("condition", Condition), name="condition"),
        CheckConstraint(_in("level", ExpertLevel), name="level"),
        UniqueConstraint("expertise_id", "condition", name="uq_expertise_assessments_expertise_condition"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    expertise_id: Mapped[int] = mapped_column(ForeignKey("expertises.id", ondelete="RESTRICT"), index=True)
    condition: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    expertise: Mapped[Expertise] = relationship(viewonly=True)


class Reservation(Base):
    """What an expertise concluding with reservations (or unfavourably) asks to change, tied to one
    condition. The group reports what it did; only a Mouvement consultant marks it lifted."""

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint(_in("condition", Condition), name="condition"),
        CheckConstraint("(lifted_on IS NULL) = (lifted_how IS NULL)", name="lifted_with_how"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    expertise_id: Mapped[int] = mapped_column(ForeignKey("expertises.id", ondelete="RESTRICT"), index=True)
    condition: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    recorded_on: Mapped[date] = mapped_column(Date)
    response: Mapped[str | None] = mapped_column(Text)  # what the group did (porteur)
    responded_on: Mapped[date | None] = mapped_column(Date)
    lifted_on: Mapped[date | None] = mapped_column(Date)  # lifted by a consultant: when,
    lifted_how: Mapped[str | None] = mapped_column(Text)  # how,
    lifted_by: Mapped[str | None] = mapped_column(String(200))  # and who (the actor's name, set by the server)
    expertise: Mapped[Expertise] = relationship(viewonly=True)
