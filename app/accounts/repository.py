"""Repository: users, their role grants, web sessions, login throttles and API keys.

It never commits; the unit of work does."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, case, delete, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from app.accounts.models import ApiKey, LoginThrottle, RoleGrant, User, WebSession
from app.core.database import UTCDateTime
from app.projects.models import Project

API_KEYS = cast(Table, ApiKey.__table__)
# What authentication reads of a key, in SQLAlchemy Core (no ORM object built for every request).
KEY_BY_PREFIX = select(
    *(
        API_KEYS.c[name]
        for name in (
            "id",
            "prefix",
            "secret_hash",
            "name",
            "scopes",
            "consultant",
            "regions",
            "project_ids",
            "expires_at",
            "revoked_at",
            "last_used_at",
        )
    )
).where(API_KEYS.c.prefix == bindparam("prefix"))
# A key's last use, unless a later one is already recorded (two requests may both find it due).
TOUCH_KEY = (
    update(API_KEYS)
    .where(
        API_KEYS.c.id == bindparam("b_id"),
        or_(API_KEYS.c.last_used_at.is_(None), API_KEYS.c.last_used_at < bindparam("b_before")),
    )
    .values(last_used_at=bindparam("b_now"))
)


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
    # One row per key ("email:…", "ip:…"): `failures` counts the attempts taken in the current window
    # (failed, or still being checked), `blocked_until` is set by the attempt that takes the last one.
    def reserve_attempt(
        self, key: str, *, now: datetime, window: timedelta, block: timedelta, limit: int
    ) -> datetime | None:
        """Take one of the `limit` attempts `key` has per window, in one atomic statement, before any
        password is checked: an upsert whose update applies only while the key is not blocked, so N
        concurrent callers on SQLite or PostgreSQL get at most `limit` attempts between them (the row is
        locked by the statement; a waiting caller re-reads it). The attempt that takes the last one sets
        the block. Returns the window start the attempt counts in, or None when the key is blocked."""
        t = LoginThrottle.__table__
        at = literal(now, UTCDateTime())
        expired = t.c.window_start <= literal(now - window, UTCDateTime())
        taken = case((expired, 1), else_=t.c.failures + 1)
        blocked = literal(now + block, UTCDateTime())
        insert = postgresql.insert if self.session.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(LoginThrottle)
            .values(key=key, failures=1, window_start=now, blocked_until=now + block if limit <= 1 else None)
            .on_conflict_do_update(
                index_elements=[t.c.key],
                set_={
                    "failures": taken,
                    "window_start": case((expired, at), else_=t.c.window_start),
                    "blocked_until": case((taken >= limit, blocked), else_=None),
                },
                where=or_(t.c.blocked_until.is_(None), t.c.blocked_until <= at),
            )
            .returning(t.c.window_start)
        )
        start: datetime | None = self.session.execute(statement).scalar_one_or_none()
        return start

    def blocked_until(self, key: str) -> datetime | None:
        """When the block on `key` ends (None if it is not blocked)."""
        until: datetime | None = self.session.scalar(
            select(LoginThrottle.blocked_until).where(LoginThrottle.key == key)
        )
        return until

    def release_attempt(self, key: str, *, window_start: datetime, limit: int) -> None:
        """Give back an attempt taken in the window that started at `window_start` (a successful login
        from an address is not a failure of that address); the block goes if the count falls below
        `limit`."""
        t = LoginThrottle.__table__
        self.session.execute(
            update(LoginThrottle)
            .where(t.c.key == key, t.c.window_start == window_start, t.c.failures > 0)
            .values(
                failures=t.c.failures - 1,
                blocked_until=case((t.c.failures - 1 < limit, None), else_=t.c.blocked_until),
            )
            .execution_options(synchronize_session=False)
        )

    def forget_throttle(self, key: str) -> None:
        """Forget the failures of `key` (an account whose right password was given)."""
        self.session.execute(
            delete(LoginThrottle).where(LoginThrottle.key == key).execution_options(synchronize_session=False)
        )

    def purge_throttles(self, now: datetime, window: timedelta) -> None:
        """Delete the counters whose window and block are both over at `now`."""
        t = LoginThrottle.__table__
        self.session.execute(
            delete(LoginThrottle)
            .where(t.c.window_start <= now - window, or_(t.c.blocked_until.is_(None), t.c.blocked_until <= now))
            .execution_options(synchronize_session=False)
        )

    # --- API keys ---------------------------------------------------------------------------------
    def add_api_key(self, row: ApiKey) -> None:
        self.session.add(row)

    def api_key(self, key_id: int) -> ApiKey | None:
        return self.session.get(ApiKey, key_id)

    def api_key_by_prefix(self, prefix: str) -> ApiKey | None:
        return self.session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).one_or_none()

    def api_key_for_authentication(self, prefix: str) -> Row[Any] | None:
        """The columns authentication reads of the key with this prefix (KEY_BY_PREFIX), as a row."""
        return self.session.connection().execute(KEY_BY_PREFIX, {"prefix": prefix}).one_or_none()

    def touch_api_key(self, key_id: int, now: datetime, *, unless_since: datetime) -> None:
        """Record the key's last use at `now`, unless it is already recorded at `unless_since` or later."""
        self.session.connection().execute(TOUCH_KEY, {"b_id": key_id, "b_now": now, "b_before": unless_since})

    def api_keys(self) -> list[ApiKey]:
        """Every key, oldest first."""
        return list(self.session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))
