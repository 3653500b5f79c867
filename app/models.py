"""ORM tables (SQLAlchemy 2 typed). Tables are storage only: API schemas live in app/schemas.py."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from workflow.vocabulary import (
    BuyerCategory,
    Category,
    Conventionnement,
    ExpertiseConclusion,
    Initiator,
    Kind,
    NeedStatus,
    State,
    Verdict,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: pass an aware datetime")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _in(column: str, values: Any) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint(_in("state", State), name="state"),
        CheckConstraint(_in("kind", Kind), name="kind"),
        CheckConstraint(_in("conventionnement", Conventionnement), name="conventionnement"),
        CheckConstraint(f"initiator IS NULL OR {_in('initiator', Initiator)}", name="initiator"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_projects_state_step_due_on", "state", "step_due_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    initiator: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(100), index=True)
    departement: Mapped[str | None] = mapped_column(String(3))
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

    # The deadline status last announced by `regieflow deadlines scan` (an event each time it changes).
    deadline_status: Mapped[str | None] = mapped_column(String(16))

    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    stakeholders: Mapped[list[Stakeholder]] = relationship(back_populates="project", order_by="Stakeholder.id")
    communes: Mapped[list[Commune]] = relationship(order_by="Commune.id")
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
    suspensions: Mapped[list[SuspensionRecord]] = relationship(order_by="SuspensionRecord.id")

    # Optimistic concurrency: every UPDATE says "WHERE version = <the one we read>"; services set the
    # new version themselves so that it equals the seq of the event written with it.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


def _project_fk() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)


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
    name: Mapped[str] = mapped_column(String(200))


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


# --- access control (users, grants, sessions, API keys, login throttling) -------------------------
class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    grants: Mapped[list[RoleGrant]] = relationship(order_by="RoleGrant.id", cascade="all, delete-orphan")


class RoleGrant(Base):
    """One role of a user: `admin` (global), `consultant` (all projects, or one region), `observateur`
    (a region or a project) or `porteur` (a project)."""

    __tablename__ = "role_grants"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'consultant', 'observateur', 'porteur')", name="role"),
        CheckConstraint("role != 'porteur' OR project_id IS NOT NULL", name="porteur_has_project"),
        CheckConstraint("role != 'admin' OR (project_id IS NULL AND region IS NULL)", name="admin_is_global"),
        CheckConstraint("project_id IS NULL OR region IS NULL", name="one_scope"),
        UniqueConstraint("user_id", "role", "project_id", "region", name="uq_role_grants_user_scope"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    project_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    region: Mapped[str | None] = mapped_column(String(100))


class WebSession(Base):
    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ApiKey(Base):
    """A partner system's key. Only the SHA-256 of the secret is stored; `prefix` is shown so that a
    leaked key can be recognised."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    consultant: Mapped[bool] = mapped_column(Boolean, default=False)
    regions: Mapped[list[str] | None] = mapped_column(JSON)
    project_ids: Mapped[list[str] | None] = mapped_column(JSON)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Failed logins per e-mail and per client address, to slow down password guessing."""

    __tablename__ = "login_throttles"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- partner systems: change feed, webhooks, idempotency, calendars ------------------------------
class FeedCounter(Base):
    """One row: the last feed position given. Taken as the last statement of a writing transaction,
    so positions are handed out in commit order (the row lock is held until commit)."""

    __tablename__ = "feed_counter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)  # principal label: "key:rf_…" or "user:…"
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSON)  # empty: every type
    description: Mapped[str | None] = mapped_column(String(300))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    secrets: Mapped[list[WebhookSecret]] = relationship(order_by="WebhookSecret.id", cascade="all, delete-orphan")


class WebhookSecret(Base):
    """Signing secrets (`whsec_…`). During a rotation the previous one stays valid until `expires_at`
    and deliveries are signed with both."""

    __tablename__ = "webhook_secrets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
                                                 index=True)
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_subscription_event"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
                                                 index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="RESTRICT"))
    message_id: Mapped[str] = mapped_column(String(64), unique=True)  # the `webhook-id` header
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(String(500))


class IdempotencyRecord(Base):
    """A write (POST, PUT, PATCH, DELETE) sent with an Idempotency-Key: its caller, key, request fingerprint
    and stored answer."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("caller", "key", name="uq_idempotency_keys_caller_key"),
        CheckConstraint("state IN ('in_progress', 'committed', 'done')", name="state"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    caller: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    body_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class CalendarToken(Base):
    """A revocable token in an iCalendar feed URL: one project, or the owner's whole portfolio."""

    __tablename__ = "calendar_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(200), index=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
