"""ORM tables (SQLAlchemy 2 typed). Tables are storage only: API schemas live in app/schemas.py."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, _in
from app.projects.models import Project, _project_fk
from app.reference.cog import cog
from app.reference.communes import commune_outside
from workflow.vocabulary import (
    BuyerCategory,
    Category,
    ExpertiseConclusion,
    NeedStatus,
    Verdict,
)


class Stakeholder(Base):
    __tablename__ = "stakeholders"
    __table_args__ = (
        CheckConstraint(_in("category", Category), name="category"),
        CheckConstraint("is_amo_pilot = false OR category = 'mouvement'", name="pilot_is_mouvement"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    organisation: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    is_amo_pilot: Mapped[bool] = mapped_column(Boolean, default=False)
    project: Mapped[Project] = relationship(back_populates="stakeholders")


class Commune(Base):
    __tablename__ = "communes"
    __table_args__ = (UniqueConstraint("project_id", "insee_code", name="uq_communes_project_insee"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    insee_code: Mapped[str] = mapped_column(String(5))
    name: Mapped[str] = mapped_column(String(200))  # the official name (app.reference), recorded with the code
    # loaded with the row (the project is in the session already): a commune read after its unit of work
    # still knows its project's département (`outside_territory`)
    project: Mapped[Project] = relationship(back_populates="communes", lazy="joined")

    # What the official geographic code says of the code (app/reference); rows recorded before it
    # shipped may hold a code it does not know: `verify` reports them, territoire_defini refuses them.
    @property
    def official(self) -> bool:
        return cog().commune(self.insee_code) is not None

    @property
    def departement(self) -> str | None:
        commune = cog().commune(self.insee_code)
        return commune.departement if commune is not None else None

    @property
    def outside_territory(self) -> bool:
        """Outside the project's département (or, without one, its région): accepted, but shown."""
        return commune_outside(self.insee_code, self.project.region, self.project.departement)


class Qpv(Base):
    __tablename__ = "qpvs"
    __table_args__ = (UniqueConstraint("project_id", "code", name="uq_qpvs_project_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    code: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))


class Need(Base):
    __tablename__ = "needs"
    __table_args__ = (CheckConstraint(_in("status", NeedStatus), name="status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    label: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=NeedStatus.A_ETUDIER.value)


class Activity(Base):
    __tablename__ = "activities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    label: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)


class FeasibilityStudy(Base):
    __tablename__ = "feasibility_studies"
    __table_args__ = (CheckConstraint(f"conclusion IS NULL OR {_in('conclusion', Verdict)}", name="conclusion"),)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    annual_charges: Mapped[int | None] = mapped_column(BigInteger)
    market_income: Mapped[int | None] = mapped_column(BigInteger)
    non_market_income: Mapped[int | None] = mapped_column(BigInteger)
    premises_address: Mapped[str | None] = mapped_column(String(500))
    conclusion: Mapped[str | None] = mapped_column(String(16))
    conclusion_on: Mapped[date | None] = mapped_column(Date)
    summary: Mapped[str | None] = mapped_column(Text)


class Market(Base):
    __tablename__ = "markets"
    __table_args__ = (CheckConstraint(_in("buyer_category", BuyerCategory), name="buyer_category"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    label: Mapped[str] = mapped_column(String(300))
    buyer_name: Mapped[str] = mapped_column(String(200))
    buyer_category: Mapped[str] = mapped_column(String(32))
    annual_amount: Mapped[int | None] = mapped_column(BigInteger)


class SiteVisit(Base):
    __tablename__ = "site_visits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    regie_name: Mapped[str] = mapped_column(String(200))
    visited_on: Mapped[date] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)


class Approval(Base):
    __tablename__ = "approvals"
    __table_args__ = (CheckConstraint(_in("verdict", Verdict), name="verdict"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    stakeholder_id: Mapped[int] = mapped_column(ForeignKey("stakeholders.id", ondelete="RESTRICT"), index=True)
    verdict: Mapped[str] = mapped_column(String(16))
    given_on: Mapped[date] = mapped_column(Date)
    comment: Mapped[str | None] = mapped_column(Text)
    # Who gave it: None when someone recorded it for the stakeholder; `lien` or `compte` when the
    # stakeholder answered an opinion request themselves (app/opinions), through the link or an account.
    source: Mapped[str | None] = mapped_column(String(8))
    stakeholder: Mapped[Stakeholder] = relationship()


class Association(Base):
    __tablename__ = "associations"
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    declared_on: Mapped[date] = mapped_column(Date)
    rna: Mapped[str] = mapped_column(String(10))
    siret: Mapped[str | None] = mapped_column(String(14))
    address: Mapped[str | None] = mapped_column(String(500))


class BoardMember(Base):
    __tablename__ = "board_members"
    __table_args__ = (CheckConstraint(_in("college", Category), name="college"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    name: Mapped[str] = mapped_column(String(200))
    college: Mapped[str] = mapped_column(String(32))
    office: Mapped[str | None] = mapped_column(String(100))


class Hire(Base):
    __tablename__ = "hires"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200))
    start_on: Mapped[date] = mapped_column(Date)
    # Where the person lives, when recorded (INSEE code): the grid shows hires from the territory.
    home_insee_code: Mapped[str | None] = mapped_column(String(5))


class Expertise(Base):
    __tablename__ = "expertises"
    __table_args__ = (
        CheckConstraint(f"conclusion IS NULL OR {_in('conclusion', ExpertiseConclusion)}", name="conclusion"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    conducted_on: Mapped[date] = mapped_column(Date)
    experts: Mapped[list[str]] = mapped_column(JSON)
    conclusion: Mapped[str | None] = mapped_column(String(16))
    report: Mapped[str | None] = mapped_column(Text)
