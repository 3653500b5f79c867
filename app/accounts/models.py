"""ORM tables (SQLAlchemy 2 typed). Tables are storage only: API schemas live in app/schemas.py."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, UTCDateTime, utcnow


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
