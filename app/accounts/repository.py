"""Repository: users, their role grants, web sessions, login throttles and API keys.

It never commits; the unit of work does."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.models import ApiKey, LoginThrottle, RoleGrant, User, WebSession
from app.projects.models import Project


class AccountRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- users and their grants -------------------------------------------------------------------
    def emails(self) -> set[str]:
        """Every user's login e-mail."""
        return set(self.session.scalars(select(User.email)))

    def add_user(self, user: User) -> None:
        self.session.add(user)

    def add_grant(self, grant: RoleGrant) -> None:
        self.session.add(grant)

    def email_taken(self, email: str) -> bool:
        return self.session.scalar(select(User.id).where(User.email == email)) is not None

    def user(self, user_id: int) -> User | None:
        """One user with their grants."""
        return self.session.scalars(
            select(User).where(User.id == user_id).options(selectinload(User.grants))
        ).one_or_none()

    def user_by_email(self, email: str) -> User | None:
        """The user who logs in with `email` (already normalised), with their grants."""
        return self.session.scalars(
            select(User).where(User.email == email).options(selectinload(User.grants))
        ).one_or_none()

    def active_user(self, user_id: int) -> User | None:
        """The user of a web session, with their grants; None once the account is deactivated."""
        return self.session.scalars(
            select(User).where(User.id == user_id, User.active.is_(True)).options(selectinload(User.grants))
        ).one_or_none()

    def users(self) -> list[User]:
        """Every user with their grants, by e-mail."""
        return list(self.session.scalars(select(User).options(selectinload(User.grants)).order_by(User.email)))

    def project_choices(self) -> list[tuple[uuid.UUID, str, str]]:
        """(id, name, region) of every project, by name: what a grant or a key can be restricted to."""
        rows = self.session.execute(select(Project.id, Project.name, Project.region).order_by(Project.name))
        return [(pid, name, region) for pid, name, region in rows]

    # --- web sessions -----------------------------------------------------------------------------
    def add_web_session(self, web_session: WebSession) -> None:
        self.session.add(web_session)

    def web_session(self, token_hash: str) -> WebSession | None:
        return self.session.scalars(select(WebSession).where(WebSession.token_hash == token_hash)).one_or_none()

    def end_web_session(self, session_id: int) -> None:
        self.session.execute(
            delete(WebSession).where(WebSession.id == session_id).execution_options(synchronize_session=False)
        )

    def end_web_sessions_of(self, user_id: int) -> None:
        """Close every session of a user (deactivated, or given a new password)."""
        self.session.execute(
            delete(WebSession).where(WebSession.user_id == user_id).execution_options(synchronize_session=False)
        )

    def purge_web_sessions(self, now: datetime) -> None:
        """Delete the sessions expired at `now`."""
        self.session.execute(
            delete(WebSession).where(WebSession.expires_at < now).execution_options(synchronize_session=False)
        )

    # --- login throttles --------------------------------------------------------------------------
    def throttles(self, keys: list[str]) -> dict[str, LoginThrottle]:
        """The failure counters of `keys` that exist, by key."""
        rows = self.session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).all()
        return {r.key: r for r in rows}

    def add_throttle(self, row: LoginThrottle) -> None:
        self.session.add(row)

    def forget_throttle(self, row: LoginThrottle) -> None:
        self.session.delete(row)

    # --- API keys ---------------------------------------------------------------------------------
    def add_api_key(self, row: ApiKey) -> None:
        self.session.add(row)

    def api_key(self, key_id: int) -> ApiKey | None:
        return self.session.get(ApiKey, key_id)

    def api_key_by_prefix(self, prefix: str) -> ApiKey | None:
        return self.session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).one_or_none()

    def api_keys(self) -> list[ApiKey]:
        """Every key, oldest first."""
        return list(self.session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))
