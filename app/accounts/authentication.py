"""Authentication: API keys (Bearer), session cookies for people, login with throttling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request
from sqlalchemy.exc import IntegrityError

from app.accounts.models import LoginThrottle, User, WebSession
from app.authorization.rules import ANONYMOUS, Principal, key_principal, user_principal
from app.core.clock import Clock
from app.core.errors import ConcurrentUpdate, Throttled, Unauthenticated
from app.core.security import new_token, same, sha256_hex, split_api_key, verify_password
from app.core.unit_of_work import UnitOfWork

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


def authenticate(request: Request, uow: UnitOfWork | None = None) -> Principal:
    """The caller, from a Bearer key or a session cookie; anonymous when neither is sent.

    `uow`: read in the caller's unit of work (check_access reuses it for the project's region, one
    connection per request). It may commit: a key's last use is recorded at most every KEY_TOUCH_EVERY,
    so it must not carry the request's Idempotency-Key hook (`unit_of_work(request, effect=False)`).
    Without it (the Idempotency-Key middleware, the bench server), a unit of work of its own."""
    if uow is None:
        from app.http.dependencies import unit_of_work

        with unit_of_work(request, effect=False) as own:
            return authenticate(request, own)
    clock: Clock = request.app.state.clock
    now = clock.now()
    key = _bearer(request)
    if key is not None:
        return _key_caller(uow, key, now)
    token = request.cookies.get(SESSION_COOKIE)
    if token and len(token) < 200:
        ws = uow.accounts.web_session(sha256_hex(token))
        if ws is not None and ws.expires_at > now:
            user = uow.accounts.active_user(ws.user_id)
            if user is not None:
                return user_principal(user, via_cookie=True, csrf_token=ws.csrf_token, session_id=ws.id)
    return ANONYMOUS


def _key_caller(uow: UnitOfWork, key: str, now: datetime) -> Principal:
    prefix = split_api_key(key)
    if prefix is None:
        raise Unauthenticated(BAD_KEY)
    row = uow.accounts.api_key_by_prefix(prefix)
    if (
        row is None
        or not same(row.secret_hash, sha256_hex(key))
        or row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= now)
    ):
        raise Unauthenticated(BAD_KEY)
    principal = key_principal(row)
    if row.last_used_at is None or now - row.last_used_at > KEY_TOUCH_EVERY:
        row.last_used_at = now  # one UPDATE of the row just read, then COMMIT
        uow.commit()
    return principal


# --- login, throttled ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    block: timedelta = timedelta(minutes=15)


def _check_blocked(rows: dict[str, LoginThrottle], now: datetime) -> None:
    until = max((r.blocked_until for r in rows.values() if r.blocked_until and r.blocked_until > now), default=None)
    if until is not None:
        raise Throttled(
            "Trop de tentatives de connexion : réessayez plus tard.", max(1, int((until - now).total_seconds()) + 1)
        )


def _record_failure(
    uow: UnitOfWork, rows: dict[str, LoginThrottle], keys: list[str], now: datetime, policy: ThrottlePolicy
) -> None:
    for k in keys:
        row = rows.get(k)
        if row is None:
            row = LoginThrottle(key=k, failures=0, window_start=now)
            uow.accounts.add_throttle(row)
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
    uow: UnitOfWork,
    email: str,
    password: str,
    *,
    client_ip: str,
    now: datetime,
    lifetime: timedelta,
    policy: ThrottlePolicy,
) -> LoginResult:
    """Check the password; never say which of e-mail or password was wrong. Commits, a failure too (its
    counters), so `uow` must not carry the request's Idempotency-Key hook."""
    email = email.strip().lower().replace("\x00", "\ufffd")  # the login form too: PostgreSQL refuses NUL
    keys = [f"email:{email}"[:300], f"ip:{client_ip}"[:300]]
    rows = uow.accounts.throttles(keys)
    _check_blocked(rows, now)
    user = uow.accounts.user_by_email(email)
    ok = verify_password(user.password_hash if user is not None else None, password)
    if not ok or user is None or not user.active:
        _record_failure(uow, rows, keys, now, policy)
        try:
            uow.commit()
        # A simultaneous failure created the same counter first (or a success deleted ours): the unit of
        # work has rolled back; count on the counters as they are now. (Its commit words an integrity
        # error whose text names "events" as a ConcurrentUpdate: an e-mail can contain that word.)
        except (IntegrityError, ConcurrentUpdate):
            _record_failure(uow, uow.accounts.throttles(keys), keys, now, policy)
            uow.commit()
        raise Unauthenticated("Adresse e-mail ou mot de passe incorrect.")
    for row in rows.values():
        if row.key.startswith("email:"):
            uow.accounts.forget_throttle(row)
    token, csrf = new_token(), new_token()
    expires = now + lifetime
    uow.accounts.add_web_session(
        WebSession(token_hash=sha256_hex(token), user_id=user.id, csrf_token=csrf, created_at=now, expires_at=expires)
    )
    uow.accounts.purge_web_sessions(now)
    user.last_login_at = now
    uow.commit()
    return LoginResult(user, token, csrf, expires)


def logout(uow: UnitOfWork, session_id: int | None) -> None:
    if session_id is not None:
        uow.accounts.end_web_session(session_id)
        uow.commit()
