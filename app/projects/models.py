"""ORM tables (SQLAlchemy 2 typed). Tables are storage only: API schemas live in app/projects/schemas.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.database import Base, UTCDateTime, _in, by_bytes, desc_nulls_last, utcnow

if TYPE_CHECKING:
    from app.assessments.models import ExpertiseAssessment, Reservation, SelfAssessment
    from app.evidence.models import (
        Activity,
        Approval,
        Association,
        BoardMember,
        Commune,
        Expertise,
        FeasibilityStudy,
        Hire,
        Market,
        Need,
        Qpv,
        SiteVisit,
        Stakeholder,
    )

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.vocabulary import (
    Conventionnement,
    Initiator,
    Kind,
    State,
)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint(_in("state", State), name="state"),
        CheckConstraint(_in("kind", Kind), name="kind"),
        CheckConstraint(_in("conventionnement", Conventionnement), name="conventionnement"),
        CheckConstraint(f"initiator IS NULL OR {_in('initiator', Initiator)}", name="initiator"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_projects_state_step_due_on", "state", "step_due_on"),
        Index("ix_projects_step_due_on_horizon_on", "step_due_on", "horizon_on"),  # « Mes échéances » (0013)
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    initiator: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(100), index=True)
    departement: Mapped[str | None] = mapped_column(String(3), index=True)  # q= names a département (0014)
    conventionnement: Mapped[str] = mapped_column(String(16), default=Conventionnement.AUCUN.value)
    lead_name: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)

    state: Mapped[str] = mapped_column(String(32), index=True)
    suspended_since: Mapped[date | None] = mapped_column(Date)
    started_on: Mapped[date] = mapped_column(Date)
    state_entered_on: Mapped[date] = mapped_column(Date)
    last_transition_on: Mapped[date] = mapped_column(Date)
    labelled_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    closed_reason: Mapped[str | None] = mapped_column(Text)

    # The project's own plan (copied from the settings at creation, changed by a re-plan).
    step_months: Mapped[dict[str, int]] = mapped_column(JSON)
    horizon_months: Mapped[int] = mapped_column(Integer)
    # Deadline index (workflow.deadlines.DeadlineIndex), kept in step with every change.
    horizon_on: Mapped[date] = mapped_column(Date, index=True)
    step_due_on: Mapped[date | None] = mapped_column(Date)
    projected_label_on: Mapped[date | None] = mapped_column(Date)

    # What the portfolio's search reads, folded (app.projects.repository.search_text_of), kept current
    # by the write path; not part of the project's events (derived, like the deadline index).
    search_text: Mapped[str | None] = mapped_column(Text)

    # The deadline status last announced by `regieflow deadlines scan` (an event each time it changes).
    deadline_status: Mapped[str | None] = mapped_column(String(16))

    # The portfolio's sort and status keys (issue 17, app.projects.sort_keys), stored so that the list's
    # filters and sorts read an index instead of computing them on every row:
    # - sort_name (the folded name: search_text's first line) and sort_region (the région's rank in
    #   French order), kept current by the write path with search_text;
    # - sort_status (0 late, 1 at risk, 2 on time, 3 closed) and sort_status_desc (the order of the
    #   status sort descending: 0 on time, 1 at risk, 2 late, 3 closed: closed last either way), and the
    #   dates as the pages show them (a paused project's dates ahead move one day per paused day), all
    #   as of one day: the write path computes them for its day, the deadline watch recomputes every
    #   project's each day and then records that day in portfolio_keys.as_of. The list reads them only
    #   when as_of is today; otherwise it computes them per row, as before (correct, slower).
    sort_name: Mapped[str | None] = mapped_column(String(400))
    sort_region: Mapped[int | None] = mapped_column(SmallInteger)
    sort_status: Mapped[int | None] = mapped_column(SmallInteger)
    sort_status_desc: Mapped[int | None] = mapped_column(SmallInteger)
    shown_step_due_on: Mapped[date | None] = mapped_column(Date)
    shown_horizon_on: Mapped[date | None] = mapped_column(Date)

    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # index: ix_projects_updated_at_id

    stakeholders: Mapped[list[Stakeholder]] = relationship(back_populates="project", order_by="Stakeholder.id")
    communes: Mapped[list[Commune]] = relationship(order_by="Commune.id", back_populates="project")
    qpvs: Mapped[list[Qpv]] = relationship(order_by="Qpv.id")
    needs: Mapped[list[Need]] = relationship(order_by="Need.id")
    activities: Mapped[list[Activity]] = relationship(order_by="Activity.id")
    feasibility: Mapped[FeasibilityStudy | None] = relationship()
    markets: Mapped[list[Market]] = relationship(order_by="Market.id")
    site_visits: Mapped[list[SiteVisit]] = relationship(order_by="SiteVisit.id")
    approvals: Mapped[list[Approval]] = relationship(order_by="Approval.id")
    association: Mapped[Association | None] = relationship()
    board_members: Mapped[list[BoardMember]] = relationship(order_by="BoardMember.id")
    hires: Mapped[list[Hire]] = relationship(order_by="Hire.id")
    expertises: Mapped[list[Expertise]] = relationship(order_by="Expertise.id")
    # the label's success conditions (app/assessments)
    self_assessments: Mapped[list[SelfAssessment]] = relationship(order_by="SelfAssessment.id")
    expertise_assessments: Mapped[list[ExpertiseAssessment]] = relationship(order_by="ExpertiseAssessment.id")
    reservations: Mapped[list[Reservation]] = relationship(order_by="Reservation.id")
    suspensions: Mapped[list[SuspensionRecord]] = relationship(order_by="SuspensionRecord.id")

    # Optimistic concurrency: every UPDATE says "WHERE version = <the one we read>"; services set the
    # new version themselves so that it equals the seq of the event written with it.
    # Not a ClassVar (RUF012): SQLAlchemy's typing declares __mapper_args__ on instances, and mypy refuses the override.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}  # noqa: RUF012


# The portfolio's sorts, each read in index order (0014; app.projects.sort_keys): the stored keys as of
# portfolio_keys.as_of, then the project's id, so that a page of 50 stops after 50 rows. On PostgreSQL each
# also carries the filters' columns (INCLUDE): a filtered page reads the index alone, in order, however
# the projects it keeps are spread along it (no table row is read until the page's 50).
_name = by_bytes(Project.sort_name)
FILTERED = ["state", "region", "kind", "sort_status"]
SORT_INDEXES: dict[str, tuple[Any, ...]] = {
    "ix_projects_sort_status": (Project.sort_status, Project.shown_step_due_on, _name, Project.id),
    "ix_projects_sort_status_desc": (
        Project.sort_status_desc,
        desc_nulls_last(Project.shown_step_due_on),
        _name,
        Project.id,
    ),
    "ix_projects_shown_step_due_on": (Project.shown_step_due_on, Project.id),
    "ix_projects_shown_step_due_on_desc": (desc_nulls_last(Project.shown_step_due_on), Project.id),
    "ix_projects_shown_horizon_on": (Project.shown_horizon_on, Project.id),
    "ix_projects_sort_name": (_name, Project.id),
    "ix_projects_sort_region": (Project.sort_region, Project.region, _name, Project.id),
    "ix_projects_started_on": (Project.started_on, Project.id),
    "ix_projects_created_at": (Project.created_at, Project.id),
    "ix_projects_updated_at_id": (Project.updated_at, Project.id),
}
for _ix, _columns in SORT_INDEXES.items():
    Index(_ix, *_columns, postgresql_include=FILTERED)
Index("ix_projects_state_sort_status", Project.state, Project.sort_status)  # the counts per step and status
# and on PostgreSQL only, `ix_projects_search_text_trgm` (migration 0014): trigrams of search_text for `q=`
# (LIKE '%…%'), where the pg_trgm extension may be created; not declared here (SQLite has no such index).


class PortfolioKeys(Base):
    """At most one row: the day for which every project's stored sort and status keys were computed
    (app.projects.sort_keys.refresh, which creates it)."""

    __tablename__ = "portfolio_keys"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    as_of: Mapped[date | None] = mapped_column(Date)


def _project_fk() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)


class SuspensionRecord(Base):
    __tablename__ = "suspensions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    resume_reason: Mapped[str | None] = mapped_column(Text)


class Replan(Base):
    __tablename__ = "replans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    step_months: Mapped[dict[str, int]] = mapped_column(JSON)
    horizon_months: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    """Append-only log: one row per change of a project; `seq` equals the project's version after it."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("project_id", "seq", name="uq_events_project_seq"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    trigger: Mapped[str | None] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    effective_on: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Tamper evidence: SHA-256 over this event's content and the previous event's hash (same project).
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    # Position in the change feed, given at commit time in commit order (see app.uow); never reused.
    feed_seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)


class OutboxMessage(Base):
    """Written in the same transaction as its event; a delivery worker sends it later."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="RESTRICT"), unique=True)
    topic: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Lets a new event and its message be inserted in one flush (the event's id is known by then).
    event: Mapped[Event] = relationship(lazy="raise")
