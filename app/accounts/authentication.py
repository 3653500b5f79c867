"""Authentication: API keys (Bearer), session cookies for people, login with throttling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.accounts.models import ApiKey, LoginThrottle, User, WebSession
from app.authorization.rules import ANONYMOUS, Principal, key_principal, user_principal
from app.core.errors import Throttled, Unauthenticated
from app.core.security import new_token, same, sha256_hex, split_api_key, verify_password

SESSION_COOKIE = "regieflow_session"


KEY_TOUCH_EVERY = timedelta(seconds=60)


BAD_KEY = "Clé d'API invalide, expirée ou révoquée."


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("En-tête Authorization attendu : « Bearer <clé d'API> ».")
    return value.strip()


def authenticate(request: Request, session: Session | None = None) -> Principal:
    """The caller, from a Bearer key or a session cookie; anonymous when neither is sent.

    `session`: read with the caller's session (check_access reuses it for the project's region, one
    connection per request); without it, a short-lived one is opened."""
    if session is None:
        with request.app.state.session_factory() as own:
            return authenticate(request, own)
    now = request.app.state.clock.now()
    key = _bearer(request)
    if key is not None:
        prefix = split_api_key(key)
        if prefix is None:
            raise Unauthenticated(BAD_KEY)
        row = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).one_or_none()
        if (
            row is None
            or not same(row.secret_hash, sha256_hex(key))
            or row.revoked_at is not None
            or (row.expires_at is not None and row.expires_at <= now)
        ):
            raise Unauthenticated(BAD_KEY)
        principal = key_principal(row)
        if row.last_used_at is None or now - row.last_used_at > KEY_TOUCH_EVERY:
            row.last_used_at = now
            session.commit()
        return principal
    token = request.cookies.get(SESSION_COOKIE)
    if token and len(token) < 200:
        ws = session.scalars(select(WebSession).where(WebSession.token_hash == sha256_hex(token))).one_or_none()
        if ws is not None and ws.expires_at > now:
            user = session.scalars(
                select(User).where(User.id == ws.user_id, User.active.is_(True)).options(selectinload(User.grants))
            ).one_or_none()
            if user is not None:
                return user_principal(user, via_cookie=True, csrf_token=ws.csrf_token, session_id=ws.id)
    return ANONYMOUS


# --- login, throttled ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    block: timedelta = timedelta(minutes=15)


def _throttle_rows(session: Session, keys: list[str]) -> dict[str, LoginThrottle]:
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).all()
    return {r.key: r for r in rows}


def _check_blocked(rows: dict[str, LoginThrottle], now: datetime) -> None:
    until = max((r.blocked_until for r in rows.values() if r.blocked_until and r.blocked_until > now), default=None)
    if until is not None:
        raise Throttled(
            "Trop de tentatives de connexion : réessayez plus tard.", max(1, int((until - now).total_seconds()) + 1)
        )


def _record_failure(
    session: Session, rows: dict[str, LoginThrottle], keys: list[str], now: datetime, policy: ThrottlePolicy
) -> None:
    for k in keys:
        row = rows.get(k)
        if row is None:
            row = LoginThrottle(key=k, failures=0, window_start=now)
            session.add(row)
        if now - row.window_start > policy.window:
            row.failures, row.window_start, row.blocked_until = 0, now, None
        row.failures += 1
        if row.failures >= policy.max_failures:
            row.blocked_until = now + policy.block


@dataclass(frozen=True)
class LoginResult:
    user: User
    token: str
    csrf_token: str
    expires_at: datetime


def login(
    session: Session,
    email: str,
    password: str,
    *,
    client_ip: str,
    now: datetime,
    lifetime: timedelta,
    policy: ThrottlePolicy,
) -> LoginResult:
    """Check the password; never say which of e-mail or password was wrong. Commits."""
    email = email.strip().lower().replace("\x00", "\ufffd")  # the login form too: PostgreSQL refuses NUL
    keys = [f"email:{email}"[:300], f"ip:{client_ip}"[:300]]
    rows = _throttle_rows(session, keys)
    _check_blocked(rows, now)
    user = session.scalars(select(User).where(User.email == email).options(selectinload(User.grants))).one_or_none()
    ok = verify_password(user.password_hash if user is not None else None, password)
    if not ok or user is None or not user.active:
        _record_failure(session, rows, keys, now, policy)
        try:
            session.commit()
        except IntegrityError:  # a simultaneous failure created the same counter first: count on it
            session.rollback()
            _record_failure(session, _throttle_rows(session, keys), keys, now, policy)
            session.commit()
        raise Unauthenticated("Adresse e-mail ou mot de passe incorrect.")
    for row in rows.values():
        if row.key.startswith("email:"):
            session.delete(row)
    token, csrf = new_token(), new_token()
    expires = now + lifetime
    session.add(
        WebSession(token_hash=sha256_hex(token), user_id=user.id, csrf_token=csrf, created_at=now, expires_at=expires)
    )
    session.execute(WebSession.__table__.delete().where(WebSession.expires_at < now))
    user.last_login_at = now
    session.commit()
    return LoginResult(user, token, csrf, expires)


def logout(session: Session, session_id: int | None) -> None:
    if session_id is not None:
        session.execute(WebSession.__table__.delete().where(WebSession.id == session_id))
        session.commit()
